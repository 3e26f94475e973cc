"""Reads for rewards: templates and issued rewards scoped to who asks, the rewards a customer
holds at a brand, and the codes an order can use."""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q, QuerySet

from brands.selectors import scope_to_user_brands
from customers.models import Customer
from rewards.models import CODE_KINDS, CustomerReward, RewardTemplate

# Codes avoid the characters people confuse (0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
CODE_PREFIX = "RW"


def reward_code_shaped(code: str) -> bool:
    """Whether `code` (trimmed, upper-cased) has the form of a reward code: the prefix and ten
    characters of the code alphabet. Other codes are promotion codes, never looked up here."""
    return (
        len(code) == len(CODE_PREFIX) + CODE_LENGTH
        and code.startswith(CODE_PREFIX)
        and all(c in CODE_ALPHABET for c in code[len(CODE_PREFIX) :])
    )


def customer_usable_rewards(
    *, customer_id: int, brand_id: int, codes: Iterable[str], at: datetime
) -> list[dict]:
    """The customer's rewards at the brand whose code is among `codes`, still active and not
    past `valid_until` at `at`, oldest first (one query)."""
    return list(
        CustomerReward.objects.filter(
            customer_id=customer_id,
            brand_id=brand_id,
            status=CustomerReward.Status.ACTIVE,
            kind__in=CODE_KINDS,
            code__in=list(codes),
        )
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=at))
        .order_by("pk")
        .values("pk", "code", "name", "kind", "amount", "percentage", "product_id", "minimum_order")
    )


def rewards_for_customer(*, customer: Customer, brand_id: int) -> QuerySet[CustomerReward]:
    """The customer's rewards at the brand, newest first, with the product a free-product code
    gives."""
    return (
        CustomerReward.objects.filter(customer=customer, brand_id=brand_id)
        .select_related("brand", "product")
        .order_by("-created_at", "-id")
    )


def reward_status_now(*, reward: CustomerReward, now: datetime) -> str:
    """The reward's status as the customer sees it now: an active code past its `valid_until`
    is expired even before the daily sweep marks it so."""
    Status = CustomerReward.Status
    if reward.status == Status.ACTIVE and reward.valid_until and reward.valid_until <= now:
        return Status.EXPIRED
    return reward.status


def templates_for_staff(*, user) -> QuerySet[RewardTemplate]:
    return scope_to_user_brands(
        RewardTemplate.objects.select_related("brand"), user, "brand"
    ).order_by("brand_id", "name", "pk")


def rewards_for_staff(*, user) -> QuerySet[CustomerReward]:
    return scope_to_user_brands(
        CustomerReward.objects.select_related("brand", "customer"), user, "brand"
    ).order_by("-created_at", "-pk")
