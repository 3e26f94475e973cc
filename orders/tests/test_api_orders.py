"""Orders API: placing orders as a customer, staff or a device; idempotency; reads by scope."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from brands.roles import ANALYST
from brands.tests.factories import StoreFactory, make_device
from core.tests.api_world import (
    assert_error,
    device_client,
    ids,
    staff_user,
    token_client,
)
from customers.models import CustomerBrand
from orders.models import Order, OrderLine
from orders.services.payment import order_set_payment_status
from orders.tests.factories import place_order

pytestmark = pytest.mark.django_db


def body_for(tenant, **extra):
    return {
        "lines": [
            {"product": tenant.product.pk, "quantity": 2},
            {"sku": tenant.cheap_product.sku, "quantity": 3},
        ],
        **extra,
    }


# --- placing orders ---------------------------------------------------------------------------


def test_a_customer_orders_for_themself_at_the_brand_of_the_header(a, b):
    response = token_client(a.customer.user).post(
        "/api/v1/orders/", body_for(b, payment_method="card"), HTTP_X_BRAND="brand-b"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    order = Order.objects.get(pk=body["id"])
    assert (order.brand, order.customer, order.channel) == (b.brand, a.customer, "web")
    assert body["total"] == "31.00"  # 2 x 12.50 + 3 x 2.00, prices from the catalog
    assert body["currency"] == "EUR"
    assert [(line["sku"], line["quantity"], line["unit_price"]) for line in body["lines"]] == [
        ("APPLE-b", 2, "12.50"),
        ("BREAD-b", 3, "2.00"),
    ]
    # Ordering at a brand makes the customer known to it.
    assert CustomerBrand.objects.filter(customer=a.customer, brand=b.brand).exists()


def test_a_customer_names_the_brand_in_the_body(a):
    response = token_client(a.customer.user).post(
        "/api/v1/orders/", body_for(a, brand="brand-a", channel="app", store="store-a")
    )

    assert response.status_code == 201, response.json()
    assert (response.json()["store"], response.json()["channel"]) == ("store-a", "app")


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({}, "brand_required"),
        ({"brand": "nope"}, "unknown_brand"),
        ({"brand": "brand-a", "channel": "pos"}, "invalid_channel"),
        ({"brand": "brand-a", "store": "store-b"}, "unknown_store"),
    ],
)
def test_customer_order_refusals(a, b, extra, code):
    before = Order.objects.count()

    response = token_client(a.customer.user).post("/api/v1/orders/", body_for(a, **extra))

    assert_error(response, 400, code)
    assert Order.objects.count() == before


def test_a_customer_cannot_order_for_someone_else(a, b):
    before = Order.objects.count()

    response = token_client(a.customer.user).post(
        "/api/v1/orders/", body_for(a, brand="brand-a", customer=b.customer.pk)
    )

    assert_error(response, 400, "customer_mismatch")
    assert Order.objects.count() == before


def test_products_of_another_brand_or_inactive_ones_cannot_be_ordered(a, b):
    body = {
        "brand": "brand-a",
        "lines": [
            {"product": b.product.pk, "quantity": 1},
            {"product": a.inactive_product.pk, "quantity": 1},
            {"product": a.product.pk, "quantity": 1},
        ],
    }

    response = token_client(a.customer.user).post("/api/v1/orders/", body)

    error = assert_error(response, 400, "invalid_lines")
    assert set(error["fields"]) == {"lines.0.product", "lines.1.product"}


def test_staff_order_for_a_customer_of_their_brand(a):
    response = token_client(a.staff).post(
        "/api/v1/orders/", body_for(a, brand="brand-a", customer=a.customer.pk, store="store-a")
    )

    assert response.status_code == 201, response.json()
    order = Order.objects.get(pk=response.json()["id"])
    assert (order.customer, order.store) == (a.customer, a.store)


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"brand": "brand-b"}, "unknown_brand"),
        ({"brand": "brand-a", "customer": "B"}, "unknown_customer"),
        ({"brand": "brand-a", "store": "store-b"}, "unknown_store"),
    ],
)
def test_staff_cannot_order_outside_their_brands(a, b, extra, code):
    if extra.get("customer") == "B":
        extra = {**extra, "customer": b.customer.pk}
    before = Order.objects.count()

    response = token_client(a.staff).post("/api/v1/orders/", body_for(a, **extra))

    assert_error(response, 400, code)
    assert Order.objects.count() == before


def test_staff_without_the_add_permission_cannot_order(a):
    client = token_client(staff_user("analyst", role=ANALYST, brands=[a.brand]))

    response = client.post("/api/v1/orders/", body_for(a, brand="brand-a"))

    assert_error(response, 403, "permission_denied")


def test_a_device_orders_for_its_store_on_the_pos_channel(a):
    response = device_client(a.device_key).post(
        "/api/v1/orders/", body_for(a, channel="web", customer=a.customer.pk)
    )

    assert response.status_code == 201, response.json()
    order = Order.objects.get(pk=response.json()["id"])
    assert (order.brand, order.store, order.channel) == (a.brand, a.store, "pos")
    assert order.customer == a.customer


def test_a_device_cannot_order_for_another_store_brand_or_customer(a, b):
    other_store = StoreFactory(brand=a.brand, code="other")
    client = device_client(a.device_key)
    before = Order.objects.count()

    wrong_store = client.post("/api/v1/orders/", body_for(a, store=other_store.code))
    wrong_customer = client.post("/api/v1/orders/", body_for(a, customer=b.customer.pk))
    wrong_products = client.post("/api/v1/orders/", body_for(b, brand="brand-b"))

    assert_error(wrong_store, 400, "store_mismatch")
    assert_error(wrong_customer, 400, "unknown_customer")
    assert_error(wrong_products, 400, "invalid_lines")
    assert Order.objects.count() == before


# --- idempotency ------------------------------------------------------------------------------


def test_a_replay_returns_the_first_order_with_200(a):
    client = token_client(a.customer.user)
    body = body_for(a, brand="brand-a")

    first = client.post("/api/v1/orders/", body, HTTP_IDEMPOTENCY_KEY="order-123")
    replay = client.post("/api/v1/orders/", body, HTTP_IDEMPOTENCY_KEY="order-123")

    assert first.status_code == 201
    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert Order.objects.filter(idempotency_key="order-123").count() == 1


def test_the_same_key_with_another_body_is_409(a):
    client = token_client(a.customer.user)
    client.post("/api/v1/orders/", body_for(a, brand="brand-a"), HTTP_IDEMPOTENCY_KEY="k1")
    other = {"brand": "brand-a", "lines": [{"product": a.product.pk, "quantity": 9}]}

    response = client.post("/api/v1/orders/", other, HTTP_IDEMPOTENCY_KEY="k1")

    assert_error(response, 409, "idempotency_key_reused")
    assert Order.objects.filter(idempotency_key="k1").count() == 1


def test_without_a_key_each_request_is_a_new_order(a):
    client = token_client(a.customer.user)
    before = Order.objects.count()

    client.post("/api/v1/orders/", body_for(a, brand="brand-a"))
    client.post("/api/v1/orders/", body_for(a, brand="brand-a"))

    assert Order.objects.count() == before + 2


def test_keys_are_per_brand(a, b):
    first = device_client(a.device_key).post(
        "/api/v1/orders/", body_for(a), HTTP_IDEMPOTENCY_KEY="till-1"
    )
    second = device_client(b.device_key).post(
        "/api/v1/orders/", body_for(b), HTTP_IDEMPOTENCY_KEY="till-1"
    )

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]


@pytest.mark.parametrize("key", ["x" * 129, "has space", "caf\u00e9"])
def test_a_malformed_key_is_400(a, key):
    before = Order.objects.count()

    response = device_client(a.device_key).post(
        "/api/v1/orders/", body_for(a), HTTP_IDEMPOTENCY_KEY=key
    )

    assert_error(response, 400, "invalid_idempotency_key")
    assert Order.objects.count() == before


# --- reading ----------------------------------------------------------------------------------


def test_a_customer_reads_only_their_own_orders(a, b):
    client = token_client(a.customer.user)

    assert ids(client.get("/api/v1/orders/")) == {a.order.pk}
    assert client.get(f"/api/v1/orders/{a.order.pk}/").json()["lines"][0]["sku"] == "APPLE-a"
    assert_error(client.get(f"/api/v1/orders/{b.order.pk}/"), 404, "not_found")


def test_a_customer_of_two_brands_sees_their_orders_at_both(a, b):
    other = place_order(
        brand=b.brand, products_and_quantities=[(b.product, 1)], customer=a.customer
    )

    assert ids(token_client(a.customer.user).get("/api/v1/orders/")) == {a.order.pk, other.pk}
    # ... and brand B's staff see that order but not the customer's order at brand A
    assert ids(token_client(b.staff).get("/api/v1/orders/")) == {b.order.pk, other.pk}


def test_staff_read_only_their_brands_orders(a, b):
    client = token_client(a.staff)

    assert ids(client.get("/api/v1/orders/")) == {a.order.pk}
    assert_error(client.get(f"/api/v1/orders/{b.order.pk}/"), 404, "not_found")


def test_a_device_reads_only_its_stores_orders(a, b):
    client = device_client(a.device_key)

    assert ids(client.get("/api/v1/orders/")) == {a.order.pk}
    assert_error(client.get(f"/api/v1/orders/{b.order.pk}/"), 404, "not_found")


def test_a_device_sees_and_changes_only_its_own_stores_orders(a):
    # Given a second store of the same brand with its own till and order, and a web order
    other_store = StoreFactory(brand=a.brand, code="store-a2")
    _, other_key = make_device(store=other_store, name="Till a2")
    other_order = place_order(
        brand=a.brand, products_and_quantities=[(a.product, 1)], store=other_store
    )
    web_order = place_order(brand=a.brand, products_and_quantities=[(a.product, 1)])
    client = device_client(other_key)

    # Then the till of store 2 lists and reads only store 2's orders
    assert ids(client.get("/api/v1/orders/")) == {other_order.pk}
    assert client.get(f"/api/v1/orders/{other_order.pk}/").status_code == 200
    for foreign in (a.order, web_order):
        assert_error(client.get(f"/api/v1/orders/{foreign.pk}/"), 404, "not_found")
        cancel = client.post(
            f"/api/v1/orders/{foreign.pk}/payment-status/", {"payment_status": "cancelled"}
        )
        assert_error(cancel, 404, "not_found")
        foreign.refresh_from_db()
        assert foreign.payment_status == "pending"
    # ... and still changes its own
    own = client.post(
        f"/api/v1/orders/{other_order.pk}/payment-status/", {"payment_status": "cancelled"}
    )
    assert own.status_code == 200, own.json()


def test_a_superuser_reads_every_order(a, b):
    client = token_client(staff_user("root", superuser=True))

    assert ids(client.get("/api/v1/orders/")) == {a.order.pk, b.order.pk}


def test_order_detail(a):
    body = token_client(a.staff).get(f"/api/v1/orders/{a.order.pk}/").json()

    assert body["brand"] == "brand-a"
    assert body["store"] == "store-a"
    assert body["customer"] == a.customer.pk
    assert body["payment_status"] == "pending"
    assert (body["subtotal"], body["discount_total"], body["total"]) == ("25.00", "0.00", "25.00")
    assert body["lines"] == [
        {
            "id": a.order.lines.get().pk,
            "product": a.product.pk,
            "sku": "APPLE-a",
            "name": "Apple a",
            "quantity": 2,
            "unit_price": "12.50",
            "line_discount": "0.00",
            "subtotal": "25.00",
            "total": "25.00",
            "allocations": [],
        }
    ]
    assert body["applied_promotions"] == []


# --- filters and pagination -------------------------------------------------------------------


@pytest.fixture
def orders_a(a):
    second_store = StoreFactory(brand=a.brand, code="second")
    paid = place_order(brand=a.brand, products_and_quantities=[(a.product, 1)], channel="pos")
    order_set_payment_status(order_id=paid.pk, to_status="paid")
    app = place_order(
        brand=a.brand,
        products_and_quantities=[(a.cheap_product, 1)],
        channel="app",
        store=second_store,
    )
    old = place_order(brand=a.brand, products_and_quantities=[(a.cheap_product, 4)])
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    return {"first": a.order, "paid": paid, "app": app, "old": old}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("payment_status=paid", {"paid"}),
        ("payment_status=pending", {"first", "app", "old"}),
        ("channel=pos", {"paid"}),
        ("channel=app", {"app"}),
        ("store=store-a", {"first"}),
        ("store=second", {"app"}),
        ("customer=CUSTOMER", {"first"}),
        ("created_before=DAYS_AGO", {"old"}),
        ("created_after=DAYS_AGO", {"first", "paid", "app"}),
        ("brand=brand-a&channel=web", {"first", "old"}),
    ],
)
def test_order_filters(a, orders_a, query, expected):
    days_ago = (timezone.now() - timedelta(days=5)).isoformat().replace("+", "%2B")
    query = query.replace("CUSTOMER", str(a.customer.pk)).replace("DAYS_AGO", days_ago)

    response = token_client(a.staff).get(f"/api/v1/orders/?{query}")

    assert ids(response) == {orders_a[name].pk for name in expected}


def test_orders_are_newest_first_and_paginated(a, orders_a):
    client = token_client(a.staff)

    page_1 = client.get("/api/v1/orders/?page_size=3").json()
    page_2 = client.get("/api/v1/orders/?page_size=3&page=2").json()

    assert page_1["count"] == 4
    listed = [row["id"] for row in page_1["results"] + page_2["results"]]
    assert listed[-1] == orders_a["old"].pk
    assert len(listed) == len(set(listed)) == 4
    assert "lines" not in page_1["results"][0]


@pytest.mark.parametrize(
    "query",
    [
        "payment_status=stolen",
        "channel=fax",
        "customer=abc",
        "customer=-3",
        "created_after=yesterday",
        "store=%00",
    ],
)
def test_bad_order_filters_are_400(a, query):
    assert_error(token_client(a.staff).get(f"/api/v1/orders/?{query}"), 400, "validation_error")


def test_order_list_query_count_does_not_grow_with_rows(a, django_assert_max_num_queries):
    for _ in range(3):
        place_order(brand=a.brand, products_and_quantities=[(a.product, 1)], store=a.store)
    client = device_client(a.device_key)

    with django_assert_max_num_queries(4):
        response = client.get("/api/v1/orders/")

    assert response.json()["count"] == 4


def test_lines_are_written_from_the_catalog_not_the_client(a):
    body = {
        "brand": "brand-a",
        "lines": [{"product": a.product.pk, "quantity": 1, "unit_price": "0.01"}],
        "total": "0.01",
    }

    response = token_client(a.customer.user).post("/api/v1/orders/", body)

    assert response.status_code == 201
    line = OrderLine.objects.get(order_id=response.json()["id"])
    assert line.unit_price == Decimal("12.50")


def test_a_quote_dated_before_the_year_1000_is_priced_not_a_500(a):
    # The store's local time is "YYYY-MM-DDTHH:MM" for the engines, the year zero-padded
    response = token_client(a.staff).post(
        "/api/v1/pricing/quote/",
        {
            "brand": "brand-a",
            "lines": [{"sku": a.product.sku, "quantity": 1}],
            "at": "0779-02-16T13:34:34Z",
        },
        format="json",
    )

    assert response.status_code == 200, response.content
