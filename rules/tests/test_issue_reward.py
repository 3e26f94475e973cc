"""The rule action ISSUE_REWARD: an active reward template of the rule's brand, issued to the
event's customer once per rule and event, refused in plain words when it names anything else
(API, admin form, service)."""

from decimal import Decimal

import pytest
from django.test import TestCase

from core.tests.api_world import assert_error, token_client
from customers.services import customer_create
from orders.services.payment import order_set_payment_status
from orders.services.placement import LineRequest, order_place
from rewards.models import CustomerReward, RewardTemplate
from rewards.tests.factories import RewardTemplateFactory
from rules.engine import rule_dry_run
from rules.forms import RuleActionForm
from rules.models import Event, RuleFiring, RuleTrigger
from rules.services.events import rules_event_evaluate
from rules.tests.factories import make_rule

pytestmark = pytest.mark.django_db

RULES = "/api/v1/rules/"


def pay_an_order(tenant, customer=None):
    order, _ = order_place(
        brand=tenant.brand,
        lines=[LineRequest(product_id=tenant.product.pk, quantity=1)],
        customer=customer or tenant.customer,
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        order_set_payment_status(order_id=order.pk, to_status="paid")
    return order


def thanks(brand, **fields) -> RewardTemplate:
    return RewardTemplateFactory(brand=brand, name="Thank you", amount=Decimal("4.00"), **fields)


def test_a_rule_issues_its_reward_once_per_event_to_the_events_customer(a):
    template = thanks(a.brand)
    rule = make_rule(
        name="Thanks on payment",
        brand=a.brand,
        event=Event.ORDER_PAID,
        actions=[("ISSUE_REWARD", {"template": template.pk})],
    )
    other = customer_create(brand=a.brand, email="other@example.com")

    pay_an_order(a)
    pay_an_order(a)
    pay_an_order(a, customer=other)

    firings = list(RuleFiring.objects.filter(rule=rule).order_by("id"))
    assert [f.outcome for f in firings] == ["applied"] * 3
    rewards = list(CustomerReward.objects.filter(template=template).order_by("id"))
    assert [(r.customer_id, r.source, r.amount) for r in rewards] == [
        (a.customer.pk, "rule", Decimal("4.00")),
        (a.customer.pk, "rule", Decimal("4.00")),
        (other.pk, "rule", Decimal("4.00")),
    ]
    assert [r.idempotency_key for r in rewards] == [f"rule:{rule.pk}:{f.event_id}" for f in firings]
    assert [f.actions[0]["customer_reward"] for f in firings] == [r.pk for r in rewards]

    # The same event delivered again issues nothing more.
    first = firings[0]
    again = rules_event_evaluate(
        event=Event.ORDER_PAID,
        event_id=first.event_id,
        brand_id=a.brand.pk,
        order_id=first.object_id,
    )
    assert again == []
    assert CustomerReward.objects.filter(template=template).count() == 3


def test_a_rule_whose_reward_was_deactivated_fails_in_words_and_issues_nothing(a):
    template = thanks(a.brand)
    rule = make_rule(
        brand=a.brand,
        event=Event.ORDER_PAID,
        actions=[("ISSUE_REWARD", {"template": template.pk})],
    )
    RewardTemplate.objects.filter(pk=template.pk).update(is_active=False)

    pay_an_order(a)

    firing = RuleFiring.objects.get(rule=rule)
    assert firing.outcome == "failed"
    assert "ISSUE_REWARD: The reward 'Thank you' is not active." in firing.error
    assert not CustomerReward.objects.exists()


def _payload(brand, value) -> dict:
    return {
        "name": "Thanks",
        "status": "ENABLED",
        "trigger": "on_paid",
        "brand": brand.slug,
        "conditions": [],
        "actions": [{"action_type": "ISSUE_REWARD", "action_params": {"template": value}}],
    }


def test_the_api_accepts_an_active_reward_of_the_rules_brand_and_refuses_anything_else(a, b):
    RuleTrigger.objects.create(name="On payment", code="on_paid", event=Event.ORDER_PAID)
    template = thanks(a.brand)
    foreign = thanks(b.brand)
    retired = RewardTemplateFactory(brand=a.brand, name="Retired", is_active=False)
    client = token_client(a.staff)

    created = client.post(RULES, _payload(a.brand, template.pk), format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["actions"][0]["action_params"] == {"template": template.pk}

    cases = [
        (foreign.pk, "No reward with this id in the rule's brand."),
        (retired.pk, "The reward 'Retired' is not active."),
        ("thanks", "template must be the id of one of the brand's rewards."),
        (0, "template must be the id of one of the brand's rewards."),
        (True, "template must be the id of one of the brand's rewards."),
    ]
    for value, message in cases:
        response = client.post(RULES, _payload(a.brand, value), format="json")
        body = assert_error(response, 400, "invalid_rule")
        assert body["fields"] == {"actions.0.action_params": [message]}, value
    assert not CustomerReward.objects.exists()


def test_the_admin_form_checks_the_reward_against_the_rules_brand(a, b):
    template = thanks(a.brand)
    foreign = thanks(b.brand)
    rule = make_rule(brand=a.brand, event=Event.ORDER_PAID)
    global_rule = make_rule(name="Everywhere", event=Event.ORDER_PAID)

    def form(rule_obj, template_id):
        return RuleActionForm(
            data={
                "rule": rule_obj.pk,
                "action_type": "ISSUE_REWARD",
                "action_params": f'{{"template": {template_id}}}',
                "position": 0,
            }
        )

    good = form(rule, template.pk)
    assert good.is_valid(), good.errors
    assert good.cleaned_data["action_params"] == {"template": template.pk}
    assert form(rule, foreign.pk).errors["action_params"] == [
        "No reward with this id in the rule's brand."
    ]
    assert form(global_rule, template.pk).errors["action_params"] == [
        "A rule for every brand cannot issue a brand's reward."
    ]


def test_the_dry_run_names_the_reward_and_issues_nothing(a):
    template = thanks(a.brand)
    rule = make_rule(
        brand=a.brand,
        event=Event.ORDER_PAID,
        actions=[("ISSUE_REWARD", {"template": template.pk})],
    )

    run = rule_dry_run(rule=rule, customer=a.customer)

    assert run.actions == ["Issue the reward Thank you, once per event"]
    assert not CustomerReward.objects.exists()
