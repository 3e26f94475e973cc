"""The rule action AWARD_BADGE: a badge of the rule's brand, awarded once per customer, refused
in plain words when it names anything else (API, admin form, service)."""

import pytest
from django.test import TestCase

from core.tests.api_world import assert_error, token_client
from customers.services import customer_create
from loyalty_management.models import BadgeDefinition, CustomerBadge
from loyalty_management.services.badges import badge_definition_save
from orders.services.payment import order_set_payment_status
from orders.services.placement import LineRequest, order_place
from rules.forms import RuleActionForm
from rules.models import Event, RuleFiring, RuleTrigger
from rules.tests.factories import make_rule

pytestmark = pytest.mark.django_db

RULES = "/api/v1/rules/"


def manual_badge(brand, name="Local hero", **data) -> BadgeDefinition:
    return badge_definition_save(brand=brand, data={"name": name, "kind": "manual", **data})


def pay_an_order(tenant, customer=None):
    order, _ = order_place(
        brand=tenant.brand,
        lines=[LineRequest(product_id=tenant.product.pk, quantity=1)],
        customer=customer or tenant.customer,
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        order_set_payment_status(order_id=order.pk, to_status="paid")
    return order


def test_a_rule_awards_its_badge_once_per_customer(a):
    hero = manual_badge(a.brand)
    rule = make_rule(
        name="Hero on payment",
        brand=a.brand,
        event=Event.ORDER_PAID,
        actions=[("AWARD_BADGE", {"badge": hero.pk})],
    )
    other = customer_create(brand=a.brand, email="other@example.com")

    pay_an_order(a)
    pay_an_order(a)
    pay_an_order(a, customer=other)

    firings = RuleFiring.objects.filter(rule=rule).order_by("id")
    assert [f.outcome for f in firings] == ["applied"] * 3
    assert [f.actions[0]["changed"] for f in firings] == [True, False, True]
    held = CustomerBadge.objects.filter(badge=hero).order_by("id")
    assert [(h.customer_id, h.source, h.rule_id) for h in held] == [
        (a.customer.pk, "rule", rule.pk),
        (other.pk, "rule", rule.pk),
    ]


def test_a_rule_whose_badge_was_deactivated_fails_in_words_and_awards_nothing(a):
    hero = manual_badge(a.brand)
    rule = make_rule(
        brand=a.brand, event=Event.ORDER_PAID, actions=[("AWARD_BADGE", {"badge": hero.pk})]
    )
    BadgeDefinition.objects.filter(pk=hero.pk).update(is_active=False)

    pay_an_order(a)

    firing = RuleFiring.objects.get(rule=rule)
    assert firing.outcome == "failed"
    assert "AWARD_BADGE: The badge is not active." in firing.error
    assert not CustomerBadge.objects.exists()


def _payload(brand, badge_value) -> dict:
    return {
        "name": "Hero",
        "status": "ENABLED",
        "trigger": "on_paid",
        "brand": brand.slug,
        "conditions": [],
        "actions": [{"action_type": "AWARD_BADGE", "action_params": {"badge": badge_value}}],
    }


def test_the_api_accepts_a_badge_of_the_rules_brand_and_refuses_anything_else(a, b):
    RuleTrigger.objects.create(name="On payment", code="on_paid", event=Event.ORDER_PAID)
    hero = manual_badge(a.brand)
    foreign = manual_badge(b.brand, "Theirs")
    retired = manual_badge(a.brand, "Retired", is_active=False)
    client = token_client(a.staff)

    created = client.post(RULES, _payload(a.brand, hero.pk), format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["actions"][0]["action_params"] == {"badge": hero.pk}

    cases = [
        (foreign.pk, "No badge with this id in the rule's brand."),
        (retired.pk, "The badge 'Retired' is not active."),
        ("hero", "badge must be the id of one of the brand's badges."),
        (-1, "badge must be the id of one of the brand's badges."),
    ]
    for value, message in cases:
        response = client.post(RULES, _payload(a.brand, value), format="json")
        body = assert_error(response, 400, "invalid_rule")
        assert body["fields"] == {"actions.0.action_params": [message]}, value
    assert CustomerBadge.objects.count() == 0
    assert len(created.json()["actions"]) == 1


def test_the_admin_form_checks_the_badge_against_the_rules_brand(a, b):
    hero = manual_badge(a.brand)
    foreign = manual_badge(b.brand, "Theirs")
    rule = make_rule(brand=a.brand, event=Event.ORDER_PAID)
    global_rule = make_rule(name="Everywhere", event=Event.ORDER_PAID)

    def form(rule_obj, badge_id):
        return RuleActionForm(
            data={
                "rule": rule_obj.pk,
                "action_type": "AWARD_BADGE",
                "action_params": f'{{"badge": {badge_id}}}',
                "position": 0,
            }
        )

    good = form(rule, hero.pk)
    assert good.is_valid(), good.errors
    assert good.cleaned_data["action_params"] == {"badge": hero.pk}
    assert form(rule, foreign.pk).errors["action_params"] == [
        "No badge with this id in the rule's brand."
    ]
    assert form(global_rule, hero.pk).errors["action_params"] == [
        "A rule for every brand cannot award a brand's badge."
    ]


def test_the_dry_run_names_the_badge(a):
    from rules.engine import rule_dry_run

    hero = manual_badge(a.brand)
    rule = make_rule(
        brand=a.brand, event=Event.ORDER_PAID, actions=[("AWARD_BADGE", {"badge": hero.pk})]
    )

    run = rule_dry_run(rule=rule, customer=a.customer)

    assert run.actions == ["Award the badge Local hero, once per customer"]
    assert not CustomerBadge.objects.exists()
