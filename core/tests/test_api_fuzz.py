"""Every operation of the OpenAPI schema, fuzzed as a superuser, a customer and a POS device.

For each generated request: never a 5xx, every 4xx has the one error body
`{"code", "message", "fields"}`, and the status code, content type and body are those the schema
documents. Requests go in process through the WSGI application; every example runs in a
savepoint that is rolled back, so each starts from the same two brands of `build_tenant`.
"""

import copy
import gzip
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import schemathesis
from django.core.signals import got_request_exception, request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from knox.models import AuthToken
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.tests.api_world import ERROR_KEYS, build_tenant, staff_user
from labels.tests.factories import LabelFactory
from notifications.services import NotificationService
from notifications.tests.factories import NotificationTemplateFactory
from promotions.services.lifecycle import promotion_save
from promotions.tests.factories import PromotionFactory
from rules.models import Rule, RuleTrigger
from rules.services.authoring import vip_example_install

SCHEMA_URL = "/api/schema/"
JSON = "application/json"
EXAMPLES_PER_OPERATION = 24


def decoding_content(application):
    """Decode gzip-encoded bodies, as an HTTP client does; the WSGI transport does not."""

    def decoded(environ, start_response):
        started = {}
        result = application(
            environ,
            lambda status, headers, exc_info=None: started.update(status=status, headers=headers),
        )
        try:
            body = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
        headers = started["headers"]
        if any(k.lower() == "content-encoding" and v == "gzip" for k, v in headers):
            body = gzip.decompress(body)
            headers = [
                (k, v)
                for k, v in headers
                if k.lower() not in ("content-encoding", "content-length")
            ]
            headers.append(("Content-Length", str(len(body))))
        start_response(started["status"], headers)
        return [body]

    return decoded


APPLICATION = decoding_content(get_wsgi_application())
SCHEMA = schemathesis.openapi.from_wsgi(SCHEMA_URL, APPLICATION)
# Each caller sends its own credentials; random ones would only ever meet a 401.
SCHEMA.config.generation.update(with_security_parameters=False)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
CALLERS = ("superuser", "customer", "device")
# Three in four; shrinks towards False, the value left as generated.
OFTEN = st.integers(min_value=0, max_value=3).map(bool)


def error_format(ctx, response, case) -> None:
    """A 4xx body is exactly `{"code", "message", "fields"}` with strings and lists of strings."""
    if not 400 <= response.status_code < 500:
        return
    try:
        body = response.json()
    except ValueError:
        raise Failure(
            operation=case.operation.label,
            title="4xx body is not JSON",
            message=response.text[:300],
        ) from None
    problems = []
    if not isinstance(body, dict) or set(body) != ERROR_KEYS:
        problems.append(f"keys are {sorted(body) if isinstance(body, dict) else type(body)}")
    else:
        if not isinstance(body["code"], str) or not body["code"]:
            problems.append("code is not a non-empty string")
        if not isinstance(body["message"], str) or not body["message"]:
            problems.append("message is not a non-empty string")
        fields = body["fields"]
        if not isinstance(fields, dict) or not all(
            isinstance(messages, list) and all(isinstance(m, str) for m in messages)
            for messages in fields.values()
        ):
            problems.append("fields is not {path: [messages]}")
    if problems:
        raise Failure(
            operation=case.operation.label,
            title="4xx body is not the error format",
            message="; ".join(problems) + f"\n{str(body)[:300]}",
        )


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    error_format,
]


@dataclass
class World:
    """Two brands with one of everything, and what a generated request may name."""

    credentials: dict[str, dict[str, str]]
    path_ids: dict[str, list[int]]
    values: dict[str, list]


def build_world() -> World:
    a, b = build_tenant("a"), build_tenant("b")
    root = staff_user("root", superuser=True)
    template = NotificationTemplateFactory(channel="inbox", subject="+{{ points }}", body="b")
    labels, promotions, messages = [], [], []
    for tenant in (a, b):
        labels.append(LabelFactory(brand=tenant.brand, name=f"VIP {tenant.brand.slug}"))
        promotions.append(
            promotion_save(promotion=PromotionFactory(brand=tenant.brand), actor=tenant.staff)
        )
        notification = NotificationService.send_notification(
            event=template.event, payload={"points": 5}, customer=tenant.customer
        )
        messages.append(notification.inbox_message.pk)
    vip_example_install()
    tenants = (a, b)
    products = [p.pk for t in tenants for p in (t.product, t.cheap_product, t.inactive_product)]
    path_ids = {
        "categories": [c.pk for t in tenants for c in (t.root_category, t.child_category)],
        "customers": [t.customer.pk for t in tenants],
        "labels": [label.pk for label in labels],
        "notifications": messages,
        "orders": [t.order.pk for t in tenants],
        "products": products,
        "promotions": [promotion.pk for promotion in promotions],
        "rules": list(Rule.objects.values_list("pk", flat=True)),
        "rule-triggers": list(RuleTrigger.objects.values_list("pk", flat=True)),
    }
    values = {
        "brand": [t.brand.slug for t in tenants],
        "X-Brand": [t.brand.slug for t in tenants],
        "store": [t.store.code for t in tenants],
        "customer": path_ids["customers"],
        "customers": [path_ids["customers"]],
        "product": products,
        "products": [products[:2]],
        "category": path_ids["categories"],
        "categories": [path_ids["categories"][:1]],
        "parent": path_ids["categories"],
        "label": path_ids["labels"],
        "labels": [path_ids["labels"][:1]],
        "promotion_id": path_ids["promotions"],
        "trigger": list(RuleTrigger.objects.values_list("code", flat=True)),
        "sku": [t.product.sku for t in tenants],
        "username": [a.customer.email],
        "password": ["pass-word-123"],
        "current_password": ["pass-word-123"],
        "new_password": ["a-long-pass-phrase", "12345678"],
        "page": [1],
        "page_size": [1, 50],
        "lines": [
            [
                {"product": t.product.pk, "quantity": 2},
                {"product": t.cheap_product.pk, "quantity": 1},
            ]
            for t in tenants
        ],
        "promotion": [
            {
                "brand": t.brand.slug,
                "name": "Ten percent off",
                "type": "percent_discount",
                "params": {"percent": "10"},
                "all_products": True,
            }
            for t in tenants
        ],
    }
    return World(
        credentials={
            "superuser": {"Authorization": f"Token {AuthToken.objects.create(user=root)[1]}"},
            "customer": {
                "Authorization": f"Token {AuthToken.objects.create(user=a.customer.user)[1]}"
            },
            "device": {"X-Device-Key": a.device_key},
        },
        path_ids=path_ids,
        values=values,
    )


@contextmanager
def in_process_requests() -> Iterator[list[str]]:
    """Requests share the test's connection and transaction, as Django's test client does.

    Yields the tracebacks of the exceptions the application turned into a 500.
    """
    tracebacks: list[str] = []

    def remember(sender, request=None, **kwargs):
        tracebacks.append(traceback.format_exc())

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    got_request_exception.connect(remember)
    try:
        yield tracebacks
    finally:
        got_request_exception.disconnect(remember)
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def resource_of(path: str) -> str:
    """`/api/v1/me/notifications/{message_id}/read/` -> `notifications`; no id: the last part."""
    return path.split("{")[0].strip("/").split("/")[-1]


def steer(case, world: World, draw: Callable) -> None:
    """Point some of a positive case at rows that exist, so requests also get past validation.

    Path ids, and query, header and body values whose name `world.values` knows (`brand`,
    `product`, `lines`, ...) are replaced with known ones at random; form bodies are sometimes
    sent as JSON instead (the same schema), which nested inputs need.
    """
    ids = world.path_ids.get(resource_of(case.operation.path), [])
    for name in case.path_parameters or {}:
        if ids and draw(OFTEN):
            case.path_parameters[name] = draw(st.sampled_from(ids))
    for container in (case.query, case.headers):
        for name in list(container or {}):
            if name in world.values and draw(OFTEN):
                container[name] = draw(st.sampled_from(world.values[name]))
    if isinstance(case.body, dict):
        for name in declared_body_properties(case.operation):
            if name in world.values and name not in case.body and draw(OFTEN):
                case.body[name] = copy.deepcopy(draw(st.sampled_from(world.values[name])))
    if isinstance(case.body, dict | list):
        _steer_body(case.body, world, draw)
        if case.media_type != JSON and draw(OFTEN):
            case.media_type = JSON


def declared_body_properties(operation) -> list[str]:
    """The top-level properties of the operation's JSON request body."""
    body = operation.definition.raw.get("requestBody", {}).get("content", {}).get(JSON, {})
    schema = body.get("schema", {})
    if "$ref" in schema:
        schema = SCHEMA.raw_schema["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return sorted(schema.get("properties", {}))


def _steer_body(node, world: World, draw: Callable) -> None:
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in list(items):
        if isinstance(key, str) and key in world.values and draw(OFTEN):
            node[key] = copy.deepcopy(draw(st.sampled_from(world.values[key])))
        elif isinstance(value, dict | list):
            _steer_body(value, world, draw)


def strategies(operation):
    """Two positive cases (schema-valid input) for one negative (schema-invalid input)."""
    positive = operation.as_strategy(GenerationMode.POSITIVE)
    return st.one_of(positive, positive, operation.as_strategy(GenerationMode.NEGATIVE))


def fuzz(operation, world: World, headers: dict[str, str], tracebacks: list[str]) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=strategies(operation), data=st.data())
    def run(case, data):
        if case.meta is None or case.meta.generation.mode.is_positive:
            steer(case, world, data.draw)
        with transaction.atomic():
            tracebacks.clear()
            response = case.call(headers=headers)
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except Exception as exc:
                if tracebacks:
                    exc.add_note("Server traceback:\n" + tracebacks[-1])
                raise
            finally:
                transaction.set_rollback(True)

    run()


@pytest.mark.django_db
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_fuzzed_operation_answers_as_documented(caller, operation):
    # Given two brands with data, and the caller's credentials
    world = build_world()

    # When generated requests hit the operation, then every answer passes CHECKS
    with in_process_requests() as tracebacks:
        fuzz(operation, world, world.credentials[caller], tracebacks)
