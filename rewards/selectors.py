"""Reads for rewards: the rewards a customer holds at a brand."""

from datetime import datetime

from django.db.models import QuerySet

from customers.models import Customer
from rewards.models import CustomerReward


def rewards_for_customer(*, customer: Customer, brand_id: int) -> QuerySet[CustomerReward]:
    """The customer's rewards at the brand, newest first, with the product a free-product code
    gives."""
    return (
        CustomerReward.objects.filter(customer=customer, brand_id=brand_id)
        .select_related("product")
        .order_by("-created_at", "-id")
    )


def reward_status_now(*, reward: CustomerReward, now: datetime) -> str:
    """The reward's status as the customer sees it now: an active code past its `valid_until`
    is expired even before the daily sweep marks it so."""
    Status = CustomerReward.Status
    if reward.status == Status.ACTIVE and reward.valid_until and reward.valid_until <= now:
        return Status.EXPIRED
    return reward.status
