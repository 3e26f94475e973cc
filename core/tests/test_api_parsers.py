"""JSON bodies: bounded nesting, and no text PostgreSQL or UTF-8 cannot take, at every endpoint.

Without the project's parser, deep nesting was a RecursionError, a NUL in promotion params a
database error, and a lone surrogate in a choice field an encoding error: each a 500.
"""

import json

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from brands.tests.factories import BrandFactory
from core.api.errors import exception_handler
from core.tests.api_world import assert_error, device_client, token_client
from core.text import json_depth, unstorable_value
from customers.models import Customer
from labels.models import Label
from labels.tests.factories import LabelFactory
from orders.models import Order
from promotions.models import Promotion
from promotions.tests.factories import PromotionFactory
from rules.models import Rule

pytestmark = pytest.mark.django_db


def nested(depth: int) -> str:
    """`{"a": {"a": ... 1 ...}}`, `depth` objects deep, built without recursion."""
    return '{"a": ' * depth + "1" + "}" * depth


def counts() -> dict:
    return {
        model.__name__: model.objects.count() for model in (Customer, Label, Order, Promotion, Rule)
    }


def post_raw(client, url: str, raw: str):
    return client.post(url, raw, content_type="application/json")


WRITES = [
    "/api/v1/customers/",
    "/api/v1/labels/",
    "/api/v1/orders/",
    "/api/v1/promotions/",
    "/api/v1/promotions/preview/",
    "/api/v1/rules/",
]


@pytest.mark.parametrize("depth", [33, 3_000, 200_000])
def test_deep_nesting_is_a_400_parse_error_that_writes_nothing(a, depth):
    # Given a body nested past the limit (200,000 levels overflow the decoder's recursion)
    client = token_client(a.staff)
    before = counts()
    body = nested(depth)

    for url in WRITES:
        # When it is posted
        response = post_raw(client, url, body)

        # Then it is refused as a parse error, not a 500
        error = assert_error(response, 400, "parse_error")
        assert error["message"] == "JSON nested deeper than 32 levels."

    # And nothing was stored
    assert counts() == before


def test_nesting_up_to_the_limit_is_parsed(a):
    # Given a body exactly at the limit and one past it, in `params` of a promotion
    client = token_client(a.staff)
    payload = {"brand": "brand-a", "name": "x", "type": "percent_discount", "params": {}}
    body = json.dumps(payload)
    at_limit = body.replace('"params": {}', '"params": ' + nested(31))
    past_limit = body.replace('"params": {}', '"params": ' + nested(32))
    assert json_depth(json.loads(at_limit)) == 32

    # When each is validated, then the first reaches validation and the second does not
    accepted = post_raw(client, "/api/v1/promotions/validate/", at_limit)
    refused = post_raw(client, "/api/v1/promotions/validate/", past_limit)

    assert accepted.status_code == 200, accepted.content
    assert_error(refused, 400, "parse_error")


def test_the_depth_limit_is_a_setting(a, settings):
    settings.JSON_MAX_DEPTH = 2

    response = token_client(a.staff).post(
        "/api/v1/labels/", {"name": "x", "type": "customer", "brand": {"a": [1]}}, format="json"
    )

    body = assert_error(response, 400, "parse_error")
    assert body["message"] == "JSON nested deeper than 2 levels."


def test_a_body_larger_than_the_limit_is_a_413_that_writes_nothing(a, settings):
    # Given a limit of 1,000 bytes and a valid label of 1,001 bytes and one of 1,000
    settings.JSON_MAX_BODY_BYTES = 1000
    client = token_client(a.staff)
    before = counts()

    def label(size: int) -> str:
        body = json.dumps({"name": "x", "type": "customer", "description": ""})
        return body.replace(
            '"description": ""', '"description": "' + "d" * (size - len(body)) + '"'
        )

    # When each is posted, then the larger one is refused before parsing
    refused = post_raw(client, "/api/v1/labels/", label(1001))
    error = assert_error(refused, 413, "payload_too_large")
    assert error["message"] == "The request body is larger than 1000 bytes."
    assert counts() == before
    # And the other is parsed and reaches the serializer (whose description is at most 255)
    parsed = post_raw(client, "/api/v1/labels/", label(1000))
    assert "description" in assert_error(parsed, 400, "validation_error")["fields"]


@pytest.mark.parametrize(
    ("url", "payload", "field"),
    [
        (
            "/api/v1/promotions/",
            {
                "brand": "brand-a",
                "name": "x",
                "type": "percent_discount",
                "params": {"percent": "1\x00"},
            },
            "params.percent",
        ),
        (
            "/api/v1/promotions/",
            {
                "brand": "brand-a",
                "name": "x",
                "type": "bogo",
                "params": {"get_scope": {"name": "\ud800"}},
            },
            "params.get_scope.name",
        ),
        ("/api/v1/labels/", {"name": "x", "type": "\ud800", "brand": "brand-a"}, "type"),
        ("/api/v1/labels/", {"name": "x", "type": "customer", "brand": "brand-a\x00"}, "brand"),
        (
            "/api/v1/rules/",
            {
                "name": "r",
                "trigger": "t",
                "brand": "brand-a",
                "actions": [{"action_type": "NOTIFY", "action_params": {"event": "a\x00"}}],
            },
            "actions.0.action_params.event",
        ),
        (
            "/api/v1/customers/",
            {"brand": "brand-a", "first_name": "x", "bad\x00key": 1},
            "non_field_errors",
        ),
        ("/api/v1/customers/", ["\ud83d"], "0"),
    ],
)
def test_nul_and_lone_surrogates_are_a_400_naming_the_field(a, url, payload, field):
    # Given a body whose text holds a NUL or an unpaired surrogate (sent as JSON escapes)
    before = counts()
    raw = json.dumps(payload)
    assert "\\u0000" in raw or "\\ud8" in raw

    # When it is posted
    response = post_raw(token_client(a.staff), url, raw)

    # Then it is a 400 naming the field with a plain sentence, and nothing was stored
    body = assert_error(response, 400, "validation_error")
    assert list(body["fields"]) == [field]
    assert body["fields"][field][0].startswith("Text cannot contain")
    assert counts() == before


@pytest.mark.parametrize(
    ("url", "raw", "field"),
    [
        (
            "/api/v1/rules/",
            '{"name": "r", "trigger": "t", "brand": "brand-a", "actions": [{"action_type": '
            '"NOTIFY", "action_params": {"event": "a.b", "payload": {"n": 1e400}}}]}',
            "actions.0.action_params.payload.n",
        ),
        (
            "/api/v1/orders/",
            '{"brand": "brand-a", "lines": [{"product": 1, "quantity": -1e999}]}',
            "lines.0.quantity",
        ),
    ],
)
def test_a_number_too_large_to_be_finite_is_a_400_naming_the_field(a, url, raw, field):
    # Given a JSON number that Python reads as infinity (jsonb cannot store it)
    before = counts()

    response = post_raw(token_client(a.staff), url, raw)

    body = assert_error(response, 400, "validation_error")
    assert body["fields"] == {field: ["Numbers must be finite."]}
    assert counts() == before


def test_a_valid_surrogate_pair_is_ordinary_text(a):
    # Given an emoji, sent as the escaped surrogate pair JSON uses for it
    raw = json.dumps({"name": "Fans \U0001f600", "type": "customer", "brand": "brand-a"})
    assert "\\ud83d\\ude00" in raw

    response = post_raw(token_client(a.staff), "/api/v1/labels/", raw)

    assert response.status_code == 201, response.content
    assert Label.objects.get(pk=response.json()["id"]).name == "Fans \U0001f600"


def test_customers_and_devices_meet_the_same_parser(a):
    customer = token_client(a.customer.user).patch(
        "/api/v1/me/", nested(5000), content_type="application/json"
    )
    device = post_raw(device_client(a.device_key), "/api/v1/orders/", json.dumps({"store": "\x00"}))

    assert_error(customer, 400, "parse_error")
    assert list(assert_error(device, 400, "validation_error")["fields"]) == ["store"]


def test_unstorable_value_walks_any_depth_without_recursion():
    deep: list = ["ok"]
    for _ in range(100_000):
        deep = [deep]
    deep.append({"k": ["a", "b\x00"]})

    assert unstorable_value(deep) == ("1.k.1", "Text cannot contain the NUL character (\\u0000).")
    assert unstorable_value({"a": ["x", {"b": "fine"}]}) is None
    assert json_depth(deep) == 100_001


# --- a constraint the database enforces, reached past validation -----------------------------


def test_a_check_constraint_violation_is_a_400_without_the_constraint_name():
    # Given a row the check constraint refuses, written past every validator
    starts = timezone.now()
    with pytest.raises(IntegrityError) as error, transaction.atomic():
        PromotionFactory(starts_at=starts, ends_at=starts)

    # When the exception handler meets it
    response = exception_handler(error.value, {})

    # Then it is a 400 naming the fields in plain words, the constraint's name left out
    assert response.status_code == 400
    assert response.data["code"] == "invalid"
    message = "The end must be after the start."
    assert response.data["message"] == message
    assert response.data["fields"] == {"ends_at": [message], "starts_at": [message]}
    assert "promotion_ends_after_start" not in json.dumps(response.data)


def test_a_unique_constraint_violation_is_a_409_naming_the_fields():
    brand = BrandFactory()
    LabelFactory(brand=brand, name="Twice", type="customer")
    with pytest.raises(IntegrityError) as error, transaction.atomic():
        LabelFactory(brand=brand, name="Twice", type="customer")

    response = exception_handler(error.value, {})

    assert response.status_code == 409
    assert set(response.data["fields"]) == {"name", "type", "brand"}
    assert "label_unique_per_brand" not in json.dumps(response.data)
