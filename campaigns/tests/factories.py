"""Campaign fixtures: a live campaign across brands, and paid orders of a customer."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from campaigns.services import campaign_save
from orders.models import Order
from orders.services.payment import order_set_payment_status
from orders.tests.factories import place_order


def make_campaign(*, owner, brands, **data):
    """A live campaign of `owner` across `brands` (default: 2 brands, each at least 20.00, 50
    points)."""
    now = timezone.now()
    values = {
        "name": "Across town",
        "starts_at": now - timedelta(days=1),
        "ends_at": now + timedelta(days=30),
        "requirement": "each_brand",
        "min_spend_per_brand": Decimal("20.00"),
        "min_brands": 2,
        "reward_kind": "points",
        "reward_points": 50,
        "brands": brands,
    } | data
    return campaign_save(brand=owner, data=values)


def paid_order(*, tenant, customer, quantity=2, **kwargs):
    """An order at the tenant's brand of `quantity` x 12.50, paid (its receivers enqueue)."""
    order = place_order(
        brand=tenant.brand,
        products_and_quantities=[(tenant.product, quantity)],
        customer=customer,
        **kwargs,
    )
    return order_set_payment_status(
        order_id=order.pk, to_status=Order.PaymentStatus.PAID, payment_method="card"
    )
