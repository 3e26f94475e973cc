"""Who gets what: every role of brand A, a customer of brand A and a till of brand A against
brand B's data, over every operation and filter of the OpenAPI schema.

The operations and their filters come from the schema, so a new endpoint or filter is covered
as soon as it exists: one whose path id or filter this matrix cannot classify fails the test
until it is added to `B_OBJECTS` / `FILTER_VALUES` (or declared global or plain).

- Objects by id: brand B's object answers exactly as an id that does not exist (never 2xx),
  and nothing of brand B changes.
- Lists: no row of brand B, unless the caller may see every brand there (the public catalog).
- Filters: brand B's value answers exactly as a value that does not exist.
- Roles: a role sees its brand's rows of a list if, and only if, `brands.roles` grants it the
  model's `view` permission.
"""

import json
from dataclasses import dataclass
from decimal import Decimal

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from brands.roles import ROLE_PERMISSIONS
from brands.tests.factories import BrandFactory, StoreFactory, make_device
from campaigns.models import CrossBrandCampaign
from campaigns.tests.factories import make_campaign
from core.tests.api_world import build_tenant, staff_user
from customers.services import customer_create, customer_link_brand
from experiments.models import Experiment
from experiments.services import VariantInput
from experiments.tests.factories import live_promotion, running_experiment
from labels.models import CustomerLabel
from labels.tests.factories import LabelFactory
from loyalty_management.models import (
    BadgeDefinition,
    LoyaltyAccount,
    LoyaltyAdjustment,
    RedemptionItem,
    RedemptionRequest,
)
from loyalty_management.services.badges import badge_definition_save
from loyalty_management.services.catalogue import (
    redemption_category_save,
    redemption_item_save,
)
from loyalty_management.services.ledger import account_adjust, ledger_credit
from loyalty_management.services.redemptions import redemption_request
from loyalty_management.tests.factories import LoyaltyProgramFactory
from notifications.services import NotificationService
from notifications.tests.factories import NotificationTemplateFactory
from orders.tests.factories import place_order
from promotions.services.lifecycle import promotion_save
from promotions.tests.factories import PromotionFactory
from rewards.models import CustomerReward, RewardTemplate
from rewards.services import reward_issue, reward_spec
from rules.models import Event, RuleFiring
from rules.tests.factories import make_rule
from vouchers.models import VoucherBatch, VoucherCode
from vouchers.tests.factories import batch as voucher_batch
from vouchers.tests.factories import voucher_promotion
from wallets.models import Wallet
from wallets.services import wallet_credit

pytestmark = pytest.mark.django_db

MISSING = 999_999_999
SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
OPERATIONS = [
    (method.upper(), path, operation)
    for path, operations in SCHEMA["paths"].items()
    for method, operation in operations.items()
]
ROLES = sorted(ROLE_PERMISSIONS)
# "till-2" is a till of brand A's second store: brand A's orders of the first store are as
# foreign to it as brand B's.
A_CALLERS = [*ROLES, "customer", "device", "till-2"]
# Resources whose rows belong to no brand: the same for everyone who may read them.
GLOBAL_RESOURCES = {"rule-triggers"}
# (caller, resource) pairs that legitimately see every brand: the storefront catalog.
SEES_EVERY_BRAND = {("customer", "products"), ("customer", "categories")}
# Query parameters that name no object of a brand.
PLAIN_PARAMETERS = {
    "ordering",
    "page",
    "page_size",
    "search",
    "is_global",
    "name",
    "type",
    "negative",
    "status",
    "stacking",
    "source",
    "channel",
    "payment_status",
    "created_after",
    "created_before",
    "kind",
    "unread",
    "event",
    "object_type",
    "outcome",
    "all_brands",
    "trigger",
    "code",
    "is_active",
    "max_price",
    "min_price",
    "since",
}
# Write bodies that get past input validation, so the object lookup is what answers.
BODIES = {
    ("POST", "/api/v1/orders/{id}/payment-status/"): {"payment_status": "cancelled"},
    ("PATCH", "/api/v1/customers/{id}/"): {"first_name": "Changed"},
    ("POST", "/api/v1/labels/{id}/assign/"): "customer",
    ("POST", "/api/v1/labels/{id}/unassign/"): "customer",
    ("PATCH", "/api/v1/promotions/{id}/"): {"name": "Changed"},
    ("POST", "/api/v1/promotions/{id}/status/"): {"status": "paused"},
    ("PATCH", "/api/v1/rules/{id}/"): {"name": "Changed"},
    ("PATCH", "/api/v1/loyalty/badges/{badge_id}/"): {"name": "Changed"},
    ("POST", "/api/v1/loyalty/accounts/{account_id}/adjustments/"): {
        "points": 5,
        "reason": "Matrix",
    },
    ("POST", "/api/v1/wallets/{wallet_id}/adjustments/"): {"amount": "5.00", "reason": "Matrix"},
    ("POST", "/api/v1/loyalty/redemptions/{redemption_id}/reject/"): {"reason": "Matrix"},
    ("POST", "/api/v1/loyalty/redemptions/{redemption_id}/fulfil/"): {"fulfilment_status": "sent"},
    ("PATCH", "/api/v1/loyalty/redemption-items/{item_id}/"): {"name": "Changed"},
    ("PATCH", "/api/v1/rewards/templates/{template_id}/"): {"name": "Changed"},
    ("POST", "/api/v1/rewards/templates/{template_id}/issue/"): "customer-reason",
    ("PATCH", "/api/v1/campaigns/{campaign_id}/"): {"name": "Changed"},
    ("POST", "/api/v1/vouchers/batches/{batch_id}/distribute/"): {"label": 1},
    ("POST", "/api/v1/experiments/{experiment_id}/promote/"): {"variant": 1},
    ("PUT", "/api/v1/experiments/{experiment_id}/"): {
        "name": "Changed",
        "starts_at": "2030-01-01T00:00:00Z",
        "ends_at": "2030-02-01T00:00:00Z",
        "variants": [
            {"name": "Control", "promotion": None, "is_control": True},
            {"name": "Other", "promotion": None},
        ],
    },
}
# A list's model, for the role expectations: (app_label, model).
LIST_MODELS = {
    "/api/v1/customers/": ("customers", "customer"),
    "/api/v1/orders/": ("orders", "order"),
    "/api/v1/products/": ("catalog", "product"),
    "/api/v1/categories/": ("catalog", "category"),
    "/api/v1/labels/": ("labels", "label"),
    "/api/v1/promotions/": ("promotions", "promotion"),
    "/api/v1/rules/": ("rules", "rule"),
    "/api/v1/rule-firings/": ("rules", "rulefiring"),
    "/api/v1/loyalty/accounts/": ("loyalty_management", "loyaltyaccount"),
    "/api/v1/loyalty/adjustments/": ("loyalty_management", "loyaltyadjustment"),
    "/api/v1/wallets/": ("wallets", "wallet"),
    "/api/v1/loyalty/badges/": ("loyalty_management", "badgedefinition"),
    "/api/v1/loyalty/redemptions/": ("loyalty_management", "redemptionrequest"),
    "/api/v1/loyalty/redemption-items/": ("loyalty_management", "redemptionitem"),
    "/api/v1/loyalty/redemption-categories/": ("loyalty_management", "redemptioncategory"),
    "/api/v1/rewards/templates/": ("rewards", "rewardtemplate"),
    "/api/v1/rewards/": ("rewards", "customerreward"),
    "/api/v1/campaigns/": ("campaigns", "crossbrandcampaign"),
    "/api/v1/vouchers/batches/": ("vouchers", "voucherbatch"),
    "/api/v1/experiments/": ("experiments", "experiment"),
}


@dataclass
class World:
    clients: dict[str, APIClient]
    a_ids: dict[str, int]
    b_ids: dict[str, int]
    # What is foreign to one caller besides brand B's objects: {caller: {resource: [ids]}}.
    foreign: dict[str, dict[str, list[int]]]
    filter_values: dict[str, tuple]
    snapshot: object


def _brand_objects(tenant, key: str, template) -> dict[str, int]:
    label = LabelFactory(brand=tenant.brand, name=f"Label_{key}", type="customer")
    promotion = promotion_save(promotion=PromotionFactory(brand=tenant.brand), actor=tenant.staff)
    rule = make_rule(name=f"Rule {key}", brand=tenant.brand)
    firing = RuleFiring.objects.create(
        rule=rule,
        rule_name=rule.name,
        event=Event.ORDER_CREATED,
        event_id=f"matrix-{key}",
        brand=tenant.brand,
        object_type="order",
        object_id=tenant.order.pk,
        customer=tenant.customer,
        outcome=RuleFiring.Outcome.APPLIED,
        duration_ms=1,
    )
    program = LoyaltyProgramFactory(brand=tenant.brand)
    account = LoyaltyAccount.objects.create(customer=tenant.customer, program=program)
    requester = staff_user(f"requester-{key}", role="Support agent", brands=[tenant.brand])
    adjustment = account_adjust(
        account_id=account.pk, points=100_000, reason="Pending", actor=requester
    )
    badge = badge_definition_save(
        brand=tenant.brand, data={"name": f"Badge {key}", "kind": "order_count", "order_count": 2}
    )
    message = NotificationService.send_notification(
        event=template.event, payload={}, customer=tenant.customer
    ).inbox_message
    ledger_credit(account_id=account.pk, kind="bonus", points=500, idempotency_key=f"matrix-{key}")
    shelf = redemption_category_save(brand=tenant.brand, data={"name": f"Shelf {key}"})
    item = redemption_item_save(
        brand=tenant.brand,
        data={
            "category": shelf.pk,
            "name": f"Mug {key}",
            "points_cost": 100,
            "kind": "physical",
            "stock": 5,
            "auto_approve": False,
        },
    )
    redemption, _ = redemption_request(
        customer=tenant.customer, brand=tenant.brand, item_id=item.pk
    )
    wallet = wallet_credit(
        customer=tenant.customer,
        brand=tenant.brand,
        amount=Decimal("20.00"),
        idempotency_key=f"matrix-{key}",
    ).transaction.wallet
    reward_template = RewardTemplate.objects.create(
        brand=tenant.brand, name=f"Coffee {key}", kind="discount_amount", amount=Decimal("3.00")
    )
    reward, _ = reward_issue(
        customer=tenant.customer,
        brand=tenant.brand,
        spec=reward_spec(reward_template),
        template=reward_template,
        idempotency_key=f"matrix-{key}",
        source="staff",
    )
    # A campaign of the tenant's brand with a partner brand of its own (not the other tenant).
    partner = BrandFactory(slug=f"partner-{key}", name=f"Partner {key.upper()}")
    campaign = make_campaign(owner=tenant.brand, brands=[partner], name=f"Campaign {key}")
    vouchers = voucher_batch(voucher_promotion(tenant, name=f"Voucher {key}"), quantity=2)
    experiment = running_experiment(
        tenant,
        VariantInput("Control", None, is_control=True),
        VariantInput("Ten off", live_promotion(tenant, "10")),
    )
    return {
        "experiments": experiment.pk,
        "batches": vouchers.pk,
        "codes": vouchers.codes.order_by("pk").first().pk,
        "campaigns": campaign.pk,
        "categories": tenant.root_category.pk,
        "customers": tenant.customer.pk,
        "labels": label.pk,
        "orders": tenant.order.pk,
        "products": tenant.product.pk,
        "promotions": promotion.pk,
        "rules": rule.pk,
        "rule-firings": firing.pk,
        "accounts": account.pk,
        "adjustments": adjustment.pk,
        "notifications": message.pk,
        "wallets": wallet.pk,
        "badges": badge.pk,
        "redemptions": redemption.pk,
        "redemption-items": item.pk,
        "redemption-categories": shelf.pk,
        "templates": reward_template.pk,
        "rewards": reward.pk,
    }


def _snapshot(b_ids: dict[str, int]) -> tuple:
    from customers.models import Customer
    from notifications.models import InboxMessage
    from orders.models import Order
    from promotions.models import Promotion
    from rules.models import Rule

    return (
        list(Order.objects.filter(pk=b_ids["orders"]).values_list("payment_status")),
        list(Customer.objects.filter(pk=b_ids["customers"]).values_list("first_name", "email")),
        list(Promotion.objects.filter(pk=b_ids["promotions"]).values_list("name", "status")),
        list(Rule.objects.filter(pk=b_ids["rules"]).values_list("name", "status")),
        list(LoyaltyAdjustment.objects.filter(account_id=b_ids["accounts"]).values_list("status")),
        list(LoyaltyAccount.objects.filter(pk=b_ids["accounts"]).values_list("available_points")),
        list(InboxMessage.objects.filter(pk=b_ids["notifications"]).values_list("read_at")),
        CustomerLabel.objects.filter(label_id=b_ids["labels"]).count(),
        list(Wallet.objects.filter(pk=b_ids["wallets"]).values_list("balance")),
        list(BadgeDefinition.objects.filter(pk=b_ids["badges"]).values_list("name", "kind")),
        list(RedemptionRequest.objects.filter(pk=b_ids["redemptions"]).values_list("status")),
        list(
            RedemptionItem.objects.filter(pk=b_ids["redemption-items"]).values_list("name", "stock")
        ),
        list(RewardTemplate.objects.filter(pk=b_ids["templates"]).values_list("name", "is_active")),
        list(CustomerReward.objects.filter(pk=b_ids["rewards"]).values_list("status")),
        CustomerReward.objects.filter(brand__slug="brand-b").count(),
        list(CrossBrandCampaign.objects.filter(pk=b_ids["campaigns"]).values_list("name")),
        list(VoucherBatch.objects.filter(pk=b_ids["batches"]).values_list("voided_at")),
        list(
            VoucherCode.objects.filter(batch_id=b_ids["batches"]).values_list("status", "customer")
        ),
        list(
            Experiment.objects.filter(pk=b_ids["experiments"]).values_list(
                "status", "winner", "name"
            )
        ),
    )


@pytest.fixture
def world() -> World:
    a, b = build_tenant("a"), build_tenant("b")
    template = NotificationTemplateFactory(channel="inbox", subject="Hello", body="b")
    a_ids, b_ids = _brand_objects(a, "a", template), _brand_objects(b, "b", template)
    # A customer of brand A who also shops at brand B and carries brand B's label: filtering
    # brand A's customers by brand B's values must not single them out.
    shared = customer_create(brand=a.brand, email="shared@example.com")
    customer_link_brand(customer=shared, brand=b.brand)
    CustomerLabel.objects.create(customer=shared, label_id=b_ids["labels"])
    clients = {}
    for role in ROLES:
        client = APIClient()
        client.force_authenticate(staff_user(f"matrix-{role}", role=role, brands=[a.brand]))
        clients[role] = client
    clients["customer"] = APIClient()
    clients["customer"].force_authenticate(a.customer.user)
    clients["device"] = APIClient()
    clients["device"].credentials(HTTP_X_DEVICE_KEY=a.device_key)
    _, till_key = make_device(store=StoreFactory(brand=a.brand, code="store-a2"), name="Till 2")
    clients["till-2"] = APIClient()
    clients["till-2"].credentials(HTTP_X_DEVICE_KEY=till_key)
    web_order = place_order(brand=a.brand, products_and_quantities=[(a.product, 1)])
    superuser = APIClient()
    superuser.force_authenticate(staff_user("matrix-root", superuser=True))
    clients["superuser"] = superuser
    b_customer = b.customer
    filter_values = {
        "brand": ("brand-b", "no-such-brand"),
        "store": ("store-b", "no-such-store"),
        "label": (b_ids["labels"], MISSING),
        "customer": (b_ids["customers"], MISSING),
        "category": (b_ids["categories"], MISSING),
        "parent": (b_ids["categories"], MISSING),
        "account": (b_ids["accounts"], MISSING),
        "order": (b_ids["orders"], MISSING),
        "rule": (b_ids["rules"], MISSING),
        "item": (b_ids["redemption-items"], MISSING),
        "template": (b_ids["templates"], MISSING),
        "promotion": (b_ids["promotions"], MISSING),
        "object_id": (b_ids["orders"], MISSING),
        "email": (b_customer.email, "nobody@example.com"),
        "phone": (b_customer.phone, "+339999999"),
        "external_id": (b_customer.external_id, "EXT-none"),
        "sku": (b.product.sku, "NO-SUCH-SKU"),
        "slug": (b.root_category.slug, "no-such-slug"),
    }
    foreign = {"till-2": {"orders": [a_ids["orders"], web_order.pk]}}
    return World(clients, a_ids, b_ids, foreign, filter_values, lambda: _snapshot(b_ids))


def resource_of(path: str) -> str:
    """`/api/v1/loyalty/accounts/{account_id}/adjustments/` -> `accounts`."""
    return path.split("{")[0].strip("/").split("/")[-1]


def _path_with(path: str, value: int) -> str:
    start, end = path.index("{"), path.index("}")
    return path[:start] + str(value) + path[end + 1 :]


def _call(client: APIClient, method: str, url: str, body=None):
    if method == "GET":
        return client.get(url)
    return client.generic(method, url, data=json.dumps(body or {}), content_type="application/json")


def _answer(response) -> tuple:
    """What a caller learns: the status and the error code (or the number of rows)."""
    try:
        body = response.json()
    except ValueError:
        return (response.status_code, None)
    if isinstance(body, dict) and "code" in body and "message" in body:
        return (response.status_code, body["code"])
    if isinstance(body, dict) and "count" in body:
        return (response.status_code, body["count"])
    return (response.status_code, None)


def _rows(response) -> list[dict]:
    if "json" not in response.get("Content-Type", ""):
        return []  # not a list of rows (the engine script of the sync API)
    body = response.json()
    if isinstance(body, dict) and isinstance(body.get("results"), list):
        return body["results"]
    return body if isinstance(body, list) else []


def _role_grants(role: str, app_label: str, model: str, action: str) -> bool:
    return any(
        app == app_label and name in (model, "*") and action in actions
        for app, name, actions in ROLE_PERMISSIONS[role]
    )


def test_brand_b_objects_answer_as_missing_ones_to_every_caller_of_brand_a(world):
    unclassified = {
        path
        for _, path, _ in OPERATIONS
        if "{" in path
        and resource_of(path) not in GLOBAL_RESOURCES
        and resource_of(path) not in world.b_ids
    }
    assert unclassified == set(), "add these endpoints to the permission matrix"
    before = world.snapshot()
    problems = []
    for method, path, _ in OPERATIONS:
        resource = resource_of(path)
        if "{" not in path or resource in GLOBAL_RESOURCES:
            continue
        body = BODIES.get((method, path))
        if body == "customer":
            body = {"customer": world.a_ids["customers"]}
        elif body == "customer-reason":
            body = {"customer": world.a_ids["customers"], "reason": "Matrix"}
        for caller in A_CALLERS:
            if (caller, resource) in SEES_EVERY_BRAND:
                continue
            client = world.clients[caller]
            missing = _call(client, method, _path_with(path, MISSING), body)
            targets = [world.b_ids[resource], *world.foreign.get(caller, {}).get(resource, [])]
            for target in targets:
                other = _call(client, method, _path_with(path, target), body)
                if 200 <= other.status_code < 300 or other.status_code >= 500:
                    problems.append((caller, method, path, target, other.status_code))
                elif _answer(other) != _answer(missing):
                    problems.append((caller, method, path, target, _answer(other)))

    assert problems == []
    assert world.snapshot() == before


def test_lists_show_no_row_of_brand_b_to_callers_of_brand_a(world):
    problems = []
    for method, path, _ in OPERATIONS:
        if method != "GET" or "{" in path:
            continue
        resource = resource_of(path)
        for caller in A_CALLERS:
            response = world.clients[caller].get(f"{path}?page_size=200")
            if response.status_code >= 500:
                problems.append((caller, path, response.status_code))
            if response.status_code != 200 or (caller, resource) in SEES_EVERY_BRAND:
                continue
            for row in _rows(response):
                if row.get("brand") == "brand-b":
                    problems.append((caller, path, "brand-b row", row.get("id")))
                if resource in world.b_ids and row.get("id") == world.b_ids[resource]:
                    problems.append((caller, path, "brand B's object", row.get("id")))
                if row.get("id") in world.foreign.get(caller, {}).get(resource, []):
                    problems.append((caller, path, "foreign to the caller", row.get("id")))

    assert problems == []


def test_filters_by_brand_b_values_answer_as_missing_values(world):
    problems = []
    unknown = set()
    for method, path, operation in OPERATIONS:
        if method != "GET" or "{" in path:
            continue
        parameters = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
        for name in parameters:
            if name in PLAIN_PARAMETERS:
                continue
            if name not in world.filter_values:
                unknown.add((path, name))
                continue
            other_value, missing_value = world.filter_values[name]
            for caller in A_CALLERS:
                client = world.clients[caller]
                if (caller, resource_of(path)) in SEES_EVERY_BRAND:
                    continue
                other = client.get(path, {name: other_value, "page_size": 200})
                missing = client.get(path, {name: missing_value, "page_size": 200})
                if other.status_code >= 500 or _answer(other) != _answer(missing):
                    problems.append((caller, path, name, _answer(other), _answer(missing)))

    assert unknown == set(), "classify these filters in the permission matrix"
    assert problems == []


def test_superusers_filter_by_any_brand(world):
    # The matrix's values do find brand B's rows for someone allowed to see them.
    client = world.clients["superuser"]
    for path, name in [
        ("/api/v1/customers/", "brand"),
        ("/api/v1/customers/", "label"),
        ("/api/v1/orders/", "store"),
        ("/api/v1/loyalty/accounts/", "customer"),
    ]:
        other_value, missing_value = world.filter_values[name]
        found = client.get(path, {name: other_value})
        assert found.json()["count"] >= 1, (path, name)
        assert client.get(path, {name: missing_value}).json()["count"] == 0


def test_a_role_sees_a_list_exactly_when_it_may_view_the_model(world):
    problems = []
    for role in ROLES:
        client = world.clients[role]
        for path, (app_label, model) in LIST_MODELS.items():
            response = client.get(f"{path}?page_size=200")
            own = world.a_ids[resource_of(path)]
            seen = response.status_code == 200 and own in {row.get("id") for row in _rows(response)}
            if response.status_code not in (200, 403):
                problems.append((role, path, response.status_code))
            if seen != _role_grants(role, app_label, model, "view"):
                problems.append((role, path, "sees" if seen else "does not see"))

    assert problems == []
