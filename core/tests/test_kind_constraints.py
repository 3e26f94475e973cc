"""A check constraint is passed when its condition is unknown, and `NULL > 0` is unknown: a
"this kind needs a value above 0" alternative must also say the value is there. These rows skip
model validation (a bulk insert), so only the database stands between them and the table."""

import pytest
from django.db import IntegrityError, transaction

from loyalty_management.models import BadgeDefinition, LoyaltyProgram, RedemptionItem
from rewards.models import CustomerReward, RewardKind, RewardTemplate

pytestmark = pytest.mark.django_db


def refused(model, **fields) -> bool:
    try:
        with transaction.atomic():
            model.objects.bulk_create([model(**fields)])
    except IntegrityError:
        return True
    return False


def test_a_kind_without_the_value_it_needs_is_refused_by_the_database(a):
    brand = a.brand
    assert refused(
        LoyaltyProgram, brand=brand, name="No days", expiry_policy="after_days", expiry_days=None
    )
    for kind in ("order_count", "store_count", "lifetime_spend"):
        assert refused(BadgeDefinition, brand=brand, name=f"Empty {kind}", kind=kind)
    for kind in ("wallet_credit", "discount_amount", "discount_percentage"):
        assert refused(
            RedemptionItem,
            brand=brand,
            name=f"Empty {kind}",
            points_cost=10,
            kind=kind,
            code_valid_days=None if kind == "wallet_credit" else 30,
        )
    assert refused(
        RedemptionItem,
        brand=brand,
        name="Half a period limit",
        points_cost=10,
        kind="physical",
        limit_per_period=2,
        period_days=None,
    )
    for kind in (
        RewardKind.DISCOUNT_AMOUNT,
        RewardKind.DISCOUNT_PERCENTAGE,
        RewardKind.POINTS,
        RewardKind.WALLET_CREDIT,
    ):
        assert refused(RewardTemplate, brand=brand, name=f"Empty {kind}", kind=kind)
        assert refused(
            CustomerReward,
            brand=brand,
            customer=a.customer,
            source="staff",
            name="Empty",
            kind=kind,
            code="RW2345678923" if kind.startswith("discount") else None,
            idempotency_key=f"empty:{kind}",
        )


def test_a_row_with_its_value_is_stored(a):
    assert not refused(
        RewardTemplate, brand=a.brand, name="Points", kind=RewardKind.POINTS, points=50
    )
    assert not refused(
        BadgeDefinition, brand=a.brand, name="Regular", kind="order_count", order_count=3
    )
