"""Reads for loyalty: a customer's account and summary, ledger lists, staff scoping."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from brands.selectors import scope_to_user_brands
from customers.models import Customer
from loyalty_management.models import (
    BadgeDefinition,
    CustomerBadge,
    LoyaltyAccount,
    LoyaltyAdjustment,
    LoyaltyLot,
    LoyaltyProgram,
    LoyaltyTransaction,
    RedemptionItem,
    RedemptionRequest,
    Tier,
)
from loyalty_management.services.ledger import account_tier_qualification
from orders.models import Order

EXPIRING_WINDOW = timedelta(days=30)


def program_for_brand(*, brand_id: int) -> LoyaltyProgram | None:
    return LoyaltyProgram.objects.filter(brand_id=brand_id, is_active=True).first()


@dataclass(frozen=True)
class AccountSummary:
    program: LoyaltyProgram
    account: LoyaltyAccount | None
    available_points: int
    pending_points: int
    lifetime_points: int
    tier: Tier | None
    next_tier: Tier | None
    qualification: Decimal
    to_next_tier: Decimal | None
    expiring_points: int
    expiring_until: datetime
    badges: "BadgeBoard"


def account_summary(
    *, customer: Customer, program: LoyaltyProgram, now: datetime | None = None
) -> AccountSummary:
    """The customer's balances in the program (zero without an account yet), their tier and
    what is left to the next one, the points expiring in the next 30 days, and their badges."""
    now = now or timezone.now()
    account = (
        LoyaltyAccount.objects.select_related("tier", "program")
        .filter(customer=customer, program=program)
        .first()
    )
    tiers = list(Tier.objects.filter(program=program).order_by("position"))
    tier = account.tier if account else None
    qualification = Decimal(0)
    expiring = 0
    if account is not None:
        since = now - relativedelta(months=program.tier_window_months)
        qualification = Decimal(account_tier_qualification(account=account, since=since))
        expiring = (
            LoyaltyLot.objects.filter(
                account=account,
                remaining_points__gt=0,
                expires_at__gt=now,
                expires_at__lte=now + EXPIRING_WINDOW,
            ).aggregate(s=Sum("remaining_points"))["s"]
            or 0
        )
    above = [t for t in tiers if tier is None or t.position > tier.position]
    next_tier = next((t for t in above if t.threshold > qualification), None)
    return AccountSummary(
        program=program,
        account=account,
        available_points=account.available_points if account else 0,
        pending_points=account.pending_points if account else 0,
        lifetime_points=account.lifetime_points if account else 0,
        tier=tier,
        next_tier=next_tier,
        qualification=qualification,
        to_next_tier=(next_tier.threshold - qualification) if next_tier else None,
        expiring_points=expiring,
        expiring_until=now + EXPIRING_WINDOW,
        badges=badge_board(customer=customer, brand_id=program.brand_id),
    )


def transactions_for_customer(
    *, customer: Customer, brand_id: int | None = None
) -> QuerySet[LoyaltyTransaction]:
    queryset = LoyaltyTransaction.objects.filter(account__customer=customer).select_related(
        "account__program__brand"
    )
    if brand_id is not None:
        queryset = queryset.filter(account__program__brand_id=brand_id)
    return queryset.order_by("-created_at", "-id")


@dataclass(frozen=True)
class OrderCashbackPoints:
    credited: int
    reversed: int


def order_cashback_points(*, order_id: int) -> OrderCashbackPoints:
    """The cashback points an order was credited, and how many its refunds took back."""
    Kind = LoyaltyTransaction.Kind
    totals = LoyaltyTransaction.objects.filter(
        order_id=order_id, kind__in=[Kind.CASHBACK, Kind.CASHBACK_REVERSED]
    ).aggregate(
        credited=Coalesce(Sum("points", filter=Q(kind=Kind.CASHBACK)), 0),
        reversed=Coalesce(Sum("points", filter=Q(kind=Kind.CASHBACK_REVERSED)), 0),
    )
    return OrderCashbackPoints(credited=totals["credited"], reversed=-totals["reversed"])


def accounts_for_staff(*, user) -> QuerySet[LoyaltyAccount]:
    queryset = LoyaltyAccount.objects.select_related("customer", "program__brand", "tier")
    return scope_to_user_brands(queryset, user, "program__brand").order_by("-id")


def adjustments_for_staff(*, user) -> QuerySet[LoyaltyAdjustment]:
    queryset = LoyaltyAdjustment.objects.select_related(
        "account__program__brand", "requested_by", "decided_by"
    )
    return scope_to_user_brands(queryset, user, "account__program__brand")


# --- Badges -------------------------------------------------------------------------------------

# An order counts towards badges once paid, and still when part of it was refunded.
PAID_STATUSES = (Order.PaymentStatus.PAID, Order.PaymentStatus.PARTIALLY_REFUNDED)


@dataclass(frozen=True)
class BadgeFacts:
    order_count: int = 0
    lifetime_spend: Decimal = Decimal("0.00")
    store_count: int = 0
    tier_position: int | None = None


def badge_facts(*, customer_ids: Sequence[int], brand_id: int) -> dict[int, BadgeFacts]:
    """What automatic badges ask about customers at a brand, in two queries for any number of
    customers: their paid orders (count, spend net of refunds, different stores) and their
    tier."""
    rows = (
        Order.objects.filter(
            customer_id__in=customer_ids, brand_id=brand_id, payment_status__in=PAID_STATUSES
        )
        .values("customer_id")
        .annotate(
            count=Count("id"),
            spend=Sum(F("total") - F("refunded_amount")),
            stores=Count("store_id", distinct=True),
        )
        .order_by()
    )
    stats = {row["customer_id"]: row for row in rows}
    tiers = dict(
        LoyaltyAccount.objects.filter(
            customer_id__in=customer_ids, program__brand_id=brand_id, tier__isnull=False
        ).values_list("customer_id", "tier__position")
    )
    facts = {}
    for customer_id in customer_ids:
        row = stats.get(customer_id)
        facts[customer_id] = BadgeFacts(
            order_count=row["count"] if row else 0,
            lifetime_spend=(row["spend"] or Decimal("0.00")) if row else Decimal("0.00"),
            store_count=row["stores"] if row else 0,
            tier_position=tiers.get(customer_id),
        )
    return facts


def badge_progress(*, badge: BadgeDefinition, facts: BadgeFacts) -> tuple[Decimal, Decimal] | None:
    """(where the customer is, what the badge needs) for a countable badge; None otherwise."""
    Kind = BadgeDefinition.Kind
    if badge.kind == Kind.ORDER_COUNT:
        return Decimal(facts.order_count), Decimal(badge.order_count)
    if badge.kind == Kind.STORE_COUNT:
        return Decimal(facts.store_count), Decimal(badge.store_count)
    if badge.kind == Kind.LIFETIME_SPEND:
        return facts.lifetime_spend, badge.spend_amount
    return None


def badge_qualifies(*, badge: BadgeDefinition, facts: BadgeFacts) -> bool:
    """Whether the facts earn the automatic badge (a manual badge is never earned by facts)."""
    if badge.kind == BadgeDefinition.Kind.TIER:
        return facts.tier_position is not None and facts.tier_position >= badge.tier.position
    progress = badge_progress(badge=badge, facts=facts)
    return progress is not None and progress[0] >= progress[1]


@dataclass(frozen=True)
class BadgeToEarn:
    badge: BadgeDefinition
    current: Decimal | None
    target: Decimal | None


@dataclass(frozen=True)
class BadgeBoard:
    earned: list[CustomerBadge]
    to_earn: list[BadgeToEarn]


def badge_board(*, customer: Customer, brand_id: int) -> BadgeBoard:
    """The customer's badges at the brand, and the brand's active badges they do not hold yet,
    with their progress where it is countable (3 of 5 orders). Four queries."""
    earned = list(
        CustomerBadge.objects.select_related("badge")
        .filter(customer=customer, badge__brand_id=brand_id)
        .order_by("-awarded_at", "-id")
    )
    held = {award.badge_id for award in earned}
    badges = [
        badge
        for badge in BadgeDefinition.objects.select_related("tier")
        .filter(brand_id=brand_id, is_active=True)
        .order_by("name", "pk")
        if badge.pk not in held
    ]
    facts = badge_facts(customer_ids=[customer.pk], brand_id=brand_id)[customer.pk]
    to_earn = []
    for badge in badges:
        progress = badge_progress(badge=badge, facts=facts)
        current, target = progress if progress is not None else (None, None)
        if current is not None:
            current = min(current, target)
        to_earn.append(BadgeToEarn(badge=badge, current=current, target=target))
    return BadgeBoard(earned=earned, to_earn=to_earn)


def badges_for_staff(*, user) -> QuerySet[BadgeDefinition]:
    queryset = BadgeDefinition.objects.select_related("brand", "tier")
    return scope_to_user_brands(queryset, user, "brand").order_by("brand__name", "name", "pk")


# --- Points catalogue ---------------------------------------------------------------------------

# Requests that count against an item's limits: every one not given back.
COUNTED_STATUSES = (
    RedemptionRequest.Status.REQUESTED,
    RedemptionRequest.Status.APPROVED,
    RedemptionRequest.Status.FULFILLED,
)


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str


def redemption_refusal(
    *,
    item: RedemptionItem,
    points: int,
    tier: Tier | None,
    used_total: int,
    used_in_period: int,
    now: datetime,
    check_stock: bool = True,
) -> Refusal | None:
    """Why the item is out of a customer's reach (None: it is within reach). Pure: everything
    arrives as arguments, so the catalogue and the request check the same way."""
    if not item.is_active or (item.category_id and not item.category.is_active):
        return Refusal("not_available", "This item is not offered any more.")
    if (item.valid_from and now < item.valid_from) or (
        item.valid_until and now >= item.valid_until
    ):
        return Refusal("not_valid_now", "This item cannot be redeemed at this time.")
    if item.minimum_tier_id and (tier is None or tier.position < item.minimum_tier.position):
        return Refusal("tier_too_low", f"This item needs the {item.minimum_tier.name} tier.")
    if item.limit_per_customer is not None and used_total >= item.limit_per_customer:
        return Refusal("limit_reached", "You have redeemed this item as often as allowed.")
    if item.limit_per_period is not None and used_in_period >= item.limit_per_period:
        return Refusal(
            "limit_reached",
            f"You can redeem this item {item.limit_per_period} times in {item.period_days} days.",
        )
    if check_stock and item.stock is not None and item.stock <= 0:
        return Refusal("out_of_stock", "This item is out of stock.")
    if points < 0:
        return Refusal(
            "loyalty_account_negative",
            "Your points balance is negative, so you cannot redeem until it is positive again.",
        )
    if points < item.points_cost:
        return Refusal("insufficient_points", f"You need {item.points_cost - points} more points.")
    return None


def redemptions_used(*, item: RedemptionItem, customer_id: int, now: datetime) -> tuple[int, int]:
    """How often the customer redeemed the item: ever, and within the item's period."""
    since = now - timedelta(days=item.period_days or 0)
    counts = RedemptionRequest.objects.filter(
        item=item, customer_id=customer_id, status__in=COUNTED_STATUSES
    ).aggregate(total=Count("id"), recent=Count("id", filter=Q(created_at__gte=since)))
    return counts["total"], counts["recent"] if item.period_days else 0


@dataclass(frozen=True)
class CatalogueEntry:
    item: RedemptionItem
    refusal: Refusal | None


def catalogue_for_customer(
    *, customer: Customer, brand_id: int, now: datetime | None = None
) -> list[CatalogueEntry]:
    """The brand's active items with whether the customer can redeem each, and why not."""
    now = now or timezone.now()
    program = program_for_brand(brand_id=brand_id)
    account = (
        LoyaltyAccount.objects.filter(customer=customer, program=program)
        .select_related("tier")
        .first()
        if program is not None
        else None
    )
    items = list(
        RedemptionItem.objects.filter(brand_id=brand_id, is_active=True)
        .filter(Q(category__isnull=True) | Q(category__is_active=True))
        .select_related("category", "minimum_tier")
        .order_by("points_cost", "name", "id")
    )
    used = {
        row["item_id"]: row
        for row in RedemptionRequest.objects.filter(
            customer=customer, item__in=items, status__in=COUNTED_STATUSES
        )
        .values("item_id")
        .annotate(total=Count("id"))
    }
    entries = []
    for item in items:
        total = used.get(item.pk, {}).get("total", 0)
        recent = (
            redemptions_used(item=item, customer_id=customer.pk, now=now)[1]
            if item.period_days and total
            else 0
        )
        refusal = redemption_refusal(
            item=item,
            points=account.available_points if account else 0,
            tier=account.tier if account else None,
            used_total=total,
            used_in_period=recent,
            now=now,
        )
        entries.append(CatalogueEntry(item=item, refusal=refusal))
    return entries


def redemption_requests_for_customer(
    *, customer: Customer, brand_id: int
) -> QuerySet[RedemptionRequest]:
    return RedemptionRequest.objects.filter(customer=customer, brand_id=brand_id).select_related(
        "item", "reward"
    )


def redemption_requests_for_staff(*, user) -> QuerySet[RedemptionRequest]:
    queryset = RedemptionRequest.objects.select_related("item", "customer", "brand", "reward")
    return scope_to_user_brands(queryset, user, "brand")


def redemption_items_for_staff(*, user) -> QuerySet[RedemptionItem]:
    queryset = RedemptionItem.objects.select_related("brand", "category", "minimum_tier")
    return scope_to_user_brands(queryset, user, "brand")


def customer_tier_name(*, customer_id: int, brand_id: int) -> str | None:
    """The name of the customer's tier in the brand's programme, None without one (one query)."""
    return (
        LoyaltyAccount.objects.filter(
            customer_id=customer_id, program__brand_id=brand_id, tier__isnull=False
        )
        .values_list("tier__name", flat=True)
        .first()
    )
