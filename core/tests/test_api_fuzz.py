"""Every operation of the OpenAPI schema, fuzzed as a superuser, a customer and a POS device.

For each generated request: never a 5xx, every 4xx has the one error body
`{"code", "message", "fields"}`, and the status code, content type and body are those the schema
documents. Requests go in process through the WSGI application; every example runs in a
savepoint that is rolled back, so each starts from the same two brands of `build_tenant`.
"""

import copy
import gzip
import itertools
import json
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
import schemathesis
from django.core.signals import got_request_exception, request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection, transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from knox.models import AuthToken
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure
from schemathesis.generation import GenerationMode
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from brands.models import PosDevice
from campaigns.services import campaign_order_record
from campaigns.tests.factories import make_campaign, paid_order
from core.tests.api_world import ERROR_KEYS, assert_error, build_tenant, staff_user
from experiments.models import ExperimentExposure, ExperimentVariant
from experiments.services import (
    VariantInput,
    experiment_create,
    experiment_start,
    experiment_stop,
)
from labels.tests.factories import LabelFactory
from loyalty_management.services.badges import badge_definition_save
from loyalty_management.services.catalogue import redemption_item_save
from loyalty_management.services.ledger import account_get_or_create, ledger_credit
from loyalty_management.services.redemptions import redemption_request
from loyalty_management.tests.factories import LoyaltyProgramFactory
from notifications.services import NotificationService
from notifications.tests.factories import NotificationTemplateFactory
from orders.tests.factories import place_order
from promotions.selectors import bundle_invalidate
from promotions.services.lifecycle import promotion_save
from promotions.tests.factories import PromotionFactory
from rewards.models import RewardTemplate
from rewards.services import reward_issue, reward_spec
from rules.models import Rule, RuleTrigger
from rules.services.authoring import vip_example_install
from vouchers.services import voucher_batch_create, voucher_batch_generate
from wallets.services import wallet_credit

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
    labels, promotions, messages, badges = [], [], [], []
    items, redemptions = [], []
    reward_templates, rewards = [], []
    for tenant in (a, b):
        program = LoyaltyProgramFactory(brand=tenant.brand)
        account = account_get_or_create(customer=tenant.customer, program=program)
        ledger_credit(
            account_id=account.pk,
            kind="bonus",
            points=1000,
            idempotency_key=f"fuzz-{tenant.brand.slug}",
        )
        for name, kind, amount in (("Mug", "physical", None), ("Credit", "wallet_credit", "5")):
            item = redemption_item_save(
                brand=tenant.brand,
                data={
                    "name": name,
                    "points_cost": 100,
                    "kind": kind,
                    "wallet_amount": Decimal(amount) if amount else None,
                    "stock": 50,
                    "auto_approve": kind == "wallet_credit",
                },
            )
            items.append(item.pk)
            redemptions.append(
                redemption_request(customer=tenant.customer, brand=tenant.brand, item_id=item.pk)[
                    0
                ].pk
            )
        badges.append(
            badge_definition_save(
                brand=tenant.brand,
                data={"name": "Regular", "kind": "order_count", "order_count": 3},
            ).pk
        )
        reward_template = RewardTemplate.objects.create(
            brand=tenant.brand, name="Coffee", kind="discount_amount", amount=Decimal("3.00")
        )
        reward_templates.append(reward_template.pk)
        rewards.append(
            reward_issue(
                customer=tenant.customer,
                brand=tenant.brand,
                spec=reward_spec(reward_template),
                template=reward_template,
                idempotency_key=f"fuzz-{tenant.brand.slug}",
                source="staff",
            )[0].pk
        )
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
    # A campaign of each brand across both, with some progress of brand A's customer.
    campaigns = [
        make_campaign(owner=t.brand, brands=[a.brand, b.brand], name=f"Across {t.brand.slug}").pk
        for t in tenants
    ]
    for tenant in tenants:
        campaign_order_record(order_id=paid_order(tenant=tenant, customer=a.customer).pk)
    wallets = [
        wallet_credit(
            customer=t.customer,
            brand=t.brand,
            amount=Decimal("30.00"),
            idempotency_key=f"fuzz-{t.brand.slug}",
        ).transaction.wallet_id
        for t in tenants
    ]
    products = [p.pk for t in tenants for p in (t.product, t.cheap_product, t.inactive_product)]
    # A voucher promotion and a batch of its codes per brand (brand B's signed for tills
    # offline), one code used. Generated here: on-commit work never runs in this world.
    voucher_promotions = [
        promotion_save(
            promotion=PromotionFactory.build(
                brand=t.brand, status="active", all_products=True, params={"percent": "10"}
            )
        )
        for t in tenants
    ]
    voucher_batches = [
        voucher_batch_generate(
            batch_id=voucher_batch_create(
                promotion=promotion, name="Fuzz", quantity=3, prefix="FZ-", offline=tenant is b
            ).pk
        )
        for tenant, promotion in zip(tenants, voucher_promotions, strict=True)
    ]
    voucher_codes = [c.pk for made in voucher_batches for c in made.codes.order_by("pk")]
    # Per brand a draft, a running and a stopped experiment, each on promotions of its own; a
    # customer exposed to the running one, with a paid order, so results have figures.
    now = timezone.now()
    experiments = []

    def experiment_promotion(tenant, name):
        return promotion_save(
            promotion=PromotionFactory.build(
                brand=tenant.brand, name=name, status="active", all_products=True
            )
        )

    for tenant in tenants:
        for state in ("draft", "running", "stopped"):
            experiment = experiment_create(
                brand=tenant.brand,
                name=f"Fuzz {state}",
                starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(days=14),
                variants=[
                    VariantInput(
                        "Control",
                        None if state == "draft" else experiment_promotion(tenant, "Today"),
                        is_control=True,
                    ),
                    VariantInput("Treated", experiment_promotion(tenant, f"Treated {state}")),
                ],
            )
            if state != "draft":
                experiment_start(experiment_id=experiment.pk)
            if state == "stopped":
                experiment_stop(experiment_id=experiment.pk)
            if state == "running":
                ExperimentExposure.objects.create(
                    experiment=experiment,
                    variant=experiment.variants.get(is_control=False),
                    customer=tenant.customer,
                    exposed_at=now - timedelta(minutes=30),
                )
                paid_order(tenant=tenant, customer=tenant.customer)
            experiments.append(experiment)
    spare_promotion = experiment_promotion(a, "Fourteen off")
    bundle_invalidate(brand_id=a.brand.pk)  # what the on-commit work would have done
    bundle_invalidate(brand_id=b.brand.pk)
    place_order(
        brand=a.brand,
        products_and_quantities=[(a.product, 1)],
        customer=a.customer,
        codes=[voucher_batches[0].codes.order_by("pk")[0].code],
    )
    path_ids = {
        "categories": [c.pk for t in tenants for c in (t.root_category, t.child_category)],
        "customers": [t.customer.pk for t in tenants],
        "badges": badges,
        "labels": [label.pk for label in labels],
        "notifications": messages,
        "orders": [t.order.pk for t in tenants],
        "products": products,
        "promotions": [promotion.pk for promotion in promotions],
        "rules": list(Rule.objects.values_list("pk", flat=True)),
        "rule-triggers": list(RuleTrigger.objects.values_list("pk", flat=True)),
        "wallets": wallets,
        "redemptions": redemptions,
        "redemption-items": items,
        "templates": reward_templates,
        "rewards": rewards,
        "campaigns": campaigns,
        "batches": [made.pk for made in voucher_batches],
        "codes": voucher_codes,
        "experiments": [experiment.pk for experiment in experiments],
    }
    values = {
        "brand": [t.brand.slug for t in tenants],
        "X-Brand": [t.brand.slug for t in tenants],
        "store": [t.store.code for t in tenants],
        "customer": path_ids["customers"],
        "customers": [path_ids["customers"]],
        "brands": [[t.brand.slug for t in tenants]],
        "product": products,
        "item": items,
        "template": reward_templates,
        "ids": [redemptions[:2]],
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
        ]
        # The id a voucher batch is created for (the preview takes the objects above).
        + [voucher_promotions[0].pk],
        "variant": list(
            ExperimentVariant.objects.filter(experiment__in=experiments).values_list(
                "pk", flat=True
            )
        ),
        "variants": [
            [
                {"name": "Control", "promotion": None, "weight": 1, "is_control": True},
                {
                    "name": "Fourteen off",
                    "promotion": spare_promotion.pk,
                    "weight": 1,
                    "is_control": False,
                },
            ]
        ],
        "audience_label": [labels[0].pk],
        "starts_at": ["2030-01-01T00:00:00Z"],
        "ends_at": ["2030-02-01T00:00:00Z"],
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
    # Copies first: a case may carry the very dict a strategy hands out each time (the
    # schema's examples), and a changed one would change what later examples draw.
    case.path_parameters = copy.deepcopy(case.path_parameters)
    case.query = copy.deepcopy(case.query)
    case.headers = copy.deepcopy(case.headers)
    if isinstance(case.body, dict | list):
        case.body = copy.deepcopy(case.body)
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
    """Two positive cases (schema-valid input) for one negative (schema-invalid input).

    Empty feedback turns off schemathesis's pool of constants read from the application's
    modules: what it holds depends on which modules earlier tests imported, and a strategy
    that depends on outside state makes derandomized runs differ (hypothesis then fails the
    test as a flaky strategy, whatever the API answered)."""
    positive = operation.as_strategy(GenerationMode.POSITIVE, feedback=FeedbackSources())
    negative = operation.as_strategy(GenerationMode.NEGATIVE, feedback=FeedbackSources())
    return st.one_of(positive, positive, negative)


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


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The world, built once for the module in a transaction rolled back at its end. Each test
    runs in a savepoint of it (pytest-django's), and each request in one more, so what a test
    or a request writes is gone before the next."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


@pytest.mark.django_db
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_fuzzed_operation_answers_as_documented(world, caller, operation):
    # Given two brands with data, and the caller's credentials

    # When generated requests hit the operation, then every answer passes CHECKS
    with in_process_requests() as tracebacks:
        fuzz(operation, world, world.credentials[caller], tracebacks)


# --- bad-input shapes at every JSON write operation --------------------------------------------

OVERFLOW = "__overflow__"  # sent as the JSON number 1e400, which decodes to infinity
NUL, SURROGATE = "a\x00b", "\ud800"
TEXT_SHAPES = {"nul": NUL, "surrogate": SURROGATE}
NUMBER_SHAPES = {"nan": "NaN", "infinity": "Infinity", "overflow": OVERFLOW, "not-a-number": "abc"}
OBJECT_SHAPES = {
    "nul-value": {"k": NUL},
    "surrogate-key": {SURROGATE: 1},
    "overflow-value": {"k": OVERFLOW},
}
# Numeric keys of the free-form objects, where a non-number must be refused too.
OBJECT_NUMBERS = {"params": "percent", "action_params": "percentage"}
DATE_RANGES = [("starts_at", "ends_at"), ("valid_from", "valid_until")]
# Operations that report on their input instead of refusing it (a 200 whose body lists the
# issues or rejections); they must still store nothing.
REPORTING = {
    "/api/v1/promotions/validate/",
    "/api/v1/promotions/preview/",
    "/api/v1/sync/upload_usage/",
}
# Valid values for body fields `build_world` has no value for, so that a request's one bad
# value meets the code behind the serializer.
EXTRA_VALUES = {
    "name": ["Fuzzed"],
    "type": ["percent_discount"],
    "params": [{"percent": "10"}],
    "all_products": [True],
    "points": [5],
    "amount": ["5.00"],
    "reason": ["Goodwill"],
    "payment_status": ["paid"],
    "actions": [[{"action_type": "DISCOUNT", "action_params": {"percentage": 10}}]],
    "event": ["order.created"],
    "code": ["fuzz_code"],
}


def json_write_operations():
    for operation in OPERATIONS:
        body = operation.definition.raw.get("requestBody", {}).get("content", {}).get(JSON)
        if operation.method.upper() in ("POST", "PUT", "PATCH") and body:
            yield operation, body["schema"]


def resolved(schema: dict) -> dict:
    while "$ref" in schema or "allOf" in schema:
        if "allOf" in schema:
            schema = schema["allOf"][0]
            continue
        schema = SCHEMA.raw_schema["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def body_leaves(schema: dict, path: tuple = ()) -> Iterator[tuple[tuple, dict]]:
    """Every writable scalar or free-form object of a request body schema, by path (an
    array's items are at index 0)."""
    schema = resolved(schema)
    if schema.get("type") == "object" and "properties" in schema and len(path) < 4:
        for name, child in schema["properties"].items():
            if not child.get("readOnly"):
                yield from body_leaves(child, (*path, name))
    elif schema.get("type") == "array" and len(path) < 4:
        yield from body_leaves(schema.get("items", {}), (*path, 0))
    else:
        yield path, schema


def with_leaf(body: dict, path: tuple, value) -> dict:
    """A copy of `body` with `value` at `path`, keeping or creating the objects and lists on
    the way (an int in `path` is a list index)."""
    changed = copy.deepcopy(body)
    node = changed
    for key, following in itertools.pairwise(path):
        node = _slot(node, key, [] if isinstance(following, int) else {})
    _slot(node, path[-1], None)
    node[path[-1]] = value
    return changed


def _slot(node, key, default):
    if isinstance(key, int):
        node.extend([None] * (key + 1 - len(node)))
        current = node[key]
    else:
        current = node.get(key)
    if default is not None and not isinstance(current, type(default)):
        node[key] = current = default
    return current


def shaped_bodies(schema: dict, base: dict) -> Iterator[tuple[str, str]]:
    """(label, raw JSON) for each bad shape at each place of the body."""
    depth = settings_depth()
    yield "deep-object", '{"a": ' * (depth + 1) + "1" + "}" * (depth + 1)
    yield "deep-array", "[" * 100_000 + "]" * 100_000
    leaves = list(body_leaves(schema))
    names = {path[-1] for path, _ in leaves}
    for path, leaf in leaves:
        kind, where = leaf.get("type"), ".".join(map(str, path))
        if kind == "object":
            shapes = dict(OBJECT_SHAPES)
            if path[-1] in OBJECT_NUMBERS:
                key = OBJECT_NUMBERS[path[-1]]
                shapes |= {f"{k}-{key}": {key: v} for k, v in NUMBER_SHAPES.items()}
        elif kind in ("integer", "number") or leaf.get("format") == "decimal":
            shapes = dict(NUMBER_SHAPES)
            if leaf.get("format") == "decimal":
                shapes["too-precise"] = "12.345"
        elif kind == "boolean":
            continue
        else:  # text, choices, dates, and `oneOf` text-or-null
            shapes = dict(TEXT_SHAPES)
        for label, value in shapes.items():
            yield f"{label}@{where}", encoded(with_leaf(base, path, value))
    for start, end in DATE_RANGES:
        for path, _ in leaves:
            if path[-1] == start and end in names:
                reversed_range = with_leaf(base, path, "2030-01-02T00:00:00Z")
                reversed_range = with_leaf(
                    reversed_range, (*path[:-1], end), "2030-01-01T00:00:00Z"
                )
                yield f"reversed@{'.'.join(map(str, path))}", encoded(reversed_range)


def encoded(body) -> str:
    return json.dumps(body).replace(f'"{OVERFLOW}"', "1e400")


def settings_depth() -> int:
    from django.conf import settings as django_settings

    return django_settings.JSON_MAX_DEPTH


# Written by authentication, not by the request's input: a device's last_seen_at.
BOOKKEEPING_TABLES = [PosDevice._meta.db_table]


def rows_written() -> int:
    """Rows this transaction has inserted, updated or deleted so far, in any table but the
    bookkeeping ones (even if a savepoint rolled them back): PostgreSQL's statistics of the
    current transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) "
            "FROM pg_stat_xact_user_tables WHERE NOT relname = ANY(%s)",
            [BOOKKEEPING_TABLES],
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db
@pytest.mark.parametrize("caller", CALLERS)
def test_bad_input_shapes_at_every_json_write_operation_are_4xx_and_store_nothing(world, caller):
    # Given two brands, the caller's credentials, and valid values for every body field
    client = Client(headers=world.credentials[caller])
    values = EXTRA_VALUES | world.values
    sent = 0

    for operation, schema in json_write_operations():
        base = {
            name: values[name][0] for name in declared_body_properties(operation) if name in values
        }
        url = operation.path
        for parameter in operation.path_parameters:
            name = parameter.name
            ids = world.path_ids.get(resource_of(operation.path), [1])
            url = url.replace("{" + name + "}", str(ids[0]))
        for label, raw in shaped_bodies(schema, base):
            with transaction.atomic():
                before = rows_written()
                # When the shape is sent
                response = client.generic(operation.method.upper(), url, raw, content_type=JSON)
                # Then: never a 5xx; a 4xx in the error format (or, for operations that
                # report on their input, a 200 report); and nothing stored
                where = (caller, operation.method, url, label, response.content[:300])
                if url in REPORTING and response.status_code == 200:
                    pass
                else:
                    assert 400 <= response.status_code < 500, where
                    assert_error(response, response.status_code)
                assert rows_written() == before, where
                transaction.set_rollback(True)
            sent += 1

    assert sent > 800
