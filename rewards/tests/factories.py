from decimal import Decimal

import factory

from brands.tests.factories import BrandFactory
from rewards.models import RewardKind, RewardTemplate


class RewardTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RewardTemplate

    brand = factory.SubFactory(BrandFactory)
    name = factory.Sequence(lambda n: f"Reward {n}")
    kind = RewardKind.DISCOUNT_AMOUNT
    amount = Decimal("5.00")
