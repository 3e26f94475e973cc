"""Rules in the admin: forms refuse what `rules.params` refuses, on the right field, and save
nothing; brand scoping; enable/disable; the read-only firing log."""

import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils.html import escape

from brands.roles import ANALYST, BRAND_ADMIN
from brands.tests.factories import BrandFactory, StaffUserFactory
from catalog.tests.factories import CategoryFactory
from labels.models import Label
from labels.tests.factories import LabelFactory
from rules.models import Event, Rule, RuleAction, RuleCondition, RuleFiring, RuleTrigger

pytestmark = pytest.mark.django_db


@pytest.fixture
def brands():
    return BrandFactory(slug="brand-a", name="Brand A"), BrandFactory(
        slug="brand-b", name="Brand B"
    )


@pytest.fixture
def root(client):
    user = StaffUserFactory(username="root", is_superuser=True)
    client.force_login(user)
    return user


def staff_of(brand, role=BRAND_ADMIN, username="staff-a"):
    user = StaffUserFactory(username=username)
    user.groups.add(Group.objects.get(name=role))
    brand.staff.add(user)
    return user


def trigger(event=Event.ORDER_CREATED, code="discount_vip"):
    return RuleTrigger.objects.create(name=f"On {event}", code=code, event=event)


def rule(brand=None, *, on=None, name="VIP Order Discount Rule", **fields):
    return Rule.objects.create(name=name, trigger=on or trigger(), brand=brand, **fields)


def vip():
    return LabelFactory(name="Customer_VIP", type=Label.Type.CUSTOMER, brand=None)


def form_errors(response) -> dict:
    assert response.status_code == 200, response.status_code
    return response.context["adminform"].form.errors


ACTION_ADD = reverse("admin:rules_ruleaction_add")
CONDITION_ADD = reverse("admin:rules_rulecondition_add")


# --- Actions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ('{"percentage": 10, "description": "VIP"', "Not valid JSON"),
        ('{"percent": 10}', "Unknown key 'percent'"),
        ('{"percentage": -5}', "percentage must be above 0."),
        ('{"percentage": 101}', "percentage must be at most 100."),
        ('{"percentage": 10, "amount": "5.00"}', "Give either percentage or amount."),
        ("[10]", "must be a JSON object"),
    ],
)
def test_bad_discount_params_are_refused_on_the_params_field_and_nothing_is_saved(
    client, root, params, message
):
    # Given the VIP rule
    vip_rule = rule()

    # When an admin adds a DISCOUNT action with bad params
    response = client.post(
        ACTION_ADD,
        {"rule": vip_rule.pk, "action_type": "DISCOUNT", "action_params": params, "position": 0},
    )

    # Then the form is shown again with the message on the params field, and nothing is saved
    errors = form_errors(response)
    assert any(message in error for error in errors["action_params"]), errors
    assert escape(message) in response.content.decode()
    assert not RuleAction.objects.exists()


def test_a_discount_on_a_trigger_other_than_order_created_is_refused(client, root):
    paid_rule = rule(on=trigger(Event.ORDER_PAID, code="on_paid"))

    response = client.post(
        ACTION_ADD,
        {
            "rule": paid_rule.pk,
            "action_type": "DISCOUNT",
            "action_params": '{"percentage": 10}',
            "position": 0,
        },
    )

    errors = form_errors(response)
    assert errors["action_type"] == ["A discount runs on order.created triggers only."]
    assert not RuleAction.objects.exists()


def test_label_actions_need_an_existing_customer_label_of_the_rules_brand_or_global(
    client, root, brands
):
    brand_a, brand_b = brands
    LabelFactory(name="Gold", type=Label.Type.CUSTOMER, brand=brand_b)
    LabelFactory(name="Spicy", type=Label.Type.PRODUCT, brand=brand_a)
    rule_a = rule(brand_a, on=trigger(Event.ORDER_PAID, code="on_paid"))

    for name in ("Unknown", "Gold", "Spicy"):  # missing, another brand's, a product label
        response = client.post(
            ACTION_ADD,
            {
                "rule": rule_a.pk,
                "action_type": "ADD_LABEL",
                "action_params": json.dumps({"label": name}),
                "position": 0,
            },
        )
        errors = form_errors(response)
        assert errors["action_params"] == [
            f"No customer label named {name!r} (of the rule's brand or global); create it first."
        ]
    assert not RuleAction.objects.exists()


def test_a_valid_action_is_saved_with_its_cleaned_params(client, root):
    vip_rule = rule()

    response = client.post(
        ACTION_ADD,
        {
            "rule": vip_rule.pk,
            "action_type": "DISCOUNT",
            "action_params": '{"percentage": 10, "description": "VIP New Order Discount"}',
            "position": 0,
        },
    )

    assert response.status_code == 302, form_errors(response)
    action = RuleAction.objects.get()
    assert action.rule == vip_rule
    assert action.action_params == {
        "percentage": "10",
        "description": "VIP New Order Discount",
        "base": "remaining",
    }


def test_bonus_points_are_offered_and_validated(client, root):
    paid_rule = rule(on=trigger(Event.ORDER_PAID, code="on_paid"))
    page = client.get(ACTION_ADD).content.decode()
    assert 'value="AWARD_BONUS_POINTS"' in page

    refused = client.post(
        ACTION_ADD,
        {
            "rule": paid_rule.pk,
            "action_type": "AWARD_BONUS_POINTS",
            "action_params": '{"points": 0}',
            "position": 0,
        },
    )
    accepted = client.post(
        ACTION_ADD,
        {
            "rule": paid_rule.pk,
            "action_type": "AWARD_BONUS_POINTS",
            "action_params": '{"points": 50, "reason": "Thanks"}',
            "position": 0,
        },
    )

    assert form_errors(refused)["action_params"] == ["points must be between 1 and 1000000."]
    assert accepted.status_code == 302
    assert RuleAction.objects.get().action_params == {"points": 50, "reason": "Thanks"}


def test_the_change_page_shows_params_as_json(client, root):
    action = RuleAction.objects.create(
        rule=rule(), action_type="DISCOUNT", action_params={"percentage": "10", "base": "remaining"}
    )

    response = client.get(reverse("admin:rules_ruleaction_change", args=[action.pk]))

    shown = response.context["adminform"].form["action_params"].value()
    assert json.loads(shown) == {"percentage": "10", "base": "remaining"}
    assert "&quot;percentage&quot;: &quot;10&quot;" in response.content.decode()


# --- Conditions -------------------------------------------------------------------------------


def condition_post(client, rule_, **fields):
    data = {"rule": rule_.pk, "field": "", "value": "", "label": "", "group": 0, **fields}
    return client.post(CONDITION_ADD, data)


def test_the_users_vip_condition_is_accepted(client, root):
    vip_rule, label = rule(), vip()

    response = condition_post(
        client, vip_rule, entity="CUSTOMER", operator="HAS_LABEL", label=label.pk
    )

    assert response.status_code == 302, form_errors(response)
    condition = RuleCondition.objects.get()
    assert (condition.rule, condition.entity, condition.operator, condition.label) == (
        vip_rule,
        "CUSTOMER",
        "HAS_LABEL",
        label,
    )


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"entity": "CUSTOMER", "operator": "HAS_LABEL"}, "label", "HAS_LABEL needs a label."),
        (
            {"entity": "CUSTOMER", "field": "total", "operator": "GT", "value": "10"},
            "field",
            "CUSTOMER has no field 'total'",
        ),
        (
            {"entity": "ORDER", "field": "total", "operator": "GT", "value": "ten"},
            "value",
            "'ten' is not an amount.",
        ),
        (
            {"entity": "ORDER", "field": "channel", "operator": "GT", "value": "web"},
            "operator",
            "GT does not apply to channel",
        ),
        (
            {"entity": "ORDER", "field": "total", "operator": "BETWEEN", "value": "50,10"},
            "value",
            "The low value is above the high value.",
        ),
        ({"entity": "ORDER", "field": "nope", "operator": "GT", "value": "1"}, "field", "valid"),
    ],
)
def test_bad_conditions_are_refused_on_their_field(client, root, fields, field, message):
    response = condition_post(client, rule(), **fields)

    errors = form_errors(response)
    assert any(message in error for error in errors[field]), errors
    assert not RuleCondition.objects.exists()


def test_a_condition_label_must_fit_the_entity_and_the_rules_brand(client, root, brands):
    brand_a, brand_b = brands
    rule_a = rule(brand_a)
    global_rule = rule(name="Everyone", on=rule_a.trigger)
    product_label = LabelFactory(name="Vegan", type=Label.Type.PRODUCT, brand=brand_a)
    other_brand = LabelFactory(name="Gold", type=Label.Type.CUSTOMER, brand=brand_b)
    brand_label = LabelFactory(name="Gold", type=Label.Type.CUSTOMER, brand=brand_a)

    wrong_type = condition_post(
        client, rule_a, entity="CUSTOMER", operator="HAS_LABEL", label=product_label.pk
    )
    wrong_brand = condition_post(
        client, rule_a, entity="CUSTOMER", operator="HAS_LABEL", label=other_brand.pk
    )
    global_rule_brand_label = condition_post(
        client, global_rule, entity="CUSTOMER", operator="HAS_LABEL", label=brand_label.pk
    )

    assert "needs a customer label" in form_errors(wrong_type)["label"][0]
    assert form_errors(wrong_brand)["label"] == ["'Gold' belongs to another brand than the rule."]
    assert (
        "a rule for every brand uses global labels"
        in (form_errors(global_rule_brand_label)["label"][0])
    )
    assert not RuleCondition.objects.exists()


def test_a_category_condition_needs_a_category_of_the_brand(client, root, brands):
    brand_a, brand_b = brands
    CategoryFactory(brand=brand_a, slug="drinks")
    CategoryFactory(brand=brand_b, slug="shoes")
    rule_a = rule(brand_a)

    refused = condition_post(
        client, rule_a, entity="PRODUCT", field="category", operator="IN", value="drinks,shoes"
    )
    accepted = condition_post(
        client, rule_a, entity="PRODUCT", field="category", operator="EQUALS", value="drinks"
    )

    assert form_errors(refused)["value"] == ["No category with the slug 'shoes' in this brand."]
    assert accepted.status_code == 302


def test_the_field_is_a_select_of_the_allow_list(client, root):
    page = client.get(CONDITION_ADD).content.decode()

    for name in ("order_count", "lifetime_spend", "total", "line_count", "category", "sku"):
        assert f'<option value="{name}">' in page
    assert '<optgroup label="Customer">' in page


# --- The rule page with its inlines ------------------------------------------------------------


def rule_post(rule_trigger, *, conditions=(), actions=(), **fields):
    data = {
        "name": "VIP Order Discount Rule",
        "description": "",
        "status": "ENABLED",
        "trigger": rule_trigger.pk,
        "brand": "",
        "priority": 0,
        "conditions-TOTAL_FORMS": len(conditions),
        "conditions-INITIAL_FORMS": 0,
        "actions-TOTAL_FORMS": len(actions),
        "actions-INITIAL_FORMS": 0,
        **fields,
    }
    for index, condition in enumerate(conditions):
        for key, value in {"field": "", "value": "", "label": "", "group": 0, **condition}.items():
            data[f"conditions-{index}-{key}"] = value
    for index, action in enumerate(actions):
        for key, value in {"position": index, **action}.items():
            data[f"actions-{index}-{key}"] = value
    return data


def test_a_rule_with_a_bad_inline_action_saves_nothing(client, root):
    label = vip()
    data = rule_post(
        trigger(),
        conditions=[{"entity": "CUSTOMER", "operator": "HAS_LABEL", "label": label.pk}],
        actions=[{"action_type": "DISCOUNT", "action_params": '{"percentage": 101}'}],
    )

    response = client.post(reverse("admin:rules_rule_add"), data)

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][1].formset
    assert formset.errors[0]["action_params"] == ["percentage must be at most 100."]
    assert not Rule.objects.exists()
    assert not RuleCondition.objects.exists()


def test_a_rule_with_valid_inlines_is_saved_with_cleaned_params(client, root):
    label = vip()
    data = rule_post(
        trigger(),
        conditions=[{"entity": "CUSTOMER", "operator": "HAS_LABEL", "label": label.pk}],
        actions=[{"action_type": "DISCOUNT", "action_params": '{"amount": 5}'}],
    )

    response = client.post(reverse("admin:rules_rule_add"), data)

    assert response.status_code == 302
    saved = Rule.objects.get()
    assert saved.conditions.get().label == label
    assert saved.actions.get().action_params == {
        "amount": "5",
        "description": "",
        "base": "remaining",
    }


def test_moving_a_discounting_rule_to_an_order_paid_trigger_is_refused(client, root):
    vip_rule = rule()
    action = RuleAction.objects.create(
        rule=vip_rule, action_type="DISCOUNT", action_params={"percentage": "10"}
    )
    paid = trigger(Event.ORDER_PAID, code="on_paid")
    data = rule_post(paid, name=vip_rule.name)
    data.update(
        {
            "actions-TOTAL_FORMS": 1,
            "actions-INITIAL_FORMS": 1,
            "actions-0-id": action.pk,
            "actions-0-rule": vip_rule.pk,
            "actions-0-action_type": "DISCOUNT",
            "actions-0-action_params": '{"percentage": "10"}',
            "actions-0-position": 0,
        }
    )

    response = client.post(reverse("admin:rules_rule_change", args=[vip_rule.pk]), data)

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][1].formset
    assert formset.errors[0]["action_type"] == ["A discount runs on order.created triggers only."]
    vip_rule.refresh_from_db()
    assert vip_rule.trigger.event == Event.ORDER_CREATED


def test_a_trigger_of_discounting_rules_stays_on_order_created(client, root):
    vip_rule = rule()
    RuleAction.objects.create(
        rule=vip_rule, action_type="DISCOUNT", action_params={"percentage": "10"}
    )

    response = client.post(
        reverse("admin:rules_ruletrigger_change", args=[vip_rule.trigger_id]),
        {"name": "On Order Creation Trigger", "code": "discount_vip", "event": "order.paid"},
    )

    assert "gives a discount, which runs on order.created only" in form_errors(response)["event"][0]
    assert RuleTrigger.objects.get().event == Event.ORDER_CREATED


def test_a_trigger_with_only_name_and_code_listens_to_order_created(client, root):
    response = client.post(
        reverse("admin:rules_ruletrigger_add"),
        {"name": "On Order Creation Trigger", "code": "discount_vip", "event": "order.created"},
    )
    page = client.get(reverse("admin:rules_ruletrigger_add")).content.decode()

    assert response.status_code == 302
    assert '<option value="order.created" selected>' in page


# --- Enable / disable -------------------------------------------------------------------------


def test_enable_and_disable_actions(client, root):
    good = rule(name="Good", status=Rule.Status.DISABLED)
    broken = rule(name="Broken", on=good.trigger, status=Rule.Status.DISABLED)
    # Saved around the validation (as an old row could be): an unknown key.
    RuleAction.objects.create(rule=broken, action_type="DISCOUNT", action_params={"pct": 10})
    changelist = reverse("admin:rules_rule_changelist")

    client.post(
        changelist,
        {"action": "enable_rules", "_selected_action": [good.pk, broken.pk]},
        follow=True,
    )
    good.refresh_from_db()
    broken.refresh_from_db()
    assert good.status == Rule.Status.ENABLED
    assert broken.status == Rule.Status.DISABLED

    client.post(changelist, {"action": "disable_rules", "_selected_action": [good.pk]})
    good.refresh_from_db()
    assert good.status == Rule.Status.DISABLED


# --- Scoping ----------------------------------------------------------------------------------


def test_brand_staff_see_their_rules_and_every_brands_but_change_only_theirs(client, brands):
    brand_a, brand_b = brands
    on = trigger()
    own, shared, foreign = (
        rule(brand_a, on=on, name="Own"),
        rule(None, on=on, name="Shared"),
        rule(brand_b, on=on, name="Foreign"),
    )
    client.force_login(staff_of(brand_a))

    listed = client.get(reverse("admin:rules_rule_changelist")).context["cl"].result_list
    shared_page = client.get(reverse("admin:rules_rule_change", args=[shared.pk]))
    shared_post = client.post(
        reverse("admin:rules_rule_change", args=[shared.pk]), rule_post(on, name="Hijacked")
    )
    foreign_page = client.get(reverse("admin:rules_rule_change", args=[foreign.pk]))
    condition_choices = client.get(CONDITION_ADD).context["adminform"].form.fields["rule"]

    assert {r.name for r in listed} == {"Own", "Shared"}
    assert shared_page.status_code == 200
    assert shared_page.context["has_change_permission"] is False
    assert shared_post.status_code == 403
    assert Rule.objects.get(pk=shared.pk).name == "Shared"
    assert foreign_page.status_code == 302  # "not found": back to the admin index
    assert list(condition_choices.queryset) == [own]


def test_brand_staff_cannot_write_a_rule_for_every_brand(client, brands):
    brand_a, _ = brands
    client.force_login(staff_of(brand_a))

    response = client.post(reverse("admin:rules_rule_add"), rule_post(trigger()))

    assert form_errors(response)["brand"] == ["This field is required."]
    assert not Rule.objects.exists()


def test_brand_staff_may_not_change_a_trigger_used_by_another_brand(client, brands):
    brand_a, brand_b = brands
    on = trigger()
    rule(brand_b, on=on)
    client.force_login(staff_of(brand_a))

    response = client.post(
        reverse("admin:rules_ruletrigger_change", args=[on.pk]),
        {"name": "Renamed", "code": "renamed", "event": "order.created"},
    )

    assert response.status_code == 403
    assert RuleTrigger.objects.get().code == "discount_vip"


def test_an_analyst_only_views_rules(client, brands):
    brand_a, _ = brands
    own = rule(brand_a)
    client.force_login(staff_of(brand_a, role=ANALYST, username="analyst"))

    assert client.get(reverse("admin:rules_rule_change", args=[own.pk])).status_code == 200
    assert client.get(reverse("admin:rules_rule_add")).status_code == 403
    assert client.get(ACTION_ADD).status_code == 403


# --- The firing log ---------------------------------------------------------------------------


def firing(rule_, brand, **fields):
    return RuleFiring.objects.create(
        rule=rule_,
        rule_name=rule_.name,
        event=Event.ORDER_CREATED,
        event_id=f"order:{fields.get('object_id', 1)}",
        brand=brand,
        object_type="order",
        object_id=fields.pop("object_id", 1),
        outcome=fields.pop("outcome", RuleFiring.Outcome.APPLIED),
        actions=[{"type": "DISCOUNT", "amount": "2.50"}],
        duration_ms=Decimal("1.250"),
        **fields,
    )


def test_the_firing_log_is_read_only_and_scoped(client, brands):
    brand_a, brand_b = brands
    on = trigger()
    own = firing(rule(brand_a, on=on, name="Own"), brand_a, object_id=7)
    firing(rule(brand_b, on=on, name="Foreign"), brand_b, object_id=8)
    failed = firing(
        rule(None, on=on, name="Shared"),
        brand_a,
        object_id=9,
        outcome=RuleFiring.Outcome.FAILED,
        error="No customer label named 'Gone'.",
    )
    client.force_login(staff_of(brand_a))
    changelist = reverse("admin:rules_rulefiring_changelist")

    listed = client.get(changelist).context["cl"].result_list
    only_failed = client.get(changelist, {"outcome": "failed"}).context["cl"].result_list
    by_object = client.get(changelist, {"q": "7"}).context["cl"].result_list
    detail = client.get(reverse("admin:rules_rulefiring_change", args=[failed.pk]))

    assert {f.pk for f in listed} == {own.pk, failed.pk}
    assert [f.pk for f in only_failed] == [failed.pk]
    assert [f.pk for f in by_object] == [own.pk]
    assert detail.status_code == 200
    assert "No customer label named" in detail.content.decode()
    assert "&quot;amount&quot;: &quot;2.50&quot;" in detail.content.decode()
    assert client.get(reverse("admin:rules_rulefiring_add")).status_code == 403
    assert (
        client.post(reverse("admin:rules_rulefiring_delete", args=[own.pk]), {"post": "yes"})
    ).status_code == 403
    assert RuleFiring.objects.count() == 3


# --- Dry run ----------------------------------------------------------------------------------


@pytest.fixture
def vip_shop():
    """The user's VIP rule for every brand, and a brand with a VIP customer's order."""
    from core.tests.api_world import build_tenant
    from labels.services import label_assign_customer
    from rules.services.authoring import vip_example_install

    vip_example_install()
    tenant = build_tenant("a")  # its order: 2 x 12.50
    label_assign_customer(label=Label.objects.get(name="Customer_VIP"), customer=tenant.customer)
    return tenant, Rule.objects.get(name="VIP Order Discount Rule")


def dry_run_url(rule_):
    return reverse("admin:rules_rule_dry_run", args=[rule_.pk])


def test_the_rule_page_links_to_its_dry_run(client, root, vip_shop):
    _, vip_rule = vip_shop

    page = client.get(reverse("admin:rules_rule_change", args=[vip_rule.pk])).content.decode()

    assert f'href="{dry_run_url(vip_rule)}"' in page


def test_a_dry_run_shows_what_would_happen_and_changes_nothing(client, root, vip_shop):
    tenant, vip_rule = vip_shop
    order_before = list(type(tenant.order).objects.filter(pk=tenant.order.pk).values())

    response = client.get(
        dry_run_url(vip_rule), {"customer": tenant.customer.pk, "order": tenant.order.pk}
    )

    assert response.status_code == 200
    result = response.context["result"]
    assert result.fires is True
    assert result.broken == ""
    assert [holds for _, holds in result.conditions] == [True]
    assert len(result.actions) == 1
    assert "2.50" in result.actions[0]
    page = response.content.decode()
    assert 'id="dry-run-verdict"' in page
    assert "2.50" in page
    assert not RuleFiring.objects.exists()
    assert list(type(tenant.order).objects.filter(pk=tenant.order.pk).values()) == order_before


def test_a_dry_run_for_a_customer_without_the_label_does_not_fire(client, root, vip_shop):
    from customers.services import customer_create

    tenant, vip_rule = vip_shop
    plain = customer_create(brand=tenant.brand, email="plain@example.com")

    response = client.get(dry_run_url(vip_rule), {"customer": plain.pk})

    result = response.context["result"]
    assert result.fires is False
    assert [holds for _, holds in result.conditions] == [False]


def test_a_dry_run_needs_a_customer_or_an_order_of_the_users_brands(client, vip_shop, brands):
    tenant, vip_rule = vip_shop
    staff = staff_of(brands[1], username="staff-b")  # not of the tenant's brand
    client.force_login(staff)

    empty = client.get(dry_run_url(vip_rule), {"customer": "", "order": ""})
    foreign = client.get(
        dry_run_url(vip_rule), {"customer": tenant.customer.pk, "order": tenant.order.pk}
    )

    assert empty.context["form"].non_field_errors() == ["Choose a customer, an order, or both."]
    assert foreign.context["form"].errors == {
        "customer": ["Not a customer of this rule's brand."],
        "order": ["No order with this number in the rule's brand."],
    }
    assert empty.context["result"] is None


def test_a_dry_run_of_another_brands_rule_is_not_found(client, brands):
    brand_a, brand_b = brands
    foreign = rule(brand_b)
    client.force_login(staff_of(brand_a))

    assert client.get(dry_run_url(foreign)).status_code == 404


def test_the_dry_run_customer_search_is_scoped(client, vip_shop, brands):
    tenant, vip_rule = vip_shop
    client.force_login(staff_of(tenant.brand, username="staff-tenant"))
    page = client.get(dry_run_url(vip_rule)).content.decode()

    found = client.get(
        reverse("admin:autocomplete"),
        {
            "term": "customer-a",
            "app_label": "rules",
            "model_name": "rulefiring",
            "field_name": "customer",
        },
    )
    client.force_login(staff_of(brands[1], username="staff-b"))
    hidden = client.get(
        reverse("admin:autocomplete"),
        {
            "term": "customer-a",
            "app_label": "rules",
            "model_name": "rulefiring",
            "field_name": "customer",
        },
    )

    assert "admin-autocomplete" in page
    assert [row["id"] for row in found.json()["results"]] == [str(tenant.customer.pk)]
    assert hidden.json()["results"] == []
