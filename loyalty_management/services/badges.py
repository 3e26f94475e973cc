"""Badges: defining them, awarding them once, and evaluating who has earned one.

- A customer holds a badge at most once: the unique constraint on (customer, badge) decides,
  so duplicate and concurrent deliveries of the same evaluation award it once and notify once.
- Automatic badges (paid orders, lifetime spend, different stores, a tier reached) are
  evaluated when an order becomes paid and when an account's tier changes (both through the
  outbox, see `marketing/signals.py` and `ledger.account_tier_evaluate`), and by a daily sweep.
  The facts are loaded once per evaluation, whatever the number of badges.
- Manual badges are awarded by the rule action `AWARD_BADGE` or by staff.
- A badge is never taken back: a refund lowers the facts but not what was awarded.
"""

import logging
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q

from brands.models import Brand
from core.errors import ApplicationError, ConflictError, NotFoundError
from customers.models import Customer, CustomerBrand
from loyalty_management.models import BadgeDefinition, CustomerBadge, LoyaltyAccount, Tier
from loyalty_management.selectors import PAID_STATUSES, BadgeFacts, badge_facts, badge_qualifies
from notifications.services import NotificationService
from orders.models import Order

logger = logging.getLogger(__name__)

AWARDED_EVENT = "loyalty.badge.awarded"
EVALUATE_TASK = "loyalty_management.evaluate_customer_badges"
SWEEP_BATCH = 500
Kind = BadgeDefinition.Kind
Source = CustomerBadge.Source
THRESHOLD_FIELDS = {
    Kind.ORDER_COUNT: "order_count",
    Kind.STORE_COUNT: "store_count",
    Kind.LIFETIME_SPEND: "spend_amount",
    Kind.TIER: "tier",
}
THRESHOLD_MESSAGES = {
    "order_count": "Give the number of paid orders.",
    "store_count": "Give the number of different stores.",
    "spend_amount": "Give the amount to spend.",
    "tier": "Pick the tier to reach.",
}


def _invalid(message: str, field: str) -> ApplicationError:
    return ApplicationError(message, code="invalid_badge", fields={field: [message]})


# --- Definitions --------------------------------------------------------------------------------


def badge_definition_check(*, brand: Brand, kind: str, values: dict) -> dict:
    """The threshold fields of a badge of `kind`, cleaned: the one its kind needs is given
    (above 0; a tier of the brand's program), the others are cleared. Raises `ApplicationError`
    naming the field."""
    if kind not in Kind.values:
        raise _invalid("Pick one of the kinds of badge.", "kind")
    needed = THRESHOLD_FIELDS.get(kind)
    clean = dict.fromkeys(THRESHOLD_MESSAGES)
    if needed is None:
        return clean
    value = values.get(needed)
    if value is None or value == "":
        raise _invalid(THRESHOLD_MESSAGES[needed], needed)
    if needed == "tier":
        tier = value if isinstance(value, Tier) else Tier.objects.filter(pk=value).first()
        if tier is None or tier.program.brand_id != brand.pk:
            raise _invalid("Pick a tier of this brand's loyalty programme.", "tier")
        value = tier
    elif value <= 0:
        raise _invalid("Must be above 0.", needed)
    clean[needed] = value
    return clean


@transaction.atomic
def badge_definition_save(
    *, badge: BadgeDefinition | None = None, brand: Brand | None = None, data: dict
) -> BadgeDefinition:
    """Create a badge of `brand` (when `badge` is None) or change `badge` with `data` (its
    name, description, icon, kind, threshold fields and active flag)."""
    if badge is None:
        if brand is None:
            raise _invalid("Name the badge's brand.", "brand")
        badge = BadgeDefinition(brand=brand)
    for field in ("name", "description", "icon", "kind", "is_active"):
        if field in data:
            setattr(badge, field, data[field])
    current = {field: getattr(badge, field) for field in THRESHOLD_MESSAGES}
    thresholds = badge_definition_check(
        brand=badge.brand, kind=badge.kind, values={**current, **data}
    )
    for field, value in thresholds.items():
        setattr(badge, field, value)
    duplicate = BadgeDefinition.objects.filter(brand=badge.brand, name=badge.name)
    if badge.pk:
        duplicate = duplicate.exclude(pk=badge.pk)
    if duplicate.exists():
        raise _invalid("This brand already has a badge with this name.", "name")
    badge.full_clean(exclude=["brand"])
    badge.save()
    return badge


@transaction.atomic
def badge_definition_delete(*, badge: BadgeDefinition) -> None:
    """Delete a badge nobody holds; one that was awarded is deactivated instead."""
    if CustomerBadge.objects.filter(badge=badge).exists():
        raise ConflictError(
            "Customers hold this badge; deactivate it instead of deleting it.",
            code="badge_awarded",
        )
    badge.delete()


# --- Awarding -----------------------------------------------------------------------------------


@transaction.atomic
def badge_award(
    *,
    badge: BadgeDefinition,
    customer: Customer,
    source: str,
    order_id: int | None = None,
    rule_id: int | None = None,
    awarded_by=None,
    note: str = "",
) -> tuple[CustomerBadge, bool]:
    """Give `customer` the badge, once, and tell them. Returns the customer's badge and whether
    it was awarded now. A concurrent award of the same badge waits on the unique index and then
    finds the winner's row, so the customer is notified once."""
    existing = CustomerBadge.objects.filter(customer=customer, badge=badge).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            award = CustomerBadge.objects.create(
                customer=customer,
                badge=badge,
                source=source,
                order_id=order_id,
                rule_id=rule_id,
                awarded_by=awarded_by,
                note=note,
            )
    except IntegrityError:
        return CustomerBadge.objects.get(customer=customer, badge=badge), False
    NotificationService.send_notification(
        event=AWARDED_EVENT,
        payload={
            "badge_id": badge.pk,
            "badge": badge.name,
            "description": badge.description,
            "icon": badge.icon,
            "awarded_at": award.awarded_at,
        },
        customer=customer,
        brand=badge.brand,
    )
    return award, True


def badge_award_by_staff(
    *, badge: BadgeDefinition, customer: Customer, actor, note: str = ""
) -> tuple[CustomerBadge, bool]:
    """Staff award a badge (any kind, active) to a customer known to the badge's brand."""
    if not badge.is_active:
        raise _invalid("This badge is not active.", "badge")
    if not CustomerBrand.objects.filter(customer=customer, brand_id=badge.brand_id).exists():
        raise _invalid("The customer is not known to the badge's brand.", "customer")
    return badge_award(
        badge=badge, customer=customer, source=Source.STAFF, awarded_by=actor, note=note
    )


def badge_award_by_rule(
    *, badge_id: int, brand_id: int | None, customer: Customer, rule_id: int
) -> tuple[CustomerBadge, bool]:
    """The rule action `AWARD_BADGE`: the badge must still exist in the event's brand and be
    active."""
    badge = (
        BadgeDefinition.objects.select_related("brand")
        .filter(pk=badge_id, brand_id=brand_id)
        .first()
    )
    if badge is None:
        raise NotFoundError("The badge no longer exists in this brand.", code="badge_missing")
    if not badge.is_active:
        raise ApplicationError("The badge is not active.", code="badge_inactive")
    return badge_award(badge=badge, customer=customer, source=Source.RULE, rule_id=rule_id)


# --- Evaluation ---------------------------------------------------------------------------------


def _automatic_badges(brand_id: int) -> list[BadgeDefinition]:
    return list(
        BadgeDefinition.objects.select_related("brand", "tier")
        .filter(brand_id=brand_id, is_active=True)
        .exclude(kind=Kind.MANUAL)
        .order_by("pk")
    )


def _award_due(
    *,
    badges: list[BadgeDefinition],
    customers: Iterable[Customer],
    facts: dict[int, BadgeFacts],
    held: set[tuple[int, int]],
    source: str,
    order_id: int | None = None,
) -> list[CustomerBadge]:
    awarded = []
    for customer in customers:
        for badge in badges:
            if (customer.pk, badge.pk) in held or not badge_qualifies(
                badge=badge, facts=facts[customer.pk]
            ):
                continue
            award, created = badge_award(
                badge=badge, customer=customer, source=source, order_id=order_id
            )
            if created:
                awarded.append(award)
    return awarded


def customer_badges_evaluate(
    *, customer_id: int, brand_id: int, source: str, order_id: int | None = None
) -> list[CustomerBadge]:
    """Award the customer every active automatic badge of the brand they have earned and do
    not hold. A fixed number of queries whatever the number of badges (the definitions, the
    customer, the badges held, the order facts, the tier), plus the writes of new awards.
    Returns the badges awarded now."""
    badges = _automatic_badges(brand_id)
    if not badges:
        return []
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        logger.warning("Badges: customer %s not found; nothing evaluated.", customer_id)
        return []
    held = set(
        CustomerBadge.objects.filter(customer=customer, badge__brand_id=brand_id).values_list(
            "customer_id", "badge_id"
        )
    )
    facts = badge_facts(customer_ids=[customer_id], brand_id=brand_id)
    return _award_due(
        badges=badges,
        customers=[customer],
        facts=facts,
        held=held,
        source=source,
        order_id=order_id,
    )


def badges_review(*, batch_size: int = SWEEP_BATCH) -> int:
    """Daily safety net: evaluate every customer with a paid order or a tier at a brand that
    has automatic badges, in batches of `batch_size` customers with the facts of a batch
    loaded at once. Safe to run again or concurrently (awards are unique). Returns the
    number of badges awarded."""
    awarded = 0
    brand_ids = (
        BadgeDefinition.objects.filter(is_active=True)
        .exclude(kind=Kind.MANUAL)
        .values_list("brand_id", flat=True)
        .distinct()
        .order_by("brand_id")
    )
    for brand_id in list(brand_ids):
        badges = _automatic_badges(brand_id)
        paid = Order.objects.filter(
            customer=OuterRef("pk"), brand_id=brand_id, payment_status__in=PAID_STATUSES
        )
        ranked = LoyaltyAccount.objects.filter(
            customer=OuterRef("pk"), program__brand_id=brand_id, tier__isnull=False
        )
        candidates = Customer.objects.filter(Q(Exists(paid)) | Q(Exists(ranked))).order_by("pk")
        after = 0
        while True:
            customers = list(candidates.filter(pk__gt=after)[:batch_size])
            if not customers:
                break
            after = customers[-1].pk
            ids = [customer.pk for customer in customers]
            held = set(
                CustomerBadge.objects.filter(
                    customer_id__in=ids, badge__brand_id=brand_id
                ).values_list("customer_id", "badge_id")
            )
            facts = badge_facts(customer_ids=ids, brand_id=brand_id)
            awarded += len(
                _award_due(
                    badges=badges,
                    customers=customers,
                    facts=facts,
                    held=held,
                    source=Source.SWEEP,
                )
            )
    if awarded:
        logger.info("Badge review awarded %s badges.", awarded)
    return awarded
