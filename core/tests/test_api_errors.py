"""Every API error has the body `{"code", "message", "fields"}`; bad input never writes or 500s."""

import json

import pytest
from django.contrib.auth import get_user_model

from core.tests.api_world import (
    assert_error,
    device_client,
    token_client,
)
from customers.models import Customer, CustomerBrand
from labels.models import CustomerLabel, Label, ProductLabel
from labels.tests.factories import LabelFactory
from orders.models import Order, OrderLine, PaymentStatusChange

pytestmark = pytest.mark.django_db


# --- one format for each status ---------------------------------------------------------------


def test_400_validation_error_names_the_nested_field(a):
    response = token_client(a.customer.user).post(
        "/api/v1/orders/",
        {"brand": "brand-a", "lines": [{"product": a.product.pk, "quantity": 0}]},
    )

    body = assert_error(response, 400, "validation_error")
    assert list(body["fields"]) == ["lines.0.quantity"]
    assert body["message"] == "Invalid input: lines.0.quantity."


def test_400_from_a_service_keeps_its_code(a):
    response = token_client(a.customer.user).post(
        "/api/v1/orders/", {"brand": "brand-a", "lines": [{"sku": "NOPE", "quantity": 1}]}
    )

    body = assert_error(response, 400, "invalid_lines")
    assert body["fields"] == {"lines.0.product": ["Unknown or inactive product for this brand."]}


def test_400_malformed_json(a):
    response = token_client(a.staff).post(
        "/api/v1/customers/", '{"brand": "brand-a",', content_type="application/json"
    )

    assert_error(response, 400, "parse_error")


def test_401_without_credentials(api_client, a):
    response = api_client.get("/api/v1/orders/")

    assert_error(response, 401, "not_authenticated")
    assert response.has_header("WWW-Authenticate")


def test_401_with_a_bad_token(api_client, a):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-token")

    assert_error(api_client.get("/api/v1/orders/"), 401, "authentication_failed")


def test_401_with_a_bad_device_key(a):
    response = device_client("pos_123456789012_wrong").get("/api/v1/orders/")

    assert_error(response, 401, "authentication_failed")


def test_403_for_the_wrong_kind_of_caller(a):
    response = token_client(a.customer.user).get("/api/v1/customers/")

    body = assert_error(response, 403, "permission_denied")
    assert body["fields"] == {}


def test_404_for_an_object_out_of_scope_and_an_unknown_path(a, b):
    assert_error(token_client(a.staff).get(f"/api/v1/orders/{b.order.pk}/"), 404, "not_found")
    assert_error(token_client(a.staff).get("/api/v1/orders/abc/"), 404, "not_found")


def test_405_method_not_allowed(a):
    response = token_client(a.staff).delete(f"/api/v1/orders/{a.order.pk}/")

    assert_error(response, 405, "method_not_allowed")
    assert Order.objects.filter(pk=a.order.pk).exists()


def test_409_conflict(a):
    client = token_client(a.customer.user)
    client.post(
        "/api/v1/orders/",
        {"brand": "brand-a", "lines": [{"product": a.product.pk, "quantity": 1}]},
        HTTP_IDEMPOTENCY_KEY="k",
    )

    response = client.post(
        "/api/v1/orders/",
        {"brand": "brand-a", "lines": [{"product": a.product.pk, "quantity": 2}]},
        HTTP_IDEMPOTENCY_KEY="k",
    )

    body = assert_error(response, 409, "idempotency_key_reused")
    assert body["fields"] == {"idempotency_key": ["Used for another request."]}


def test_415_unsupported_media_type(a):
    response = token_client(a.staff).post("/api/v1/labels/", "name=x", content_type="text/plain")

    assert_error(response, 415, "unsupported_media_type")


# --- garbage at every write endpoint ----------------------------------------------------------

RAW_BODIES = [
    ("application/json", b"{"),
    ("application/json", b"{'single': 'quotes'}"),
    ("application/json", b"\xff\xfe\x00garbage"),
    ("application/json", b"NaN"),
    ("application/json", b'{"a": Infinity}'),
    ("application/json", b""),
    ("text/plain", b"hello"),
    ("application/xml", b"<order/>"),
]
NOT_OBJECTS = [[], [1, 2], [{"lines": []}], "string", 123, None, True, 1.5]
NUL = "a\x00b"
SURROGATE = "\ud800"


def staff_payloads(t):
    line = {"product": t.product.pk, "quantity": 1}
    return {
        ("post", "/api/v1/customers/"): [
            {},
            {"email": "x@example.com"},
            {"brand": None},
            {"brand": ["brand-a"]},
            {"brand": {"slug": "brand-a"}},
            {"brand": "brand-b"},
            {"brand": "no such brand!"},
            {"brand": "brand-a", "email": "not-an-email"},
            {"brand": "brand-a", "email": "customer-a@example.com"},
            {"brand": "brand-a", "birth_date": "31/31/2020"},
            {"brand": "brand-a", "birth_date": 20200101},
            {"brand": "brand-a", "first_name": {"x": 1}},
            {"brand": "brand-a", "first_name": ["x"]},
            {"brand": "brand-a", "first_name": "x" * 81},
            {"brand": "brand-a", "first_name": NUL},
            {"brand": "brand-a", "last_name": SURROGATE},
            {"brand": "brand-a", "external_id": 10**400},
            {"brand": "brand-a", "phone": "9" * 33},
        ],
        ("patch", f"/api/v1/customers/{t.customer.pk}/"): [
            {"email": "not-an-email"},
            {"email": "customer-b@example.com"},
            {"external_id": "EXT-b"},
            {"birth_date": "tomorrow"},
            {"first_name": NUL},
            {"last_name": SURROGATE},
            {"phone": {"$set": 1}},
            {"first_name": "x" * 10_000},
        ],
        ("post", "/api/v1/orders/"): [
            {},
            {"brand": "brand-a"},
            {"brand": "brand-a", "lines": None},
            {"brand": "brand-a", "lines": []},
            {"brand": "brand-a", "lines": "abc"},
            {"brand": "brand-a", "lines": {"product": t.product.pk, "quantity": 1}},
            {"brand": "brand-a", "lines": [[t.product.pk, 1]]},
            {"brand": "brand-a", "lines": [{"product": "abc", "quantity": 1}]},
            {"brand": "brand-a", "lines": [{"product": t.product.pk}]},
            {"brand": "brand-a", "lines": [{"product": t.product.pk, "quantity": -1}]},
            {"brand": "brand-a", "lines": [{"product": t.product.pk, "quantity": 0}]},
            {"brand": "brand-a", "lines": [{"product": t.product.pk, "quantity": 10**30}]},
            {"brand": "brand-a", "lines": [{"product": t.product.pk, "quantity": 1.5}]},
            {"brand": "brand-a", "lines": [{"product": t.product.pk, "quantity": "1e3"}]},
            {"brand": "brand-a", "lines": [{"product": t.product.pk, "quantity": True}]},
            {"brand": "brand-a", "lines": [{"product": 10**30, "quantity": 1}]},
            {"brand": "brand-a", "lines": [{"product": 2**63, "quantity": 1}]},
            {"brand": "brand-a", "lines": [{"product": 99999999, "quantity": 1}]},
            {"brand": "brand-a", "lines": [{"product": -5, "quantity": 1}]},
            {"brand": "brand-a", "lines": [{"sku": {"$gt": ""}, "quantity": 1}]},
            {"brand": "brand-a", "lines": [{"sku": NUL, "quantity": 1}]},
            {"brand": "brand-a", "lines": [{"sku": "APPLE-a", "product": 1, "quantity": 1}]},
            {"brand": "brand-a", "lines": [line] * 501},
            {"brand": "brand-a", "lines": [line], "customer": "abc"},
            {"brand": "brand-a", "lines": [line], "customer": 99999999},
            {"brand": "brand-a", "lines": [line], "customer": [1]},
            {"brand": "brand-a", "lines": [line], "channel": "fax"},
            {"brand": "brand-a", "lines": [line], "store": "../../etc"},
            {"brand": "brand-a", "lines": [line], "store": "nope"},
            {"brand": "brand-a", "lines": [line], "payment_method": "x" * 33},
            {"brand": "brand-a", "lines": [line], "payment_method": SURROGATE},
            {"brand": "brand-b", "lines": [line]},
            {"brand": 12, "lines": [line]},
        ],
        ("post", f"/api/v1/orders/{t.order.pk}/payment-status/"): [
            {},
            {"payment_status": None},
            {"payment_status": "stolen"},
            {"payment_status": ["paid"]},
            {"payment_status": "refunded"},
            {"payment_status": "paid", "refund_amount": "1.00"},
            {"payment_status": "paid", "refund_amount": "abc"},
            {"payment_status": "paid", "refund_amount": "1e400"},
            {"payment_status": "paid", "refund_amount": "-Infinity"},
            {"payment_status": "paid", "payment_method": "x" * 33},
            {"payment_status": "paid", "note": NUL},
            {"payment_status": "paid", "note": {"a": 1}},
        ],
        ("post", "/api/v1/labels/"): [
            {},
            {"name": "", "type": "customer", "brand": "brand-a"},
            {"name": "x", "type": "coupon", "brand": "brand-a"},
            {"name": "x" * 81, "type": "customer", "brand": "brand-a"},
            {"name": NUL, "type": "customer", "brand": "brand-a"},
            {"name": {"a": 1}, "type": "customer", "brand": "brand-a"},
            {"name": "x", "type": "customer"},
            {"name": "x", "type": "customer", "brand": None},
            {"name": "x", "type": "customer", "brand": "brand-b"},
            {"name": "Taken", "type": "customer", "brand": "brand-a"},
        ],
    }


def label_payloads(t, label):
    bodies = [
        {},
        {"customer": None},
        {"customer": "abc"},
        {"customer": -1},
        {"customer": 10**30},
        {"customer": 99999999},
        {"customer": [t.customer.pk]},
        {"product": t.product.pk},
        {"customer": t.customer.pk, "product": t.product.pk},
        {"customer": {"id": t.customer.pk}},
    ]
    return {
        ("post", f"/api/v1/labels/{label.pk}/assign/"): bodies,
        ("post", f"/api/v1/labels/{label.pk}/unassign/"): bodies,
    }


def me_payloads():
    return {
        ("patch", "/api/v1/me/"): [
            {"email": "not-an-email"},
            {"email": None},
            {"email": "customer-b@example.com"},
            {"birth_date": "1990-02-30"},
            {"first_name": NUL},
            {"first_name": ["a", "b"]},
            {"phone": "1" * 33},
        ]
    }


def device_payloads(t):
    line = {"product": t.product.pk, "quantity": 1}
    return {
        ("post", "/api/v1/orders/"): [
            {"lines": [line], "store": "other-store"},
            {"lines": [{"product": t.product.pk, "quantity": -3}]},
            {"lines": [line], "customer": 10**30},
        ],
        ("post", f"/api/v1/orders/{t.order.pk}/payment-status/"): [
            {"payment_status": "refunded", "refund_amount": "0.001"},
            {"payment_status": 7},
        ],
    }


def snapshot() -> dict:
    counts = {
        model.__name__: model.objects.count()
        for model in (
            Customer,
            CustomerBrand,
            Order,
            OrderLine,
            PaymentStatusChange,
            Label,
            CustomerLabel,
            ProductLabel,
            get_user_model(),
        )
    }
    counts["customers"] = sorted(Customer.objects.values_list("id", "updated_at"))
    counts["orders"] = sorted(
        Order.objects.values_list("id", "updated_at", "payment_status", "refunded_amount")
    )
    counts["users"] = sorted(get_user_model().objects.values_list("id", "username", "email"))
    return counts


def send(client, method, url, *, body=None, raw=None, content_type=None):
    if raw is not None:
        return getattr(client, method)(url, raw, content_type=content_type)
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


def test_garbage_at_every_write_endpoint_is_a_4xx_in_the_error_format_and_writes_nothing(a, b):
    # Given both brands, and a label name already taken
    LabelFactory(name="Taken", brand=a.brand)
    label = LabelFactory(name="Regular", brand=a.brand)
    callers = [
        (token_client(a.staff), staff_payloads(a) | label_payloads(a, label)),
        (token_client(a.customer.user), me_payloads()),
        (token_client(a.customer.user), {("post", "/api/v1/orders/"): []}),
        (device_client(a.device_key), device_payloads(a)),
    ]
    before = snapshot()
    checked = 0

    for client, endpoints in callers:
        for (method, url), bodies in endpoints.items():
            attempts = [{"body": body} for body in bodies + NOT_OBJECTS]
            # An empty body is an empty PATCH: valid, and it changes nothing.
            raw_bodies = [(ct, raw) for ct, raw in RAW_BODIES if raw or method == "post"]
            attempts += [{"raw": raw, "content_type": ct} for ct, raw in raw_bodies]
            for attempt in attempts:
                # When it is sent
                response = send(client, method, url, **attempt)

                # Then it is refused with a 4xx in the one error format
                assert 400 <= response.status_code < 500, (method, url, attempt, response.content)
                assert_error(response, response.status_code)
                checked += 1

    # And nothing was written anywhere
    assert snapshot() == before
    assert checked > 250


@pytest.mark.parametrize(
    ("content_type", "fields"),
    [
        ("multipart/form-data", None),
        ("application/x-www-form-urlencoded", "&".join(f"f{i}=1" for i in range(1001))),
    ],
)
def test_a_form_with_more_fields_than_django_accepts_is_a_400_in_the_error_format(
    a, content_type, fields
):
    # Given a form body with more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS (1000)
    client = token_client(a.staff)
    if fields is None:
        data = {f"f{i}": "1" for i in range(1001)}
        response = client.post("/api/v1/labels/", data, format="multipart")
    else:
        response = client.post("/api/v1/labels/", fields, content_type=content_type)

    # Then Django's refusal is a 400 in the one error format, not an HTML page
    assert_error(response, 400, "request_rejected")
    assert not Label.objects.exists()
