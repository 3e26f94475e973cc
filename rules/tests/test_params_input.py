"""Rule action parameters PostgreSQL cannot store are refused on the params field.

The admin takes the parameters as JSON text, where `\\u0000` and `\\ud800` escapes decode to a
NUL and a lone surrogate, and `1e400` to an infinite float: before, they reached the database
(a 500) or a label lookup (a 500).
"""

import pytest
from django.urls import reverse

from brands.tests.factories import StaffUserFactory
from core.errors import ApplicationError
from labels.models import Label
from labels.tests.factories import LabelFactory
from rules.models import Event, Rule, RuleAction, RuleTrigger
from rules.params import action_params_clean

pytestmark = pytest.mark.django_db

CASES = [
    ("DISCOUNT", '{"percentage": 10, "description": "VIP\\u0000"}', "description"),
    (
        "NOTIFY",
        '{"event": "rules.hello", "payload": {"note": ["ok", "a\\u0000b"]}}',
        "payload.note.1",
    ),
    ("NOTIFY", '{"event": "rules.hello", "payload": {"k\\ud800": 1}}', "payload"),
    ("AWARD_BONUS_POINTS", '{"points": 5, "reason": "\\udfff"}', "reason"),
    ("ADD_LABEL", '{"label": "VIP\\u0000"}', "label"),
    ("NOTIFY", '{"event": "rules.hello", "payload": {"n": -1e400}}', "payload.n"),
]


def expected_message(params: str) -> str:
    if "u0000" in params:
        return "Text cannot contain the NUL character (\\u0000)."
    if "1e400" in params:
        return "Numbers must be finite."
    return "Text cannot contain an unpaired surrogate character (\\ud800 to \\udfff)."


@pytest.mark.parametrize(("action_type", "params", "path"), CASES)
def test_unstorable_text_is_refused_naming_the_key(action_type, params, path):
    with pytest.raises(ApplicationError) as error:
        action_params_clean(action_type=action_type, params=params, event="order.created")

    assert list(error.value.fields) == [path]
    assert error.value.message == f"{path}: {expected_message(params)}"


@pytest.mark.parametrize(("action_type", "params", "path"), CASES)
def test_the_admin_shows_the_reason_on_the_params_field_and_saves_nothing(
    client, action_type, params, path
):
    # Given a rule, and a label whose name is the printable part of the bad one
    client.force_login(StaffUserFactory(username="root", is_superuser=True))
    LabelFactory(name="VIP", type=Label.Type.CUSTOMER, brand=None)
    trigger = RuleTrigger.objects.create(
        name="On order", code="on_order", event=Event.ORDER_CREATED
    )
    rule = Rule.objects.create(name="VIP", trigger=trigger)

    # When an action is added with text the database cannot store
    response = client.post(
        reverse("admin:rules_ruleaction_add"),
        {"rule": rule.pk, "action_type": action_type, "action_params": params, "position": 0},
    )

    # Then the form comes back with the reason on the params field
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["action_params"] == [f"{path}: {expected_message(params)}"]
    assert not RuleAction.objects.exists()
