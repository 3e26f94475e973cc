from decimal import Decimal

import pytest

from brands.tests.factories import BrandFactory
from catalog.tests.factories import ProductFactory
from customers.tests.factories import CustomerFactory
from loyalty_management.tests.factories import LoyaltyProgramFactory
from orders.tests.factories import place_order


@pytest.fixture
def brand():
    return BrandFactory()


@pytest.fixture
def program(brand):
    return LoyaltyProgramFactory(brand=brand, points_per_unit=Decimal("1.00"))


@pytest.fixture
def customer():
    return CustomerFactory()


@pytest.fixture
def new_order(brand, customer):
    """`new_order(price="12.50", quantity=1, customer=...)`: placed through the real service,
    payment pending."""

    def make(price="10.00", quantity=1, **kwargs):
        product = ProductFactory(brand=brand, price=Decimal(price))
        kwargs.setdefault("customer", customer)
        return place_order(brand=brand, products_and_quantities=[(product, quantity)], **kwargs)

    return make
