"""`manage.py install_vip_example`: the user's VIP configuration, and nothing more on a rerun."""

from io import StringIO

import pytest
from django.core.management import call_command

from labels.models import Label
from labels.tests.factories import LabelFactory
from rules.models import Event, Rule, RuleAction, RuleCondition, RuleTrigger

pytestmark = pytest.mark.django_db


def install() -> str:
    out = StringIO()
    call_command("install_vip_example", stdout=out)
    return out.getvalue()


def snapshot() -> list:
    return [
        list(model.objects.order_by("pk").values())
        for model in (Label, RuleTrigger, Rule, RuleCondition, RuleAction)
    ]


def test_installs_exactly_the_users_configuration():
    output = install()

    label = Label.objects.get()
    assert (label.name, label.type, label.brand) == ("Customer_VIP", Label.Type.CUSTOMER, None)
    trigger = RuleTrigger.objects.get()
    assert (trigger.name, trigger.code, trigger.event) == (
        "On Order Creation Trigger",
        "discount_vip",
        Event.ORDER_CREATED,
    )
    rule = Rule.objects.get()
    assert rule.name == "VIP Order Discount Rule"
    assert rule.description == "Apply 10% discount to VIP customers' new orders"
    assert rule.status == Rule.Status.ENABLED
    assert rule.trigger == trigger
    assert rule.brand is None
    assert not rule.labels.exists()
    condition = rule.conditions.get()
    assert (condition.entity, condition.field, condition.operator, condition.label) == (
        "CUSTOMER",
        "",
        "HAS_LABEL",
        label,
    )
    action = rule.actions.get()
    assert action.action_type == "DISCOUNT"
    assert action.action_params == {
        "percentage": "10",
        "description": "VIP New Order Discount",
        "base": "remaining",
    }
    assert "rule 'VIP Order Discount Rule': created" in output


def test_running_it_twice_changes_nothing():
    install()
    before = snapshot()

    output = install()

    assert snapshot() == before
    assert output.count("already there, left as it is") == 3


def test_an_existing_label_and_trigger_are_reused():
    label = LabelFactory(name="Customer_VIP", type=Label.Type.CUSTOMER, brand=None)
    trigger = RuleTrigger.objects.create(name="Mine", code="discount_vip")

    install()

    assert Label.objects.get() == label
    assert RuleTrigger.objects.get() == trigger
    assert Rule.objects.get().trigger == trigger
    assert RuleCondition.objects.get().label == label


def test_it_runs_after_the_demo_data_and_reports_the_vip_customers():
    call_command("seed_demo", customers=40, orders=0, products=5, quiet=True, stdout=StringIO())
    vip_customers = Label.objects.get(name="Customer_VIP").customerlabel_set.count()

    output = install()

    assert Label.objects.filter(name="Customer_VIP").count() == 1
    assert vip_customers > 0
    assert f"{vip_customers} customer(s) carry Customer_VIP" in output
