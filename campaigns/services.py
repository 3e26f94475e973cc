"""Cross-brand campaigns: saving a campaign, counting a customer's orders towards it, and
issuing its reward exactly once.

What an order counts is the money it paid, net of refunds: `marketing.services.
order_earning_amount` (total less refunds, less the part paid from a wallet, in the same
proportion), so a campaign counts what points count. An order counts when it has a customer, is
paid (or partly refunded), its brand takes part in the campaign and it was paid (`paid_at`, else
`created_at`) within `[starts_at, ends_at)`; refunded in full or cancelled it counts nothing.

`campaign_order_record` is idempotent: it locks the order, then the customer's progress row of
each campaign (campaigns in primary-key order), writes the order's counted amount into its own
`CampaignOrder` row (an upsert: a duplicate delivery rewrites the same value) and recomputes the
progress from those rows. Two orders of one customer recorded at once serialise on the progress
row, so the second sees the first's amount and the requirement is met once. The reward is issued
with `reward_issue(idempotency_key=f"campaign:{campaign.pk}:{customer.pk}")`: once per customer
and campaign, whatever replays or sweeps run.

A refund lowers the progress (`is_met` can turn false again); a reward already issued is kept,
and never issued a second time (the key). Taking back a code the customer may have used, or
credit already spent, would punish the customer for the store's refund rules and could not be
done consistently for every kind of reward; the campaign's owner sets the requirement high
enough, and staff see refunded completions (`is_met` false with a reward) in the progress list.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from brands.models import Brand
from campaigns.models import CampaignOrder, CampaignProgress, CrossBrandCampaign
from core.errors import ApplicationError
from loyalty_management.selectors import program_for_brand
from marketing.services import order_earning_amount
from notifications.services import NotificationService
from orders.models import Order
from rewards.models import CustomerReward, RewardKind, RewardTemplate
from rewards.services import RewardSpec, reward_issue, reward_spec

logger = logging.getLogger(__name__)

PS = Order.PaymentStatus
COMPLETED_EVENT = "loyalty.campaign.completed"
# Paid orders count; refunded in full or cancelled, they count nothing (their row is set to 0).
COUNTED_STATUSES = (PS.PAID, PS.PARTIALLY_REFUNDED)
RECORDED_STATUSES = (PS.PAID, PS.PARTIALLY_REFUNDED, PS.REFUNDED, PS.CANCELLED)
# The safety net also repairs campaigns that ended less than this long ago (late deliveries).
GRACE = timedelta(days=1)
ZERO = Decimal("0.00")
Req = CrossBrandCampaign.Requirement
Kind = CrossBrandCampaign.RewardKind


def _invalid(message: str, field_name: str) -> ApplicationError:
    return ApplicationError(message, code="invalid_campaign", fields={field_name: [message]})


# --- Saving a campaign --------------------------------------------------------------------------

CAMPAIGN_FIELDS = (
    "name",
    "description",
    "starts_at",
    "ends_at",
    "requirement",
    "min_spend_per_brand",
    "min_total_spend",
    "min_brands",
    "reward_kind",
    "reward_points",
    "reward_template",
    "reward_amount",
    "is_active",
)


def campaign_check(*, campaign: CrossBrandCampaign, brands: list[Brand]) -> None:
    """Refuse, with a plain sentence on the field, what the database constraints cannot see:
    the participating brands (the owner included, two or more, one currency), the number of
    brands counted, and a reward the owner brand can give."""
    owner = campaign.brand
    if len({b.pk for b in brands}) < 2:
        raise _invalid("A campaign runs across at least two brands, the owner included.", "brands")
    foreign = sorted(b.name for b in brands if b.currency != owner.currency)
    if foreign:
        raise _invalid(
            f"All the brands of a campaign use one currency: {', '.join(foreign)} "
            f"{'does' if len(foreign) == 1 else 'do'} not use {owner.currency}.",
            "brands",
        )
    if campaign.min_brands is not None and campaign.min_brands > len({b.pk for b in brands}):
        raise _invalid(
            f"The campaign counts {campaign.min_brands} brands but only "
            f"{len({b.pk for b in brands})} take part.",
            "min_brands",
        )
    if campaign.reward_kind == Kind.TEMPLATE and campaign.reward_template is not None:
        if campaign.reward_template.brand_id != owner.pk:
            raise _invalid(
                "The reward must be one of the owner brand's rewards.", "reward_template"
            )
        if not campaign.reward_template.is_active:
            raise _invalid("This reward is not active.", "reward_template")
    if campaign.reward_kind == Kind.POINTS and program_for_brand(brand_id=owner.pk) is None:
        raise _invalid(
            "The owner brand has no active loyalty programme to credit points in.", "reward_kind"
        )


def _fields_for_kinds(campaign: CrossBrandCampaign) -> None:
    """Empty the fields the chosen requirement and reward do not use."""
    if campaign.requirement == Req.EACH_BRAND:
        campaign.min_total_spend = None
    elif campaign.requirement == Req.TOTAL:
        campaign.min_spend_per_brand = None
    if campaign.reward_kind != Kind.POINTS:
        campaign.reward_points = None
    if campaign.reward_kind != Kind.TEMPLATE:
        campaign.reward_template = None
    if campaign.reward_kind != Kind.WALLET_CREDIT:
        campaign.reward_amount = None


@transaction.atomic
def campaign_save(
    *,
    campaign: CrossBrandCampaign | None = None,
    brand: Brand | None = None,
    data: dict,
) -> CrossBrandCampaign:
    """Create a campaign of `brand` (when `campaign` is None) or change `campaign` with `data`:
    the fields of `CAMPAIGN_FIELDS` and `brands` (a list of brands; the owner is added when
    missing). Fields the requirement or reward kind does not use are emptied."""
    if campaign is None:
        if brand is None:
            raise _invalid("Name the campaign's brand.", "brand")
        campaign = CrossBrandCampaign(brand=brand)
        brands = [brand]
    else:
        campaign = CrossBrandCampaign.objects.select_for_update().get(pk=campaign.pk)
        brands = list(campaign.brands.all())
    for name in CAMPAIGN_FIELDS:
        if name in data:
            setattr(campaign, name, data[name])
    if "brands" in data:
        brands = list(data["brands"])
    if campaign.brand_id not in {b.pk for b in brands}:
        brands.append(campaign.brand)
    _fields_for_kinds(campaign)
    duplicate = CrossBrandCampaign.objects.filter(brand=campaign.brand, name=campaign.name)
    if campaign.pk:
        duplicate = duplicate.exclude(pk=campaign.pk)
    if duplicate.exists():
        raise _invalid("The brand already has a campaign with this name.", "name")
    campaign.full_clean(exclude=["brand"])
    campaign_check(campaign=campaign, brands=brands)
    campaign.save()
    campaign.brands.set(brands)
    return campaign


# --- Requirement ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """Where a customer stands: what they spent per brand, the brands that count, whether the
    requirement is met, and what is missing (more brands, and the least more money)."""

    spend_by_brand: dict[int, Decimal]
    total_spend: Decimal
    counted_brand_ids: list[int]
    is_met: bool
    brands_missing: int
    amount_missing: Decimal
    below_by_brand: dict[int, Decimal] = field(default_factory=dict)


def requirement_evaluate(
    *,
    requirement: str,
    min_spend_per_brand: Decimal | None,
    min_total_spend: Decimal | None,
    min_brands: int,
    brand_ids: list[int],
    spend_by_brand: dict[int, Decimal],
) -> Evaluation:
    """Pure: the requirement against what was spent at each participating brand (spend at
    other brands is ignored).

    - each brand: a brand counts when its spend reaches `min_spend_per_brand`; met with
      `min_brands` such brands. Missing: the brands still needed, and the least more money
      (the smallest shortfalls of the brands that do not count yet).
    - total: a brand counts when the customer spent anything there; met when the spend across
      them reaches `min_total_spend` and at least `min_brands` brands count.
    """
    spend = {b: spend_by_brand.get(b, ZERO) for b in brand_ids}
    total = sum(spend.values(), ZERO)
    if requirement == Req.EACH_BRAND:
        threshold = min_spend_per_brand or ZERO
        counted = sorted(b for b, s in spend.items() if s >= threshold and s > 0)
        brands_missing = max(0, min_brands - len(counted))
        below = {b: threshold - s for b, s in spend.items() if b not in counted}
        shortfalls = sorted(below.values())[:brands_missing]
        amount_missing = sum(shortfalls, ZERO)
        met = brands_missing == 0
    else:
        counted = sorted(b for b, s in spend.items() if s > 0)
        brands_missing = max(0, min_brands - len(counted))
        amount_missing = max(ZERO, (min_total_spend or ZERO) - total)
        below = {}
        met = brands_missing == 0 and amount_missing == 0
    return Evaluation(
        spend_by_brand=spend,
        total_spend=total,
        counted_brand_ids=counted,
        is_met=met,
        brands_missing=brands_missing,
        amount_missing=amount_missing,
        below_by_brand=below,
    )


def campaign_evaluate(
    *, campaign: CrossBrandCampaign, spend_by_brand: dict[int, Decimal]
) -> Evaluation:
    return requirement_evaluate(
        requirement=campaign.requirement,
        min_spend_per_brand=campaign.min_spend_per_brand,
        min_total_spend=campaign.min_total_spend,
        min_brands=campaign.min_brands,
        brand_ids=sorted(b.pk for b in campaign.brands.all()),
        spend_by_brand=spend_by_brand,
    )


# --- Counting orders --------------------------------------------------------------------------


def order_counted_amount(order: Order) -> Decimal:
    """What the order counts towards a campaign now: the money it paid, net of refunds."""
    if order.payment_status not in COUNTED_STATUSES:
        return ZERO
    return max(ZERO, order_earning_amount(order))


def _counted_at(order: Order) -> datetime:
    return order.paid_at or order.created_at


def _campaigns_for_order(order: Order) -> list[CrossBrandCampaign]:
    at = _counted_at(order)
    return list(
        CrossBrandCampaign.objects.filter(
            is_active=True, brands=order.brand_id, starts_at__lte=at, ends_at__gt=at
        )
        .select_related("brand", "reward_template")
        .prefetch_related("brands")
        .order_by("pk")
    )


def _progress_lock(*, campaign_id: int, customer_id: int) -> CampaignProgress:
    """The customer's progress row, created when missing, locked for this transaction."""
    CampaignProgress.objects.bulk_create(
        [CampaignProgress(campaign_id=campaign_id, customer_id=customer_id)],
        ignore_conflicts=True,
    )
    return (
        CampaignProgress.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(campaign_id=campaign_id, customer_id=customer_id)
    )


def _progress_recompute(
    *, campaign: CrossBrandCampaign, progress: CampaignProgress, now: datetime
) -> bool:
    """Recompute the locked progress from the customer's order rows; issue the reward when the
    requirement is met and none was issued. Returns whether a reward was issued now."""
    brand_ids = [b.pk for b in campaign.brands.all()]
    rows = (
        CampaignOrder.objects.filter(
            campaign=campaign, customer_id=progress.customer_id, brand_id__in=brand_ids
        )
        .values("brand_id")
        .annotate(spent=Sum("amount"))
    )
    evaluation = campaign_evaluate(
        campaign=campaign, spend_by_brand={row["brand_id"]: row["spent"] for row in rows}
    )
    progress.spend_by_brand = {
        str(b): str(s) for b, s in evaluation.spend_by_brand.items() if s > 0
    }
    progress.total_spend = evaluation.total_spend
    progress.brands_counted = len(evaluation.counted_brand_ids)
    progress.is_met = evaluation.is_met
    if evaluation.is_met and progress.completed_at is None:
        progress.completed_at = now
    progress.save()
    if progress.is_met and progress.reward_id is None and campaign.is_active:
        return _reward_issue(campaign=campaign, progress=progress, now=now)
    return False


def reward_key(*, campaign_id: int, customer_id: int) -> str:
    return f"campaign:{campaign_id}:{customer_id}"


def _reward_issue(
    *, campaign: CrossBrandCampaign, progress: CampaignProgress, now: datetime
) -> bool:
    template: RewardTemplate | None = None
    if campaign.reward_kind == Kind.TEMPLATE:
        template = campaign.reward_template
        spec = reward_spec(template)
    elif campaign.reward_kind == Kind.POINTS:
        spec = RewardSpec(
            name=campaign.reward_description, kind=RewardKind.POINTS, points=campaign.reward_points
        )
    else:
        spec = RewardSpec(
            name=campaign.reward_description,
            kind=RewardKind.WALLET_CREDIT,
            amount=campaign.reward_amount,
        )
    customer = progress.customer
    try:
        with transaction.atomic():
            reward, created = reward_issue(
                customer=customer,
                brand=campaign.brand,
                spec=spec,
                idempotency_key=reward_key(campaign_id=campaign.pk, customer_id=customer.pk),
                source=CustomerReward.Source.CAMPAIGN,
                template=template,
                reason=f"Campaign: {campaign.name}",
                now=now,
            )
    except ApplicationError as exc:
        # The owner brand cannot give it right now (its programme was switched off): the
        # progress stays met without a reward, and the sweep tries again.
        logger.warning(
            "Campaigns: reward of campaign %s for customer %s not issued: %s",
            campaign.pk,
            customer.pk,
            exc.message,
        )
        return False
    progress.reward = reward
    progress.save(update_fields=["reward", "updated_at"])
    if created:
        NotificationService.send_notification(
            event=COMPLETED_EVENT,
            payload={
                "campaign_id": campaign.pk,
                "campaign": campaign.name,
                "reward_id": reward.pk,
                "reward": reward.name,
                "kind": reward.kind,
                "points": reward.points,
                "amount": reward.amount,
                "code": reward.code,
            },
            customer=customer,
            brand=campaign.brand,
        )
    return created


@dataclass(frozen=True)
class RecordResult:
    campaigns: int
    amount: Decimal
    rewards_issued: int


@transaction.atomic
def campaign_order_record(*, order_id: int, now: datetime | None = None) -> RecordResult:
    """Count the order's current state towards every active campaign it belongs to, and issue
    the rewards now due. Safe to run any number of times (see the module's docstring)."""
    now = now or timezone.now()
    order = (
        Order.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        logger.warning("Campaigns: order %s not found; nothing recorded.", order_id)
        return RecordResult(0, ZERO, 0)
    if order.customer_id is None or order.payment_status not in RECORDED_STATUSES:
        return RecordResult(0, ZERO, 0)
    campaigns = _campaigns_for_order(order)
    amount = order_counted_amount(order)
    issued = 0
    for campaign in campaigns:
        # The order is locked: only this order's deliveries write its rows.
        row = CampaignOrder.objects.filter(campaign=campaign, order=order).first()
        if row is None and amount == 0:
            continue  # nothing counted before, nothing now
        progress = _progress_lock(campaign_id=campaign.pk, customer_id=order.customer_id)
        if row is None:
            CampaignOrder.objects.create(
                campaign=campaign,
                order=order,
                customer_id=order.customer_id,
                brand_id=order.brand_id,
                amount=amount,
            )
        elif row.amount != amount:
            row.amount = amount
            row.save(update_fields=["amount", "updated_at"])
        issued += _progress_recompute(campaign=campaign, progress=progress, now=now)
    return RecordResult(len(campaigns), amount, issued)


# --- The safety net -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    campaigns: int
    orders_recorded: int
    progress_recomputed: int
    rewards_issued: int


def _campaign_orders(campaign: CrossBrandCampaign, brand_ids: list[int]):
    counted_at = Coalesce("paid_at", "created_at")
    return (
        Order.objects.annotate(counted_at=counted_at)
        .filter(
            brand_id__in=brand_ids,
            customer__isnull=False,
            payment_status__in=RECORDED_STATUSES,
            counted_at__gte=campaign.starts_at,
            counted_at__lt=campaign.ends_at,
        )
        .only(
            "pk",
            "payment_status",
            "total",
            "refunded_amount",
            "wallet_amount",
            "customer_id",
            "brand_id",
        )
        .order_by("pk")
    )


def process_cross_brand_accumulation(
    *, now: datetime | None = None, batch_size: int = 500
) -> SweepResult:
    """The beat's safety net: for every active campaign that is live or ended less than GRACE
    ago, record the paid orders whose counted amount differs from their row (a lost or failed
    delivery), recompute progress older than the campaign's last change, and issue rewards due
    but missing. Batched by order id; each order is its own transaction. Safe to re-run."""
    now = now or timezone.now()
    campaigns = list(
        CrossBrandCampaign.objects.filter(
            is_active=True, starts_at__lte=now, ends_at__gte=now - GRACE
        )
        .prefetch_related("brands")
        .order_by("pk")
    )
    recorded = recomputed = issued = 0
    for campaign in campaigns:
        brand_ids = [b.pk for b in campaign.brands.all()]
        orders = _campaign_orders(campaign, brand_ids)
        last_pk = 0
        while True:
            batch = list(orders.filter(pk__gt=last_pk)[:batch_size])
            if not batch:
                break
            last_pk = batch[-1].pk
            known = dict(
                CampaignOrder.objects.filter(
                    campaign=campaign, order_id__in=[o.pk for o in batch]
                ).values_list("order_id", "amount")
            )
            for order in batch:
                if order_counted_amount(order) != known.get(order.pk, ZERO):
                    result = campaign_order_record(order_id=order.pk, now=now)
                    recorded += 1
                    issued += result.rewards_issued
        stale = CampaignProgress.objects.filter(campaign=campaign).filter(
            Q(updated_at__lt=campaign.updated_at) | Q(is_met=True, reward__isnull=True)
        )
        for customer_id in stale.values_list("customer_id", flat=True).order_by("pk"):
            with transaction.atomic():
                progress = _progress_lock(campaign_id=campaign.pk, customer_id=customer_id)
                issued += _progress_recompute(campaign=campaign, progress=progress, now=now)
            recomputed += 1
    return SweepResult(len(campaigns), recorded, recomputed, issued)
