"""Orders and quotes are priced by one pipeline: catalog prices → promotions → totals."""

from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import TestCase
from django.utils import timezone

from catalog.tests.factories import ProductFactory
from core.tests.api_world import assert_error, build_tenant, device_client, token_client
from labels.models import Label
from labels.services import label_assign_customer
from labels.tests.factories import LabelFactory
from orders.models import Order, OrderPromotion
from orders.services.payment import order_set_payment_status
from orders.services.placement import LineRequest, basket_price, order_place
from promotions.models import Promotion
from promotions.services.lifecycle import promotion_save
from promotions.tests.factories import PromotionFactory

pytestmark = pytest.mark.django_db


def live(tenant, products=(), **fields):
    """An active promotion of the tenant's brand, saved and compiled through the service."""
    relations = {"products": [p.pk for p in products]} if products else None
    fields.setdefault("all_products", not products)
    # The brand's cached bundle is refreshed when the saving transaction commits.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return promotion_save(
            promotion=PromotionFactory.build(brand=tenant.brand, status="active", **fields),
            relations=relations,
        )


def quote(client, tenant, lines, **extra):
    return client.post(
        "/api/v1/pricing/quote/",
        {"brand": tenant.brand.slug, "lines": lines, **extra},
        format="json",
    )


def test_bogo_worked_example_through_quote_and_order(a):
    item = ProductFactory(brand=a.brand, price=Decimal("2.99"))
    bogo = live(
        a,
        [item],
        type="bogo",
        params={"buy_quantity": 2, "get_quantity": 1, "percent": "100"},
    )
    client = token_client(a.customer.user)
    lines = [{"product": item.pk, "quantity": 3}]

    quoted = quote(client, a, lines)
    placed = client.post("/api/v1/orders/", {"brand": a.brand.slug, "lines": lines}, format="json")

    assert quoted.status_code == 200, quoted.content
    body = quoted.json()
    assert (body["subtotal"], body["discount_total"], body["total"]) == ("8.97", "2.99", "5.98")
    assert body["promotions"][0]["promotion_id"] == bogo.pk
    assert placed.status_code == 201, placed.content
    order = Order.objects.get(pk=placed.json()["id"])
    assert (order.discount_total, order.total) == (Decimal("2.99"), Decimal("5.98"))
    line = order.lines.get()
    assert line.line_discount == Decimal("2.99")
    assert line.allocations == [{"promotion_id": bogo.pk, "amount": "2.99"}]
    applied = order.applied_promotions.get()
    assert (applied.promotion_id, applied.amount, applied.promotion_version) == (
        bogo.pk,
        Decimal("2.99"),
        bogo.version,
    )
    assert order.bundle_hash == body["bundle_hash"]
    assert placed.json()["applied_promotions"][0]["amount"] == "2.99"


def test_a_quote_writes_nothing(a):
    live(a, params={"percent": "10"})
    before = (Order.objects.count(), OrderPromotion.objects.count())

    response = quote(token_client(a.staff), a, [{"product": a.product.pk, "quantity": 2}])

    assert response.status_code == 200
    assert response.json()["discount_total"] == "2.50"
    assert (Order.objects.count(), OrderPromotion.objects.count()) == before


def test_allocation_over_lines_by_largest_remainder(a):
    products = [
        ProductFactory(brand=a.brand, price=Decimal(price)) for price in ("10.00", "5.00", "1.00")
    ]
    live(a, products, type="amount_discount", params={"amount": "1.00", "mode": "per_order"})

    priced = basket_price(
        brand=a.brand, lines=[LineRequest(product_id=p.pk, quantity=1) for p in products]
    )

    assert [line.discount for line in priced.lines] == [63, 31, 6]


def test_customer_labels_target_promotions(a):
    vip = LabelFactory(name="Customer_VIP", type=Label.Type.CUSTOMER)
    promotion = PromotionFactory.build(brand=a.brand, status="active", all_products=True)
    with TestCase.captureOnCommitCallbacks(execute=True):
        promotion_save(promotion=promotion, relations={"customer_labels": [vip.pk]})
    lines = [LineRequest(product_id=a.product.pk, quantity=1)]

    before = basket_price(brand=a.brand, lines=lines, customer=a.customer)
    label_assign_customer(label=vip, customer=a.customer)
    after = basket_price(brand=a.brand, lines=lines, customer=a.customer)

    assert before.discount_total == 0
    assert before.result["rejected"][0]["reason"] == "customer_not_targeted"
    assert after.discount_total == 125
    assert after.result["applied"][0]["promotion_id"] == promotion.pk


def test_a_per_customer_limit_counts_the_customers_orders_but_not_void_ones(a):
    live(a, params={"percent": "10"}, max_uses_per_customer=1)
    lines = [LineRequest(product_id=a.product.pk, quantity=1)]

    def place():
        order, _ = order_place(brand=a.brand, lines=lines, customer=a.customer)
        return order

    first = place()
    order_set_payment_status(order_id=first.pk, to_status="cancelled")
    second = place()
    third = place()

    assert first.discount_total == Decimal("1.25")
    assert second.discount_total == Decimal("1.25")  # the cancelled order did not count
    assert third.discount_total == Decimal("0.00")
    assert third.applied_promotions.count() == 0


def test_new_customers_only_stops_after_a_paid_order(a):
    live(a, params={"percent": "10"}, new_customers_only=True)
    order_set_payment_status(order_id=a.order.pk, to_status="paid")
    lines = [LineRequest(product_id=a.product.pk, quantity=1)]

    returning = basket_price(brand=a.brand, lines=lines, customer=a.customer)
    newcomer = basket_price(brand=a.brand, lines=lines, customer=build_tenant("b").customer)

    assert returning.discount_total == 0
    assert returning.result["rejected"][0]["reason"] == "customer_not_targeted"
    assert newcomer.discount_total == 125


def test_a_voucher_code_is_needed_when_the_promotion_has_one(a):
    live(a, params={"percent": "10"}, code="SPRING")
    client = token_client(a.customer.user)
    lines = [{"product": a.product.pk, "quantity": 1}]

    without = quote(client, a, lines).json()
    with_code = quote(client, a, lines, codes=["spring"]).json()

    assert without["discount_total"] == "0.00"
    assert without["rejected"][0]["reason"] == "code_required"
    assert with_code["discount_total"] == "1.25"


def test_happy_hour_uses_the_store_local_time(a):
    a.store.time_zone = "America/New_York"
    a.store.save()
    live(
        a,
        type="happy_hour",
        params={"percent": "50"},
        time_windows=[{"start": "17:00", "end": "19:00"}],
    )
    lines = [LineRequest(product_id=a.product.pk, quantity=1)]
    today_new_york = timezone.now().astimezone(ZoneInfo("America/New_York")).date()
    six_pm_new_york = datetime.combine(today_new_york, time(18), ZoneInfo("America/New_York"))

    in_store = basket_price(brand=a.brand, lines=lines, store=a.store, at=six_pm_new_york)
    brand_time = basket_price(brand=a.brand, lines=lines, at=six_pm_new_york)  # Europe/Paris

    assert in_store.discount_total == 625
    assert brand_time.result["rejected"][0]["reason"] == "outside_time_window"


def test_devices_quote_for_their_store_and_customers_cannot_quote_as_pos(a):
    live(a, params={"percent": "10"}, channels=["pos"])
    lines = [{"product": a.product.pk, "quantity": 1}]

    from_device = device_client(a.device_key).post(
        "/api/v1/pricing/quote/", {"lines": lines}, format="json"
    )
    from_customer = quote(token_client(a.customer.user), a, lines, channel="pos")

    assert from_device.status_code == 200
    assert from_device.json()["discount_total"] == "1.25"
    assert_error(from_customer, 400, "invalid_channel")


def test_a_quote_reads_few_queries_with_the_bundle_cached(a, django_assert_max_num_queries):
    for _ in range(20):
        live(a, params={"percent": "5"}, stacking="stackable")
    client = token_client(a.customer.user)
    lines = [{"product": a.product.pk, "quantity": 1}]
    quote(client, a, lines)  # warms the bundle cache

    with django_assert_max_num_queries(9):
        response = quote(client, a, lines)

    assert response.status_code == 200
    assert len(response.json()["promotions"]) == 20


def test_promotions_of_the_whole_pipeline_keep_totals_consistent(a):
    cheap = a.cheap_product
    live(a, [cheap], type="mix_match", params={"quantity": 2, "price": "3.00"}, priority=5)
    live(
        a,
        type="threshold",
        params={"tiers": [{"min_subtotal": "20.00", "amount": "2.00"}]},
        stacking=Promotion.Stacking.STACKABLE,
    )
    order, _ = order_place(
        brand=a.brand,
        lines=[
            LineRequest(product_id=cheap.pk, quantity=2),
            LineRequest(product_id=a.product.pk, quantity=2),
        ],
    )

    lines = list(order.lines.all())
    assert order.subtotal == sum(line.subtotal for line in lines)
    assert order.discount_total == sum(line.line_discount for line in lines)
    assert order.total == order.subtotal - order.discount_total
    assert order.discount_total == sum(p.amount for p in order.applied_promotions.all())
    assert order.discount_total == Decimal("3.00")  # 1.00 off the pair, 2.00 off the order


def test_total_uses_and_budget_are_counted_from_the_orders_that_used_them(a):
    live(a, params={"percent": "10"}, max_uses_total=2)
    capped = live(
        a,
        [a.cheap_product],
        params={"percent": "50"},
        budget=Decimal("1.50"),
        stacking=Promotion.Stacking.STACKABLE,
    )
    lines = [LineRequest(product_id=a.product.pk, quantity=1)]
    cheap = [LineRequest(product_id=a.cheap_product.pk, quantity=1)]

    first, _ = order_place(brand=a.brand, lines=lines)
    second, _ = order_place(brand=a.brand, lines=lines)
    order_set_payment_status(order_id=second.pk, to_status="cancelled")  # gives its use back
    third, _ = order_place(brand=a.brand, lines=lines)
    fourth, _ = order_place(brand=a.brand, lines=lines)
    budget_first = basket_price(brand=a.brand, lines=cheap)
    order_place(brand=a.brand, lines=cheap)
    budget_left = basket_price(brand=a.brand, lines=cheap)

    assert [o.discount_total for o in (first, second, third)] == [Decimal("1.25")] * 3
    assert fourth.discount_total == Decimal("0.00")
    assert budget_first.result["applied"][-1]["amount"] == 100  # 50% of 2.00
    assert budget_left.result["applied"][-1]["promotion_id"] == capped.pk
    assert budget_left.result["applied"][-1]["amount"] == 50  # what is left of 1.50
