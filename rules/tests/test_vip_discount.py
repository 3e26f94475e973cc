"""The user's VIP discount, end to end through order placement and the quote API: one order
pricing pipeline (lines → promotions → rule discounts → totals)."""

from decimal import Decimal

import pytest
from django.test import TestCase

from catalog.tests.factories import ProductFactory
from core.tests.api_world import token_client
from labels.services import label_assign_customer, label_unassign_customer
from orders.models import Order
from orders.services.placement import LineRequest, basket_price, order_place
from promotions.services.lifecycle import promotion_save
from promotions.tests.factories import PromotionFactory
from rules.models import Rule, RuleFiring
from rules.tests.factories import committed, make_rule, vip_label, vip_rule

pytestmark = pytest.mark.django_db


def place(tenant, customer=None, quantity=2, product=None):
    order, _ = order_place(
        brand=tenant.brand,
        lines=[LineRequest(product_id=(product or tenant.product).pk, quantity=quantity)],
        customer=customer if customer is not None else tenant.customer,
    )
    return order


def make_vip(customer):
    committed(label_assign_customer, label=vip_label(), customer=customer)


def test_non_vip_customer_gets_no_discount(a):
    vip_rule()

    order = place(a)

    assert order.discount_amount == Decimal("0.00")
    assert order.discount_percentage is None
    assert order.discount_description == ""
    assert order.total == order.subtotal == Decimal("25.00")
    assert not RuleFiring.objects.filter(object_id=order.pk, object_type="order").exists()


def test_vip_customer_gets_ten_percent_with_amount_and_description_stored(a):
    rule = vip_rule()
    make_vip(a.customer)

    order = place(a)  # 2 x 12.50

    order.refresh_from_db()
    assert order.discount_percentage == Decimal("10.00")
    assert order.discount_amount == Decimal("2.50")
    assert order.discount_description == "VIP New Order Discount"
    assert (order.subtotal, order.discount_total, order.total) == (
        Decimal("25.00"),
        Decimal("2.50"),
        Decimal("22.50"),
    )
    assert order.calculate_total() == (
        Decimal("25.00"),
        Decimal("0.00"),
        Decimal("2.50"),
        Decimal("2.50"),
        Decimal("22.50"),
    )
    line = order.lines.get()
    assert line.line_discount == Decimal("2.50")
    assert line.allocations == [{"rule_id": rule.pk, "amount": "2.50"}]
    assert order.rule_discounts == [
        {
            "rule_id": rule.pk,
            "name": "VIP Order Discount Rule",
            "description": "VIP New Order Discount",
            "percentage": "10.00",
            "amount": "2.50",
        }
    ]
    firing = RuleFiring.objects.get(object_type="order", object_id=order.pk)
    assert (firing.rule_id, firing.event, firing.outcome) == (rule.pk, "order.created", "applied")
    assert firing.actions[0]["amounts"] == ["2.50"]


def test_label_removed_means_the_next_order_has_no_discount(a):
    vip_rule()
    make_vip(a.customer)
    first = place(a)

    committed(label_unassign_customer, label=vip_label(), customer=a.customer)
    second = place(a)

    assert first.discount_amount == Decimal("2.50")
    assert second.discount_amount == Decimal("0.00")
    assert second.total == Decimal("25.00")


def test_disabled_rule_gives_nothing_and_re_enabling_works_at_once(a):
    rule = vip_rule()
    make_vip(a.customer)

    committed(Rule.objects.filter(pk=rule.pk).update, status=Rule.Status.DISABLED)
    # `update` sends no signal: the rule list is read again only after a save.
    rule.refresh_from_db()
    committed(rule.save)
    disabled = place(a)
    rule.status = Rule.Status.ENABLED
    committed(rule.save)
    enabled = place(a)

    assert disabled.discount_amount == Decimal("0.00")
    assert enabled.discount_amount == Decimal("2.50")


def test_rule_discount_applies_after_promotions_to_what_remains(a):
    with TestCase.captureOnCommitCallbacks(execute=True):
        promotion_save(
            promotion=PromotionFactory.build(
                brand=a.brand, status="active", params={"percent": "20"}
            ),
            relations=None,
        )
    vip_rule()
    make_vip(a.customer)

    order = place(a)  # 25.00 - 20% = 20.00, then 10% of 20.00

    assert order.discount_total == Decimal("7.00")
    assert order.discount_amount == Decimal("2.00")
    assert order.total == Decimal("18.00")
    totals = order.calculate_total()
    assert (totals.promotion_discount, totals.rule_discount) == (Decimal("5.00"), Decimal("2.00"))


def test_rule_on_original_subtotal_and_never_below_zero(a):
    with TestCase.captureOnCommitCallbacks(execute=True):
        promotion_save(
            promotion=PromotionFactory.build(
                brand=a.brand, status="active", params={"percent": "90"}
            ),
            relations=None,
        )
    make_rule(
        name="Half of the subtotal",
        conditions=[{"entity": "ORDER", "field": "line_count", "operator": "GTE", "value": "1"}],
        actions=[("DISCOUNT", {"percentage": 50, "description": "Half", "base": "subtotal"})],
    )

    order = place(a)  # 25.00 - 22.50 leaves 2.50; half the subtotal (12.50) is capped at 2.50

    assert order.discount_amount == Decimal("2.50")
    assert order.total == Decimal("0.00")


def test_stop_processing_stops_lower_priority_rules(a):
    high = make_rule(
        name="High",
        priority=10,
        stop_processing=True,
        actions=[("DISCOUNT", {"amount": "1.00", "description": "High"})],
    )
    make_rule(name="Low", priority=1, actions=[("DISCOUNT", {"amount": "2.00"})])

    order = place(a)

    assert order.discount_amount == Decimal("1.00")
    assert [d["rule_id"] for d in order.rule_discounts] == [high.pk]
    assert list(RuleFiring.objects.values_list("rule_name", flat=True)) == ["High"]


def test_two_rules_apply_in_priority_order(a):
    low = make_rule(name="Low", priority=1, actions=[("DISCOUNT", {"amount": "24.00"})])
    high = make_rule(
        name="High", priority=5, actions=[("DISCOUNT", {"percentage": "10", "description": "A"})]
    )

    order = place(a)  # High first: 2.50; Low gets only what is left (22.50 of 24.00)

    assert [(d["rule_id"], d["amount"]) for d in order.rule_discounts] == [
        (high.pk, "2.50"),
        (low.pk, "22.50"),
    ]
    assert order.discount_description == "A; Low"
    assert order.discount_percentage == Decimal("10.00")
    assert order.total == Decimal("0.00")


def test_or_group_and_max_amount_cap(a):
    make_rule(
        name="Big basket or apples",
        conditions=[
            {"entity": "ORDER", "field": "total", "operator": "GT", "value": "1000", "group": 1},
            {
                "entity": "PRODUCT",
                "field": "sku",
                "operator": "EQUALS",
                "value": "apple-a",
                "group": 1,
            },
        ],
        actions=[("DISCOUNT", {"percentage": "50", "max_amount": "3.00"})],
    )

    apples = place(a)  # SKU APPLE-a: the text comparison ignores case
    bread = place(a, product=a.cheap_product)  # neither a big basket nor apples

    assert apples.discount_amount == Decimal("3.00")  # 50% of 25.00, capped
    assert bread.discount_amount == Decimal("0.00")


def test_category_condition_includes_subcategories(a):
    make_rule(
        name="Food",
        conditions=[
            {"entity": "PRODUCT", "field": "category", "operator": "EQUALS", "value": "food-a"}
        ],
        actions=[("DISCOUNT", {"amount": "1.00"})],
    )
    other = ProductFactory(brand=a.brand, price=Decimal("4.00"), category=None)

    apples = place(a)  # fruit-a is below food-a
    uncategorised = place(a, product=other)

    assert apples.discount_amount == Decimal("1.00")
    assert uncategorised.discount_amount == Decimal("0.00")


def test_quote_shows_the_breakdown_and_writes_nothing(a):
    rule = vip_rule()
    make_vip(a.customer)
    client = token_client(a.customer.user)
    orders_before = Order.objects.count()

    response = client.post(
        "/api/v1/pricing/quote/",
        {"brand": a.brand.slug, "lines": [{"product": a.product.pk, "quantity": 2}]},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["subtotal"], body["promotion_discount_total"], body["rule_discount_total"]) == (
        "25.00",
        "0.00",
        "2.50",
    )
    assert body["total"] == "22.50"
    assert body["rule_discounts"] == [
        {
            "rule_id": rule.pk,
            "name": "VIP Order Discount Rule",
            "description": "VIP New Order Discount",
            "percentage": "10.00",
            "amount": "2.50",
        }
    ]
    assert body["lines"][0]["allocations"] == [{"rule_id": rule.pk, "amount": "2.50"}]
    assert Order.objects.count() == orders_before
    assert not RuleFiring.objects.exists()


def test_order_api_returns_the_rule_discount_fields(a):
    vip_rule()
    make_vip(a.customer)
    client = token_client(a.customer.user)

    response = client.post(
        "/api/v1/orders/",
        {"brand": a.brand.slug, "lines": [{"product": a.product.pk, "quantity": 2}]},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["discount_percentage"], body["discount_amount"]) == ("10.00", "2.50")
    assert body["discount_description"] == "VIP New Order Discount"
    assert body["total"] == "22.50"


def test_percentage_rounding_half_up_split_over_lines(a):
    cheap = ProductFactory(brand=a.brand, price=Decimal("0.05"), category=a.root_category)
    make_rule(name="Third", actions=[("DISCOUNT", {"percentage": "33.33"})])

    order, _ = order_place(
        brand=a.brand,
        lines=[
            LineRequest(product_id=cheap.pk, quantity=1),
            LineRequest(product_id=cheap.pk, quantity=2),
            LineRequest(product_id=a.cheap_product.pk, quantity=1),
        ],
        customer=a.customer,
    )

    # 33.33% of 2.15 = 0.716595 → 0.72, split 0.05 : 0.10 : 2.00 by largest remainder
    lines = list(order.lines.order_by("id"))
    assert order.discount_amount == Decimal("0.72")
    assert [line.line_discount for line in lines] == [
        Decimal("0.02"),
        Decimal("0.03"),
        Decimal("0.67"),
    ]
    assert sum(line.line_discount for line in lines) == order.discount_amount


def test_basket_price_matches_the_order_placed(a):
    vip_rule()
    make_vip(a.customer)
    lines = [LineRequest(product_id=a.product.pk, quantity=3)]

    quoted = basket_price(brand=a.brand, lines=lines, customer=a.customer)
    order = place(a, quantity=3)

    assert quoted.money(quoted.total) == order.total
    assert quoted.money(quoted.rule_discount_total) == order.discount_amount
