"""Rule definitions are checked when saved: conditions against the allow-list, action
parameters per action type."""

from decimal import Decimal

import pytest

from core.errors import ApplicationError
from rules.params import action_params_clean, condition_parse


def refused(call, **kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        call(**kwargs)
    assert caught.value.code == "invalid_rule"
    return caught.value


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ("{not json", "action_params", "Not valid JSON"),
        ('["percentage", 10]', "action_params", "must be a JSON object"),
        ({"percentage": 10, "colour": "red"}, "action_params", "Unknown key 'colour'"),
        ({"percentage": -5}, "percentage", "must be above 0"),
        ({"percentage": 0}, "percentage", "must be above 0"),
        ({"percentage": 101}, "percentage", "at most 100"),
        ({"percentage": "10.555"}, "percentage", "at most 2 decimals"),
        ({"percentage": True}, "percentage", "must be a number"),
        ({"percentage": "ten"}, "percentage", "must be a number"),
        ({"percentage": "NaN"}, "percentage", "must be above 0"),
        ({"percentage": 10, "amount": 5}, "action_params", "either percentage or amount"),
        ({"description": "nothing"}, "action_params", "either percentage or amount"),
        ({"amount": "1.00", "base": "total"}, "base", "remaining"),
        ({"amount": "1.00", "max_amount": -1}, "max_amount", "must be above 0"),
        ({"amount": "1.00", "description": 7}, "description", "must be text"),
    ],
)
def test_bad_discount_params_are_refused_with_the_key_named(params, field, message):
    error = refused(action_params_clean, action_type="DISCOUNT", params=params)

    assert field in error.fields
    assert message in error.fields[field][0]


def test_the_users_vip_params_are_accepted_and_normalised():
    clean = action_params_clean(
        action_type="DISCOUNT",
        params='{"percentage": 10, "description": "VIP New Order Discount"}',
        event="order.created",
    )

    assert clean == {
        "percentage": "10",
        "description": "VIP New Order Discount",
        "base": "remaining",
    }


def test_a_discount_needs_an_order_created_trigger():
    error = refused(
        action_params_clean, action_type="DISCOUNT", params={"percentage": 5}, event="order.paid"
    )

    assert "order.created" in error.fields["action_type"][0]


@pytest.mark.parametrize(
    ("action_type", "params", "field"),
    [
        ("ADD_LABEL", {}, "action_params"),
        ("ADD_LABEL", {"label": ""}, "label"),
        ("AWARD_BONUS_POINTS", {"points": 0}, "points"),
        ("AWARD_BONUS_POINTS", {"points": 2.5}, "points"),
        ("AWARD_BONUS_POINTS", {"points": 10, "why": "x"}, "action_params"),
        ("NOTIFY", {"event": "Not An Event"}, "event"),
        ("NOTIFY", {"event": "a.b", "payload": []}, "payload"),
        ("EXPLODE", {}, "action_type"),
    ],
)
def test_other_actions_are_checked_too(action_type, params, field):
    error = refused(action_params_clean, action_type=action_type, params=params)

    assert field in error.fields


@pytest.mark.parametrize(
    ("entity", "field", "operator", "value", "label_id", "bad"),
    [
        ("CUSTOMER", "email", "EQUALS", "x", None, "field"),
        ("ORDER", "total", "CONTAINS", "1", None, "operator"),
        ("ORDER", "total", "GT", "12.345", None, "value"),
        ("ORDER", "line_count", "GT", "many", None, "value"),
        ("ORDER", "total", "BETWEEN", "10", None, "value"),
        ("ORDER", "total", "BETWEEN", "20,10", None, "value"),
        ("ORDER", "channel", "IN", "", None, "value"),
        ("CUSTOMER", "", "HAS_LABEL", "", None, "label"),
        ("ORDER", "", "HAS_LABEL", "", 1, "entity"),
        ("CUSTOMER", "tier", "EQUALS", "Gold", 1, "label"),
        ("CUSTOMER", "birthday_this_month", "EQUALS", "maybe", None, "value"),
        ("SHOP", "x", "EQUALS", "1", None, "entity"),
    ],
)
def test_conditions_outside_the_allow_list_are_refused(
    entity, field, operator, value, label_id, bad
):
    error = refused(
        condition_parse,
        entity=entity,
        field=field,
        operator=operator,
        value=value,
        label_id=label_id,
    )

    assert bad in error.fields


def test_condition_values_are_parsed_once_into_typed_values():
    between = condition_parse(
        entity="ORDER", field="total", operator="BETWEEN", value="10, 99.50", label_id=None
    )
    among = condition_parse(
        entity="ORDER", field="channel", operator="IN", value="web,pos", label_id=None, group=2
    )

    assert between.value == (Decimal("10"), Decimal("99.50"))
    assert (among.value, among.group) == (("web", "pos"), 2)
