from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from brands.tests.factories import BrandFactory
from promotions.models import Promotion


class PromotionFactory(factory.django.DjangoModelFactory):
    """A draft promotion; `promotion_save` compiles it."""

    class Meta:
        model = Promotion

    brand = factory.SubFactory(BrandFactory)
    name = factory.Sequence(lambda n: f"Promotion {n}")
    type = Promotion.Type.PERCENT_DISCOUNT
    status = Promotion.Status.DRAFT
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    ends_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    params = factory.LazyFunction(lambda: {"percent": "10"})
    all_products = True
    min_eligible_subtotal = None
    budget = None
    max_discount_per_order = None


def money(value: str) -> Decimal:
    return Decimal(value)
