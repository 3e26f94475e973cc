from decimal import Decimal

import factory

from brands.tests.factories import BrandFactory
from customers.tests.factories import CustomerFactory
from loyalty_management.models import LoyaltyAccount, LoyaltyProgram, Tier
from orders.models import Order


class LoyaltyProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LoyaltyProgram

    brand = factory.SubFactory(BrandFactory)
    name = factory.Sequence(lambda n: f"Rewards {n}")
    points_per_unit = Decimal("1.00")
    unit_amount = Decimal("1.00")


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier

    program = factory.SubFactory(LoyaltyProgramFactory)
    name = factory.Sequence(lambda n: f"Tier {n}")
    position = factory.Sequence(lambda n: n)
    threshold = Decimal("0.00")
    multiplier = Decimal("1.00")


class LoyaltyAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LoyaltyAccount

    customer = factory.SubFactory(CustomerFactory)
    program = factory.SubFactory(LoyaltyProgramFactory)


def make_order(*, brand, customer=None, total: str = "10.00", payment_status=None) -> Order:
    """A bare order row (no lines) for ledger tests: the points engine reads only its totals
    and status. Created pending unless told, so no loyalty task is triggered."""
    amount = Decimal(total)
    return Order.objects.create(
        brand=brand,
        customer=customer,
        currency=brand.currency,
        subtotal=amount,
        total=amount,
        payment_status=payment_status or Order.PaymentStatus.PENDING,
    )
