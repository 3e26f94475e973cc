"""Reads of reward templates and issued rewards, scoped to who asks."""

from django.db.models import QuerySet

from brands.selectors import scope_to_user_brands
from customers.models import Customer
from rewards.models import CustomerReward, RewardTemplate


def templates_for_staff(*, user) -> QuerySet[RewardTemplate]:
    return scope_to_user_brands(
        RewardTemplate.objects.select_related("brand"), user, "brand"
    ).order_by("brand_id", "name", "pk")


def rewards_for_staff(*, user) -> QuerySet[CustomerReward]:
    return scope_to_user_brands(
        CustomerReward.objects.select_related("brand", "customer"), user, "brand"
    ).order_by("-created_at", "-pk")


def rewards_for_customer(*, customer: Customer, brand_id: int) -> QuerySet[CustomerReward]:
    return (
        CustomerReward.objects.filter(customer=customer, brand_id=brand_id)
        .select_related("brand", "product")
        .order_by("-created_at", "-pk")
    )
