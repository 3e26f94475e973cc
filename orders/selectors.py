"""Reads for orders: what the pricing pipeline needs to know about a customer."""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count

from brands.models import Brand, Store
from customers.models import Customer
from labels.models import CustomerLabel
from orders.models import Order, OrderPromotion
from orders.services.pricing import PricingContext

PS = Order.PaymentStatus
# Orders that never happened do not count as a use of their promotions.
VOID_PAYMENT_STATUSES = (PS.FAILED, PS.CANCELLED)


def customer_promotion_usage(*, customer_id: int) -> dict[int, int]:
    """How many orders of the customer used each promotion (void orders excluded)."""
    rows = (
        OrderPromotion.objects.filter(order__customer_id=customer_id, promotion__isnull=False)
        .exclude(order__payment_status__in=VOID_PAYMENT_STATUSES)
        .values("promotion_id")
        .annotate(uses=Count("order_id", distinct=True))
        .order_by()
    )
    return {row["promotion_id"]: row["uses"] for row in rows}


def pricing_context_build(
    *,
    brand: Brand,
    channel: str,
    at: datetime,
    store: Store | None = None,
    customer: Customer | None = None,
    payment_method: str = "",
    codes: Iterable[str] = (),
) -> PricingContext:
    """The pricing context of a basket: three queries when there is a customer, none without."""
    label_ids: tuple[int, ...] = ()
    usage: dict[int, int] = {}
    is_new = False
    if customer is not None:
        label_ids = tuple(
            CustomerLabel.objects.filter(customer=customer).values_list("label_id", flat=True)
        )
        usage = customer_promotion_usage(customer_id=customer.pk)
        is_new = not Order.objects.filter(
            customer=customer, payment_status__in=(PS.PAID, PS.PARTIALLY_REFUNDED, PS.REFUNDED)
        ).exists()
    return PricingContext(
        brand_id=brand.pk,
        currency=brand.currency,
        channel=channel,
        at=at,
        time_zone=store.time_zone if store is not None else brand.time_zone,
        store_id=store and store.pk,
        customer_id=customer and customer.pk,
        customer_label_ids=label_ids,
        is_new_customer=is_new,
        payment_method=payment_method,
        codes=tuple(codes),
        customer_usage=usage,
    )
