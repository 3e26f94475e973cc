"""Reads for loyalty: a customer's account and summary, ledger lists, staff scoping."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from brands.selectors import scope_to_user_brands
from customers.models import Customer
from loyalty_management.models import (
    LoyaltyAccount,
    LoyaltyAdjustment,
    LoyaltyLot,
    LoyaltyProgram,
    LoyaltyTransaction,
    Tier,
)
from loyalty_management.services.ledger import account_tier_qualification

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


def account_summary(
    *, customer: Customer, program: LoyaltyProgram, now: datetime | None = None
) -> AccountSummary:
    """The customer's balances in the program (zero without an account yet), their tier and
    what is left to the next one, and the points expiring in the next 30 days."""
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
