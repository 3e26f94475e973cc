"""Rules for tests, built the way an admin builds them: trigger, rule, conditions, actions."""

from django.test import TestCase

from labels.models import Label
from rules.models import Event, Rule, RuleAction, RuleCondition, RuleTrigger


def trigger_for(event: str = Event.ORDER_CREATED, code: str | None = None) -> RuleTrigger:
    code = code or event.replace(".", "_")
    trigger, _ = RuleTrigger.objects.get_or_create(
        code=code, defaults={"name": f"On {event}", "event": event}
    )
    return trigger


def make_rule(
    *,
    name: str = "Rule",
    event: str = Event.ORDER_CREATED,
    trigger: RuleTrigger | None = None,
    brand=None,
    conditions=(),
    actions=(),
    **fields,
) -> Rule:
    """A rule with `conditions` (dicts of RuleCondition fields) and `actions`
    (`(action_type, params)`), committed so the cached rule lists are rebuilt."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        rule = Rule.objects.create(
            name=name, trigger=trigger or trigger_for(event), brand=brand, **fields
        )
        for condition in conditions:
            RuleCondition.objects.create(rule=rule, **condition)
        for position, (action_type, params) in enumerate(actions):
            RuleAction.objects.create(
                rule=rule, action_type=action_type, action_params=params, position=position
            )
    return rule


def vip_label() -> Label:
    label, _ = Label.objects.get_or_create(name="Customer_VIP", type="customer", brand=None)
    return label


def vip_rule(**fields) -> Rule:
    """The user's VIP example: customer HAS_LABEL Customer_VIP → 10% off the new order."""
    fields.setdefault("name", "VIP Order Discount Rule")
    return make_rule(
        trigger=trigger_for(Event.ORDER_CREATED, code="discount_vip"),
        conditions=[{"entity": "CUSTOMER", "operator": "HAS_LABEL", "label": vip_label()}],
        actions=[("DISCOUNT", {"percentage": 10, "description": "VIP New Order Discount"})],
        **fields,
    )


def committed(callable_, *args, **kwargs):
    """Run a change and its on-commit work (cache invalidation, emitted events)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return callable_(*args, **kwargs)
