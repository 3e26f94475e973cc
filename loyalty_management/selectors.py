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
