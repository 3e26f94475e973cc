"""The rules API: triggers and rules with nested conditions and actions (all or nothing),
validation through `rules.params` with field paths, permissions and brand scoping, the log."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from brands.roles import ANALYST
from core.tests.api_world import assert_error, device_client, staff_user, token_client
from labels.models import Label
from labels.tests.factories import LabelFactory
from rules.models import Event, Rule, RuleAction, RuleCondition, RuleFiring, RuleTrigger

pytestmark = pytest.mark.django_db

RULES = "/api/v1/rules/"
TRIGGERS = "/api/v1/rule-triggers/"
FIRINGS = "/api/v1/rule-firings/"


@pytest.fixture
def vip():
    return LabelFactory(name="Customer_VIP", type=Label.Type.CUSTOMER, brand=None)


@pytest.fixture
def on_created():
    return RuleTrigger.objects.create(name="On Order Creation Trigger", code="discount_vip")


@pytest.fixture
def on_paid():
    return RuleTrigger.objects.create(name="On payment", code="on_paid", event=Event.ORDER_PAID)


@pytest.fixture
def root():
    return token_client(staff_user("root", superuser=True))


def vip_payload(brand, label, **changes) -> dict:
    return {
        "name": "VIP Order Discount Rule",
        "description": "Apply 10% discount to VIP customers' new orders",
        "status": "ENABLED",
        "trigger": "discount_vip",
        "brand": brand.slug if brand is not None else None,
        "conditions": [{"entity": "CUSTOMER", "operator": "HAS_LABEL", "label": label.pk}],
        "actions": [
            {
                "action_type": "DISCOUNT",
                "action_params": {"percentage": 10, "description": "VIP New Order Discount"},
            }
        ],
        **changes,
    }


# --- Writing rules ----------------------------------------------------------------------------


def test_staff_create_a_rule_with_its_conditions_and_actions_in_one_request(a, vip, on_created):
    response = token_client(a.staff).post(RULES, vip_payload(a.brand, vip), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["trigger"] == "discount_vip"
    assert body["event"] == "order.created"
    assert body["brand"] == a.brand.slug
    assert body["conditions"] == [
        {
            "id": RuleCondition.objects.get().pk,
            "entity": "CUSTOMER",
            "field": "",
            "operator": "HAS_LABEL",
            "value": "",
            "label": vip.pk,
            "group": 0,
        }
    ]
    assert body["actions"][0]["action_params"] == {
        "percentage": "10",
        "description": "VIP New Order Discount",
        "base": "remaining",
    }
    assert Rule.objects.get().actions.get().action_params["percentage"] == "10"


@pytest.mark.parametrize(
    ("action", "path", "message"),
    [
        (
            {"action_type": "DISCOUNT", "action_params": {"percentage": -5}},
            "action_params",
            "above 0",
        ),
        ({"action_type": "DISCOUNT", "action_params": {"percentage": 101}}, "action_params", "100"),
        ({"action_type": "DISCOUNT", "action_params": {"pct": 10}}, "action_params", "'pct'"),
        ({"action_type": "DISCOUNT", "action_params": "{}"}, "action_params", "dictionary"),
        ({"action_type": "ADD_LABEL", "action_params": {"label": "Nope"}}, "action_params", "Nope"),
        (
            {"action_type": "NOTIFY", "action_params": {"event": "Bad Name"}},
            "action_params",
            "dotted",
        ),
        ({"action_type": "SHOUT", "action_params": {}}, "action_type", "valid choice"),
    ],
)
def test_bad_actions_are_refused_with_their_path_and_nothing_is_saved(
    a, vip, on_created, action, path, message
):
    good = {"action_type": "DISCOUNT", "action_params": {"percentage": 10}}
    payload = vip_payload(a.brand, vip, actions=[good, action])

    response = token_client(a.staff).post(RULES, payload, format="json")

    body = assert_error(response, 400)
    assert any(message in m for m in body["fields"][f"actions.1.{path}"]), body
    assert not Rule.objects.exists()
    assert not RuleAction.objects.exists()
    assert not RuleCondition.objects.exists()


def test_a_discount_on_an_order_paid_trigger_is_refused(a, vip, on_paid):
    payload = vip_payload(a.brand, vip, trigger="on_paid")

    body = assert_error(token_client(a.staff).post(RULES, payload, format="json"), 400)

    assert body["fields"]["actions.0.action_type"] == [
        "A discount runs on order.created triggers only."
    ]


def test_bad_conditions_are_refused_with_their_path(a, b, vip, on_created, root):
    other_brands = LabelFactory(name="Gold", type=Label.Type.CUSTOMER, brand=b.brand)
    conditions = [
        {"entity": "ORDER", "field": "total", "operator": "GT", "value": "ten"},
        {"entity": "CUSTOMER", "field": "shoe_size", "operator": "GT", "value": "40"},
        {"entity": "CUSTOMER", "operator": "HAS_LABEL", "label": other_brands.pk},
    ]

    by_staff = token_client(a.staff).post(
        RULES, vip_payload(a.brand, vip, conditions=conditions), format="json"
    )
    by_root = root.post(RULES, vip_payload(a.brand, vip, conditions=conditions), format="json")

    # Brand staff do not even see the other brand's label; a superuser is told why it is wrong.
    assert assert_error(by_staff, 400, "unknown_label")["fields"] == {
        "conditions.2.label": ["Unknown label, or not one of yours."]
    }
    fields = assert_error(by_root, 400, "invalid_rule")["fields"]
    assert fields["conditions.0.value"] == ["'ten' is not an amount."]
    assert fields["conditions.1.field"][0].startswith("CUSTOMER has no field 'shoe_size'")
    assert fields["conditions.2.label"] == ["'Gold' belongs to another brand than the rule."]
    assert not Rule.objects.exists()


def test_unknown_trigger_and_brand_are_refused(a, vip, on_created):
    client = token_client(a.staff)

    no_trigger = client.post(RULES, vip_payload(a.brand, vip, trigger="nope"), format="json")
    no_brand = client.post(RULES, {**vip_payload(a.brand, vip), "brand": "else"}, format="json")

    assert assert_error(no_trigger, 400, "unknown_trigger")["fields"] == {
        "trigger": ["Unknown trigger code."]
    }
    assert assert_error(no_brand, 400, "unknown_brand")["fields"] == {
        "brand": ["Unknown brand, or not one of yours."]
    }


def test_put_replaces_conditions_and_actions_and_patch_keeps_what_it_does_not_name(
    a, vip, on_created
):
    client = token_client(a.staff)
    rule_id = client.post(RULES, vip_payload(a.brand, vip), format="json").json()["id"]
    spend = {"entity": "CUSTOMER", "field": "lifetime_spend", "operator": "GTE", "value": "100"}

    renamed = client.patch(f"{RULES}{rule_id}/", {"name": "VIP 10%"}, format="json")
    replaced = client.put(
        f"{RULES}{rule_id}/",
        vip_payload(a.brand, vip, conditions=[spend], actions=[], status="DISABLED"),
        format="json",
    )

    assert renamed.status_code == 200
    assert renamed.json()["name"] == "VIP 10%"
    assert len(renamed.json()["conditions"]) == 1
    assert len(renamed.json()["actions"]) == 1
    assert replaced.status_code == 200
    assert [c["field"] for c in replaced.json()["conditions"]] == ["lifetime_spend"]
    assert replaced.json()["actions"] == []
    assert replaced.json()["status"] == "DISABLED"
    assert RuleCondition.objects.get().field == "lifetime_spend"
    assert not RuleAction.objects.exists()


def test_a_refused_update_changes_nothing(a, vip, on_created, on_paid):
    client = token_client(a.staff)
    rule_id = client.post(RULES, vip_payload(a.brand, vip), format="json").json()["id"]
    before = client.get(f"{RULES}{rule_id}/").json()

    # Moving the discounting rule to an order.paid trigger, with new conditions
    response = client.patch(
        f"{RULES}{rule_id}/",
        {"trigger": "on_paid", "name": "Moved", "conditions": []},
        format="json",
    )

    assert assert_error(response, 400, "invalid_rule")["fields"] == {
        "actions.0.action_type": ["A discount runs on order.created triggers only."]
    }
    assert client.get(f"{RULES}{rule_id}/").json() == before


def test_delete_a_rule_keeps_its_firings_by_name(a, vip, on_created):
    client = token_client(a.staff)
    rule_id = client.post(RULES, vip_payload(a.brand, vip), format="json").json()["id"]
    RuleFiring.objects.create(
        rule_id=rule_id,
        rule_name="VIP Order Discount Rule",
        event=Event.ORDER_CREATED,
        event_id="order:1",
        brand=a.brand,
        object_type="order",
        object_id=a.order.pk,
        outcome="applied",
        duration_ms=Decimal("0.5"),
    )

    response = client.delete(f"{RULES}{rule_id}/")

    assert response.status_code == 204
    assert not Rule.objects.exists()
    firing = RuleFiring.objects.get()
    assert (firing.rule, firing.rule_name) == (None, "VIP Order Discount Rule")


# --- Who may do what --------------------------------------------------------------------------


def test_brand_staff_see_their_rules_and_every_brands_but_not_other_brands(a, b, vip, on_created):
    global_rule = Rule.objects.create(name="Everyone", trigger=on_created)
    own = Rule.objects.create(name="Own", trigger=on_created, brand=a.brand)
    foreign = Rule.objects.create(name="Foreign", trigger=on_created, brand=b.brand)
    client = token_client(a.staff)

    listed = {row["name"] for row in client.get(RULES).json()["results"]}

    assert listed == {"Everyone", "Own"}
    assert client.get(f"{RULES}{own.pk}/").status_code == 200
    assert_error(client.get(f"{RULES}{foreign.pk}/"), 404)
    assert_error(client.patch(f"{RULES}{foreign.pk}/", {"name": "x"}, format="json"), 404)
    assert_error(
        client.patch(f"{RULES}{global_rule.pk}/", {"name": "x"}, format="json"), 403, "rule_global"
    )
    assert_error(client.delete(f"{RULES}{global_rule.pk}/"), 403, "rule_global")
    assert_error(client.post(RULES, vip_payload(None, vip), format="json"), 403, "rule_global")
    assert Rule.objects.get(pk=global_rule.pk).name == "Everyone"


def test_superusers_write_rules_for_every_brand(root, vip, on_created):
    response = root.post(RULES, vip_payload(None, vip), format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["brand"] is None


def test_roles_customers_and_devices(a, vip, on_created):
    analyst = token_client(staff_user("analyst", role=ANALYST, brands=[a.brand]))
    Rule.objects.create(name="Own", trigger=on_created, brand=a.brand)

    assert analyst.get(RULES).status_code == 200
    assert analyst.get(FIRINGS).status_code == 200
    assert_error(analyst.post(RULES, vip_payload(a.brand, vip), format="json"), 403)
    assert_error(analyst.post(TRIGGERS, {"name": "x", "code": "x"}, format="json"), 403)
    assert_error(token_client(a.customer.user).get(RULES), 403)
    assert_error(device_client(a.device_key).get(RULES), 403)
    assert_error(device_client(a.device_key).get(FIRINGS), 403)


def test_listing_rules_takes_the_same_queries_however_many_rules(a, vip, on_created):
    client = token_client(a.staff)
    client.post(RULES, vip_payload(a.brand, vip), format="json")
    with CaptureQueriesContext(connection) as one:
        assert client.get(RULES).status_code == 200
    for index in range(5):
        client.post(RULES, vip_payload(a.brand, vip, name=f"Rule {index}"), format="json")

    with CaptureQueriesContext(connection) as six:
        response = client.get(RULES)

    assert response.json()["count"] == 6
    assert len(six) == len(one)


# --- Triggers ---------------------------------------------------------------------------------


def test_trigger_crud(a, vip):
    client = token_client(a.staff)

    created = client.post(
        TRIGGERS, {"name": "On Order Creation Trigger", "code": "discount_vip"}, format="json"
    )
    duplicate = client.post(TRIGGERS, {"name": "Again", "code": "discount_vip"}, format="json")
    trigger_id = created.json()["id"]
    client.post(RULES, vip_payload(a.brand, vip), format="json")
    to_paid = client.patch(f"{TRIGGERS}{trigger_id}/", {"event": "order.paid"}, format="json")
    in_use = client.delete(f"{TRIGGERS}{trigger_id}/")
    unused = client.post(TRIGGERS, {"name": "Unused", "code": "unused"}, format="json")

    assert created.status_code == 201
    assert created.json()["event"] == "order.created"
    assert assert_error(duplicate, 409, "rule_trigger_exists")["fields"] == {
        "code": ["Already in use."]
    }
    assert "gives a discount" in assert_error(to_paid, 400)["fields"]["event"][0]
    assert_error(in_use, 409, "rule_trigger_in_use")
    assert client.delete(f"{TRIGGERS}{unused.json()['id']}/").status_code == 204
    assert list(RuleTrigger.objects.values_list("code", "event")) == [
        ("discount_vip", "order.created")
    ]


def test_staff_may_not_change_a_trigger_other_brands_use(a, b, on_created):
    Rule.objects.create(name="Theirs", trigger=on_created, brand=b.brand)

    response = token_client(a.staff).patch(
        f"{TRIGGERS}{on_created.pk}/", {"name": "Mine now"}, format="json"
    )

    assert_error(response, 403, "trigger_shared")
    assert RuleTrigger.objects.get().name == "On Order Creation Trigger"


# --- The firing log ---------------------------------------------------------------------------


def firing(rule, tenant, **fields):
    return RuleFiring.objects.create(
        rule=rule,
        rule_name=rule.name,
        event=fields.pop("event", Event.ORDER_CREATED),
        event_id=f"order:{tenant.order.pk}:{rule.pk}",
        brand=tenant.brand,
        object_type="order",
        object_id=tenant.order.pk,
        outcome=fields.pop("outcome", "applied"),
        actions=[{"type": "DISCOUNT", "amount": "2.50"}],
        duration_ms=Decimal("0.75"),
        **fields,
    )


def test_the_firing_log_is_listed_filtered_and_scoped(a, b, on_created):
    own = Rule.objects.create(name="Own", trigger=on_created, brand=a.brand)
    shared = Rule.objects.create(name="Everyone", trigger=on_created)
    applied = firing(own, a)
    failed = firing(shared, a, outcome="failed", error="boom")
    firing(shared, b)
    client = token_client(a.staff)

    def listed(**params):
        return {row["id"] for row in client.get(FIRINGS, params).json()["results"]}

    assert listed() == {applied.pk, failed.pk}
    assert listed(outcome="failed") == {failed.pk}
    assert listed(rule=own.pk) == {applied.pk}
    assert listed(event="order.paid") == set()
    assert listed(object_type="order", object_id=a.order.pk) == {applied.pk, failed.pk}
    detail = client.get(f"{FIRINGS}{failed.pk}/").json()
    assert detail["error"] == "boom"
    assert detail["actions"] == [{"type": "DISCOUNT", "amount": "2.50"}]
    assert detail["duration_ms"] == "0.750"
    assert_error(client.get(FIRINGS, {"rule": "x"}), 400)
    assert_error(client.post(FIRINGS, {}, format="json"), 403)  # nobody adds to the log


def test_a_partial_update_checks_the_rows_it_replaces_in_full(a, vip, on_created):
    client = token_client(a.staff)
    rule_id = client.post(RULES, vip_payload(a.brand, vip), format="json").json()["id"]
    label_only = [{"entity": "CUSTOMER", "operator": "NOT_HAS_LABEL", "label": vip.pk}]

    incomplete = client.patch(
        f"{RULES}{rule_id}/", {"conditions": [{"operator": "GT"}]}, format="json"
    )
    complete = client.patch(f"{RULES}{rule_id}/", {"conditions": label_only}, format="json")

    assert assert_error(incomplete, 400, "validation_error")["fields"] == {
        "conditions.0.entity": ["This field is required."]
    }
    assert complete.status_code == 200
    assert [(c["operator"], c["field"], c["group"]) for c in complete.json()["conditions"]] == [
        ("NOT_HAS_LABEL", "", 0)
    ]


# --- Dry run ----------------------------------------------------------------------------------


@pytest.fixture
def vip_rule(a):
    from labels.services import label_assign_customer
    from rules.services.authoring import vip_example_install

    vip_example_install()
    label_assign_customer(label=Label.objects.get(name="Customer_VIP"), customer=a.customer)
    return Rule.objects.get(name="VIP Order Discount Rule")


def test_dry_run_says_what_the_rule_would_do_and_changes_nothing(a, vip_rule):
    client = token_client(a.staff)
    before = client.get(f"/api/v1/orders/{a.order.pk}/").json()

    response = client.post(
        f"{RULES}{vip_rule.pk}/dry_run/",
        {"customer": a.customer.pk, "order": a.order.pk},
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["fires"] is True
    assert body["broken"] == ""
    assert [c["holds"] for c in body["conditions"]] == [True]
    assert "2.50" in body["actions"][0]
    assert not RuleFiring.objects.exists()
    assert client.get(f"/api/v1/orders/{a.order.pk}/").json() == before


def test_dry_run_input_and_scoping(a, b, vip_rule):
    client = token_client(a.staff)
    url = f"{RULES}{vip_rule.pk}/dry_run/"

    nothing = client.post(url, {}, format="json")
    foreign_customer = client.post(url, {"customer": b.customer.pk}, format="json")
    foreign_order = client.post(url, {"order": b.order.pk}, format="json")
    analyst = token_client(staff_user("analyst", role=ANALYST, brands=[a.brand]))

    assert assert_error(nothing, 400)["fields"] == {
        "non_field_errors": ["Give a customer, an order, or both."]
    }
    assert assert_error(foreign_customer, 400, "unknown_customer")["fields"] == {
        "customer": ["Unknown customer, or not one of yours."]
    }
    assert assert_error(foreign_order, 400, "unknown_order")["fields"] == {
        "order": ["Unknown order, or not one of yours."]
    }
    assert_error(token_client(a.customer.user).post(url, {"customer": 1}, format="json"), 403)
    # Seeing rules is enough to try one: an analyst may.
    assert analyst.post(url, {"customer": a.customer.pk}, format="json").status_code == 200
