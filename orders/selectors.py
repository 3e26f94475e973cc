"""Reads for orders: what the pricing pipeline needs to know about a customer."""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count, Sum

from brands.models import Brand, Store
from core.money import to_minor
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


def promotion_remaining(
    *, promotion_ids: Iterable[int], currency: str
) -> dict[int, tuple[int | None, int | None]]:
    """`(remaining uses, remaining budget in minor units)` per promotion with such limits,
    from the orders that used them (void orders excluded): the applied promotions of orders
    are the usage ledger, so the counts are never stored twice."""
    from promotions.models import Promotion

    limited = {
        row["id"]: row
        for row in Promotion.objects.filter(id__in=list(promotion_ids))
        .exclude(max_uses_total__isnull=True, budget__isnull=True)
        .values("id", "max_uses_total", "budget")
    }
    if not limited:
        return {}
    used = {
        row["promotion_id"]: row
        for row in OrderPromotion.objects.filter(promotion_id__in=limited)
        .exclude(order__payment_status__in=VOID_PAYMENT_STATUSES)
        .values("promotion_id")
        .annotate(uses=Count("order_id", distinct=True), given=Sum("amount"))
        .order_by()
    }
    remaining = {}
    for pk, row in limited.items():
        usage = used.get(pk, {"uses": 0, "given": None})
        uses = None if row["max_uses_total"] is None else row["max_uses_total"] - usage["uses"]
        budget = None
        if row["budget"] is not None:
            budget = to_minor(row["budget"] - (usage["given"] or 0), currency)
        remaining[pk] = (
            None if uses is None else max(0, uses),
            None if budget is None else max(0, budget),
        )
    return remaining


def promotions_with_live_limits(*, promotions: list[dict], currency: str) -> list[dict]:
    """The compiled promotions with their remaining uses and budget as of now (one or two
    queries, only when some promotion has such a limit)."""
    limited = [
        p["id"]
        for p in promotions
        if (p.get("limits") or {}).get("remaining_uses") is not None
        or (p.get("limits") or {}).get("remaining_budget") is not None
    ]
    if not limited:
        return list(promotions)
    remaining = promotion_remaining(promotion_ids=limited, currency=currency)
    live = []
    for promotion in promotions:
        if promotion["id"] in remaining:
            uses, budget = remaining[promotion["id"]]
            limits = {**promotion["limits"], "remaining_uses": uses, "remaining_budget": budget}
            promotion = {**promotion, "limits": limits}
        live.append(promotion)
    return live
