"""The storefront basket page: a session basket priced by the order pricing pipeline, placed
by `order_place`, usable without JavaScript."""

import threading
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.http import HttpRequest
from django.test import Client, TestCase

from brands.roles import ANALYST
from brands.tests.factories import StaffUserFactory
from catalog.tests.factories import ProductFactory
from labels.services import label_assign_customer
from orders.models import Order
from orders.services.placement import MAX_QUANTITY, LineRequest, basket_price
from orders.views import BASKET_SESSION_KEY
from promotions.services.lifecycle import promotion_save
from promotions.tests.factories import PromotionFactory
from rules.models import Rule, RuleAction, RuleCondition, RuleTrigger

pytestmark = pytest.mark.django_db

PASSWORD = "pass-word-123"
MINUS, TIMES = "\u2212", "\u00d7"  # as the page prints them
BASKET = "/basket/"


class _Page(HTMLParser):
    """The text of elements by id, and the attributes of every element (stdlib only)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.texts: dict[str, str] = {}
        self.elements: list[tuple[str, dict]] = []
        self._open: list[tuple[str, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag in {"input", "meta", "link", "br", "img"}:
            return
        self._open.append((tag, attributes.get("id")))
        if attributes.get("id"):
            self.texts[attributes["id"]] = ""

    def handle_endtag(self, tag):
        while self._open:
            open_tag, _ = self._open.pop()
            if open_tag == tag:
                break

    def handle_data(self, data):
        for _, element_id in self._open:
            if element_id:
                self.texts[element_id] += data

    def text(self, element_id: str) -> str:
        return " ".join(self.texts[element_id].split())

    def find(self, tag: str, **attributes) -> list[dict]:
        return [
            attrs
            for name, attrs in self.elements
            if name == tag and all(attrs.get(k) == v for k, v in attributes.items())
        ]


def page(client) -> tuple[object, _Page]:
    response = client.get(BASKET)
    assert response.status_code == 200
    return response, _Page(response.content.decode())


def live(tenant, products=(), **fields):
    """An active promotion of the tenant's brand, saved and compiled through the service."""
    relations = {"products": [p.pk for p in products]} if products else None
    fields.setdefault("all_products", not products)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return promotion_save(
            promotion=PromotionFactory.build(brand=tenant.brand, status="active", **fields),
            relations=relations,
        )


def vip_rule():
    """The user's VIP example, set up the way an admin does it."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        from labels.models import Label

        label = Label.objects.create(name="Customer_VIP", type="customer")
        trigger = RuleTrigger.objects.create(
            name="On Order Creation Trigger", code="discount_vip", event="order.created"
        )
        rule = Rule.objects.create(
            name="VIP Order Discount Rule", status="ENABLED", trigger=trigger
        )
        RuleCondition.objects.create(
            rule=rule, entity="CUSTOMER", operator="HAS_LABEL", label=label
        )
        RuleAction.objects.create(
            rule=rule,
            action_type="DISCOUNT",
            action_params={"percentage": "10", "description": "VIP New Order Discount"},
        )
    return label, rule


def signed_in(customer) -> Client:
    client = Client()
    # The login lockout looks at the request of every authentication.
    assert client.login(request=HttpRequest(), username=customer.user.username, password=PASSWORD)
    return client


def add(client, sku, quantity=1):
    return client.post(f"{BASKET}add/", {"sku": sku, "quantity": quantity})


def basket_lines(client) -> list[list[int]]:
    return client.session.get(BASKET_SESSION_KEY, {}).get("lines", [])


def place(client):
    _, html = page(client)
    key = html.find("input", name="idempotency_key")[0]["value"]
    return client.post(f"{BASKET}place/", {"idempotency_key": key}), key


# --- empty basket, adding, errors -------------------------------------------------------------


def test_empty_basket_has_a_friendly_state_no_totals_and_place_disabled(a, client):
    response, html = page(client)

    content = response.content.decode()
    assert "Your basket is empty." in content
    assert "basket-total" not in html.texts
    (button,) = [b for b in html.find("button", type="submit") if "disabled" in b]
    assert button.get("aria-describedby") == "place-note"
    assert "Add a product to place an order." in html.text("place-note")
    assert response["Cache-Control"].startswith("max-age=0")


def test_an_anonymous_visitor_adds_products_by_sku_and_sees_pipeline_totals(a, client):
    response = add(client, "APPLE-a", 2)
    assert response.status_code == 302
    add(client, "BREAD-a", 1)
    add(client, "APPLE-a", 1)  # adds to the existing line

    _, html = page(client)

    assert basket_lines(client) == [[a.product.pk, 3], [a.cheap_product.pk, 1]]
    assert html.text("basket-subtotal") == "39.50 EUR"
    assert html.text("basket-total") == "39.50 EUR"
    assert f"Added 1 {TIMES} Apple a to your basket." in html.text("main")
    assert "Sign in to place your order" in html.text("place-note")


@pytest.mark.parametrize(
    "sku, message",
    [
        ("NOPE-404", "No product with SKU “NOPE-404” is on sale at Brand A."),
        ("OLD-a", "No product with SKU “OLD-a” is on sale at Brand A."),  # inactive
        ("APPLE-b", "No product with SKU “APPLE-b” is on sale at Brand A."),  # other brand
        ("", "Enter the SKU of a product."),
        ("x" * 65, "A SKU has at most 64 characters."),
    ],
)
def test_an_unknown_or_inactive_sku_is_a_clear_error_on_the_field(a, b, client, sku, message):
    add(client, "APPLE-a", 1)

    response = add(client, sku, 1)

    assert response.status_code == 400
    html = _Page(response.content.decode())
    assert html.text("id_sku_error") == message
    (sku_input,) = html.find("input", name="sku")
    assert sku_input["aria-invalid"] == "true"
    assert "id_sku_error" in sku_input["aria-describedby"]
    # The error summary at the top links to the field.
    assert html.find("a", href="#id_sku")
    assert html.text("problems-heading") == "There is a problem"
    assert basket_lines(client) == [[a.product.pk, 1]]
    assert html.text("basket-total") == "12.50 EUR"  # the rest of the page still renders


@pytest.mark.parametrize("quantity", [0, -1, MAX_QUANTITY + 1, "two", "1.5", ""])
def test_quantity_out_of_bounds_is_refused_when_adding(a, client, quantity):
    response = add(client, "APPLE-a", quantity)

    assert response.status_code == 400
    html = _Page(response.content.decode())
    assert html.text("id_quantity_error") == f"Enter a whole number from 1 to {MAX_QUANTITY}."
    assert basket_lines(client) == []


def test_quantity_of_a_line_is_updated_within_bounds(a, client):
    add(client, "APPLE-a", 1)
    url = f"{BASKET}lines/{a.product.pk}/"
    field = f"line-{a.product.pk}-quantity"

    too_many = client.post(url, {field: MAX_QUANTITY + 1})
    zero = client.post(url, {field: 0})
    assert basket_lines(client) == [[a.product.pk, 1]]
    most = client.post(url, {field: MAX_QUANTITY})

    assert (too_many.status_code, zero.status_code, most.status_code) == (400, 400, 302)
    error_html = _Page(zero.content.decode())
    assert error_html.text(f"id_{field}_error") == f"Enter a whole number from 1 to {MAX_QUANTITY}."
    assert basket_lines(client) == [[a.product.pk, MAX_QUANTITY]]
    _, html = page(client)
    assert html.text("basket-subtotal") == "125000.00 EUR"
    # Adding more than the cap in all is refused, naming what the basket already has.
    over = add(client, "APPLE-a", 1)
    assert over.status_code == 400
    assert f"already has {MAX_QUANTITY}" in _Page(over.content.decode()).text("id_quantity_error")


def test_quantity_controls_are_labelled_for_each_line(a, client):
    add(client, "APPLE-a", 2)

    response, html = page(client)

    (quantity,) = html.find("input", name=f"line-{a.product.pk}-quantity")
    assert (quantity["min"], quantity["max"], quantity["value"]) == ("1", str(MAX_QUANTITY), "2")
    content = response.content.decode()
    assert f'<label for="{quantity["id"]}">Quantity<span class="visually-hidden"> of Apple a' in (
        content
    )
    assert 'Remove<span class="visually-hidden"> Apple a</span>' in content


def test_a_line_is_removed(a, client):
    add(client, "APPLE-a", 2)
    add(client, "BREAD-a", 1)

    response = client.post(f"{BASKET}lines/{a.product.pk}/remove/")

    assert response.status_code == 302
    assert basket_lines(client) == [[a.cheap_product.pk, 1]]
    _, html = page(client)
    assert html.text("basket-total") == "2.00 EUR"
    client.post(f"{BASKET}lines/{a.cheap_product.pk}/remove/")
    response, html = page(client)
    assert "Your basket is empty." in response.content.decode()


def test_a_product_taken_off_sale_leaves_the_basket_with_a_notice(a, client):
    add(client, "APPLE-a", 1)
    add(client, "BREAD-a", 1)
    a.product.is_active = False
    a.product.save()

    _, html = page(client)

    assert "no longer on sale" in html.text("main")
    assert basket_lines(client) == [[a.cheap_product.pk, 1]]
    assert html.text("basket-total") == "2.00 EUR"


def test_a_tampered_session_basket_never_breaks_the_page(a, client):
    session = client.session
    session[BASKET_SESSION_KEY] = {
        "brand_id": "x",
        "lines": [[a.product.pk, 2], ["y", 1], [a.cheap_product.pk, 10**9], 5, [True, 1]],
        "codes": [None, "SPRING"],
        "payment_method": 7,
    }
    session.save()

    _, html = page(client)

    assert html.text("basket-total") == "25.00 EUR"
    assert basket_lines(client) == [[a.product.pk, 2]]


# --- codes, promotions, suggestions -----------------------------------------------------------


def test_a_voucher_code_applies_its_promotion_and_can_be_removed(a, client):
    spring = live(a, params={"percent": "10"}, code="SPRING", name="Spring ten")
    add(client, "APPLE-a", 2)

    entered = client.post(f"{BASKET}codes/", {"code": "  spring "})
    _, with_code = page(client)
    client.post(f"{BASKET}codes/remove/", {"code": "SPRING"})
    _, without = page(client)

    assert entered.status_code == 302
    assert with_code.text("basket-discount") == f"{MINUS}2.50 EUR"
    assert with_code.text("basket-total") == "22.50 EUR"
    (row,) = with_code.find("tr", **{"data-promotion": str(spring.pk)})
    assert row is not None
    assert without.text("basket-total") == "25.00 EUR"
    assert client.session[BASKET_SESSION_KEY]["codes"] == []


def test_voucher_code_errors_are_shown_on_the_field(a, client):
    too_long = client.post(f"{BASKET}codes/", {"code": "C" * 41})
    blank = client.post(f"{BASKET}codes/", {"code": "   "})
    for index in range(10):
        client.post(f"{BASKET}codes/", {"code": f"CODE{index}"})
    eleventh = client.post(f"{BASKET}codes/", {"code": "ONE-MORE"})

    assert (too_long.status_code, blank.status_code, eleventh.status_code) == (400, 400, 400)
    assert "at most 40 characters" in _Page(too_long.content.decode()).text("id_code_error")
    assert _Page(blank.content.decode()).text("id_code_error") == "Enter a voucher code."
    assert "At most 10 voucher codes" in _Page(eleventh.content.decode()).text("id_code_error")
    assert len(client.session[BASKET_SESSION_KEY]["codes"]) == 10


def test_suggestions_next_threshold_tier_and_free_gift(a, client):
    gift = ProductFactory(brand=a.brand, sku="GIFT-a", name="Gift mug", price=Decimal("4.00"))
    live(
        a,
        type="threshold",
        name="Spend more",
        params={"tiers": [{"min_subtotal": "30.00", "amount": "5.00"}]},
    )
    live(
        a,
        [a.product],
        type="free_item",
        name="Mug with apples",
        params={"gift_product": gift.pk, "gift_quantity": 1, "trigger_quantity": 2},
    )
    add(client, "APPLE-a", 2)  # 25.00

    response, _ = page(client)
    content = response.content.decode()
    assert "Spend 5.00 EUR more to get 5.00 EUR off" in content
    assert f"Add 1 {TIMES} Gift mug — it is free with Mug with apples." in content

    # The suggestion's button adds the gift through the same form as the SKU field.
    add(client, "GIFT-a", 1)
    _, html = page(client)
    assert basket_lines(client)[-1] == [gift.pk, 1]
    assert html.text("basket-discount") == f"{MINUS}4.00 EUR"
    assert html.text("basket-total") == "25.00 EUR"


def test_a_payment_method_suggestion_is_chosen_with_one_button(a, client):
    live(
        a,
        type="payment_discount",
        name="Card five",
        params={"payment_methods": ["card_x"], "percent": "5"},
    )
    add(client, "APPLE-a", 2)  # 25.00
    response, before = page(client)
    assert "Save 1.25 EUR when you pay with card_x" in response.content.decode()
    assert before.text("basket-total") == "25.00 EUR"

    client.post(f"{BASKET}payment-method/", {"payment_method": "card_x"})
    response, chosen = page(client)
    client.post(f"{BASKET}payment-method/", {"payment_method": ""})
    _, cleared = page(client)

    assert chosen.text("basket-total") == "23.75 EUR"
    assert "Paying with <strong>card_x</strong>" in response.content.decode()
    assert cleared.text("basket-total") == "25.00 EUR"


# --- who orders: anonymous, customer, staff ---------------------------------------------------


def test_an_anonymous_visitor_cannot_place_and_is_sent_to_sign_in(a, client):
    add(client, "APPLE-a", 1)
    before = Order.objects.count()

    response, _ = place(client)

    assert response.status_code == 302
    assert response["Location"] == "/basket/login/?next=%2Fbasket%2F"
    assert Order.objects.count() == before
    assert basket_lines(client) == [[a.product.pk, 1]]


def test_signing_in_keeps_the_basket_and_the_customer_places_it(a, client):
    add(client, "APPLE-a", 2)

    login = client.post(
        f"{BASKET}login/",
        {"username": a.customer.email, "password": PASSWORD, "next": BASKET},
    )
    response, key = place(client)

    assert login.status_code == 302 and login["Location"] == BASKET
    assert response.status_code == 302
    order = Order.objects.get(idempotency_key=key)
    assert response["Location"] == f"/basket/orders/{order.pk}/"
    assert (order.customer, order.brand, order.channel) == (a.customer, a.brand, "web")
    assert order.total == Decimal("25.00")
    assert basket_lines(client) == []


def test_a_wrong_password_is_a_clear_error(a, client):
    response = client.post(f"{BASKET}login/", {"username": a.customer.email, "password": "x"})

    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert "enter a correct" in response.content.decode().lower()


def test_place_order_once_on_double_submit(a):
    client = signed_in(a.customer)
    add(client, "APPLE-a", 2)
    _, html = page(client)
    key = html.find("input", name="idempotency_key")[0]["value"]
    before = Order.objects.count()

    first = client.post(f"{BASKET}place/", {"idempotency_key": key})
    second = client.post(f"{BASKET}place/", {"idempotency_key": key})
    # A submit racing the first one still saw the basket in its session: same key, one order.
    session = client.session
    session[BASKET_SESSION_KEY] = {
        "brand_id": a.brand.pk,
        "lines": [[a.product.pk, 2]],
        "codes": [],
    }
    session["storefront_placed_orders"] = {}
    session.save()
    racing = client.post(f"{BASKET}place/", {"idempotency_key": key})

    assert Order.objects.count() == before + 1
    order = Order.objects.get(idempotency_key=key)
    assert first["Location"] == second["Location"] == racing["Location"]
    assert first["Location"] == f"/basket/orders/{order.pk}/"


@pytest.mark.django_db(transaction=True)
def test_two_submits_at_the_same_instant_place_one_order(a):
    client = signed_in(a.customer)
    add(client, "APPLE-a", 2)
    _, html = page(client)
    key = html.find("input", name="idempotency_key")[0]["value"]
    cookie = client.cookies["sessionid"].value
    start = threading.Barrier(2)
    locations: list[str] = []

    def submit():
        twin = Client()
        twin.cookies["sessionid"] = cookie  # the same browser session, like a double click
        try:
            start.wait()
            locations.append(twin.post(f"{BASKET}place/", {"idempotency_key": key})["Location"])
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    (order,) = Order.objects.filter(idempotency_key=key)
    assert locations == [f"/basket/orders/{order.pk}/"] * 2
    assert order.lines.get().quantity == 2


def test_the_confirmation_shows_the_stored_order(a):
    client = signed_in(a.customer)
    add(client, "APPLE-a", 2)
    response, _ = place(client)

    confirmation = client.get(response["Location"])

    order = Order.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1]))
    html = _Page(confirmation.content.decode())
    assert confirmation.status_code == 200
    assert html.text("order-id") == str(order.pk)
    assert html.text("order-subtotal") == "25.00 EUR"
    assert html.text("order-total") == "25.00 EUR"
    assert html.text("order-discount-total") == "0.00 EUR"


def test_the_confirmation_is_only_for_whoever_may_see_the_order(a, b):
    mine = signed_in(a.customer).get(f"{BASKET}orders/{a.order.pk}/")
    other_customer = signed_in(b.customer).get(f"{BASKET}orders/{a.order.pk}/")
    anonymous = Client().get(f"{BASKET}orders/{a.order.pk}/")
    other_staff = Client()
    other_staff.force_login(b.staff)
    huge = signed_in(a.customer).get(f"{BASKET}orders/{2**70}/")

    assert mine.status_code == 200
    assert other_customer.status_code == 404
    assert anonymous.status_code == 404
    assert other_staff.get(f"{BASKET}orders/{a.order.pk}/").status_code == 404
    assert huge.status_code == 404


def test_staff_choose_a_brand_and_a_customer_and_place_for_them(a, b):
    label, _ = vip_rule()
    label_assign_customer(label=label, customer=a.customer)
    client = Client()
    client.force_login(a.staff)
    add(client, "APPLE-a", 2)
    _, unpriced = page(client)
    assert "Choose the customer this order is for." in unpriced.text("place-note")
    assert unpriced.text("basket-total") == "25.00 EUR"

    chosen = client.post(
        f"{BASKET}context/", {"brand": a.brand.pk, "customer_email": a.customer.email.upper()}
    )
    _, html = page(client)
    response, key = place(client)

    assert chosen.status_code == 302
    assert html.text("basket-total") == "22.50 EUR"  # the customer's VIP discount
    assert "place-note" not in html.texts
    order = Order.objects.get(idempotency_key=key)
    assert (order.customer, order.brand, order.total) == (a.customer, a.brand, Decimal("22.50"))
    assert response["Location"] == f"/basket/orders/{order.pk}/"


def test_staff_cannot_choose_another_brand_or_its_customers(a, b):
    client = Client()
    client.force_login(a.staff)

    other_brand = client.post(f"{BASKET}context/", {"brand": b.brand.pk, "customer_email": ""})
    other_customer = client.post(
        f"{BASKET}context/", {"brand": a.brand.pk, "customer_email": b.customer.email}
    )

    assert other_brand.status_code == 400
    assert "Choose one of the brands listed." in other_brand.content.decode()
    assert other_customer.status_code == 400
    assert _Page(other_customer.content.decode()).text("id_customer_email_error") == (
        f"No customer of your brands has the email “{b.customer.email}”."
    )
    _, html = page(client)
    assert [o.get("value") for o in html.find("option") if o.get("value", "").isdigit()] == [
        str(a.brand.pk)
    ]


def test_staff_without_the_add_order_permission_cannot_place(a):
    analyst = StaffUserFactory(username="analyst-a")
    analyst.groups.add(Group.objects.get(name=ANALYST))
    a.brand.staff.add(analyst)
    client = Client()
    client.force_login(analyst)
    add(client, "APPLE-a", 1)
    client.post(f"{BASKET}context/", {"brand": a.brand.pk, "customer_email": a.customer.email})
    before = Order.objects.count()

    response, _ = place(client)

    assert response.status_code == 403
    assert "Your role cannot place orders." in response.content.decode()
    assert Order.objects.count() == before


def test_choosing_another_brand_empties_the_basket(a, b, client):
    add(client, "APPLE-a", 1)

    client.post(f"{BASKET}context/", {"brand": b.brand.pk})
    _, html = page(client)

    assert basket_lines(client) == []
    assert "Your basket was emptied" in html.text("main")
    assert add(client, "APPLE-b", 1).status_code == 302


def test_forms_are_csrf_protected(a):
    client = Client(enforce_csrf_checks=True)

    response = client.post(f"{BASKET}add/", {"sku": "APPLE-a", "quantity": 1})

    assert response.status_code == 403
    assert basket_lines(client) == []


def test_actions_refuse_get_and_unknown_lines_quietly(a, client):
    assert client.get(f"{BASKET}place/").status_code == 405
    assert client.post(f"{BASKET}lines/999999/", {"line-999999-quantity": 1}).status_code == 302
    assert (
        client.post(f"{BASKET}place/", {"idempotency_key": "bad key with spaces"}).status_code
        == 302
    )


# --- the same pipeline as the API --------------------------------------------------------------


def test_the_page_shows_exactly_what_basket_price_computes(a):
    label, rule = vip_rule()
    label_assign_customer(label=label, customer=a.customer)
    promotion = live(a, [a.cheap_product], params={"percent": "25"}, name="Bread quarter")
    client = signed_in(a.customer)
    add(client, "APPLE-a", 3)
    add(client, "BREAD-a", 2)

    _, html = page(client)

    expected = basket_price(
        brand=a.brand,
        lines=[
            LineRequest(product_id=a.product.pk, quantity=3),
            LineRequest(product_id=a.cheap_product.pk, quantity=2),
        ],
        customer=a.customer,
    ).as_dict()
    assert html.text("basket-subtotal") == f"{expected['subtotal']} EUR"
    assert html.text("basket-discount") == f"{MINUS}{expected['discount_total']} EUR"
    assert html.text("basket-total") == f"{expected['total']} EUR"
    for line in expected["lines"]:
        assert html.text(f"line-{line['product']}-total") == f"{line['total']} EUR"
        assert html.text(f"line-{line['product']}-discount") == f"{MINUS}{line['discount']} EUR"
    (applied,) = expected["promotions"]
    assert applied["promotion_id"] == promotion.pk
    (vip,) = expected["rule_discounts"]
    assert vip["rule_id"] == rule.pk
    # The VIP discount: a green alert that says what it is, not only by its colour.
    (alert,) = html.find("div", id=f"rule-discount-{rule.pk}")
    assert (alert["class"], alert["role"]) == ("alert alert--success rule-discount", "status")
    assert html.text(f"rule-discount-{rule.pk}") == (
        f"✓ VIP New Order Discount: {MINUS}10% — you save {vip['amount']} EUR on this order."
    )
    (row,) = html.find("tr", **{"data-rule": str(rule.pk)})
    assert row["class"] == "totals__discount"
    assert expected["total"] == "36.45"  # 41.50 - 1.00 (bread) - 10% of 40.50 (4.05)


def test_a_non_vip_customer_sees_no_rule_discount(a):
    vip_rule()
    client = signed_in(a.customer)
    add(client, "APPLE-a", 2)

    response, html = page(client)

    assert "VIP New Order Discount" not in response.content.decode()
    assert 'class="alert alert--success rule-discount"' not in response.content.decode()
    assert html.text("basket-total") == "25.00 EUR"
