"""Admin forms of rules. Conditions and actions are checked by `rules.services.authoring`
(which uses the allow-list and parameter rules of `rules.params`), with each message on the
field it is about."""

import json

from django import forms
from django.core.exceptions import ObjectDoesNotExist
from django.utils.html import format_html, format_html_join

from core.errors import ApplicationError
from rules.models import Rule, RuleAction, RuleCondition, RuleTrigger
from rules.params import FIELDS
from rules.services.authoring import (
    rule_action_check,
    rule_condition_check,
    rule_fields_check,
    rule_trigger_check_event,
)

# What the parameters of each action type look like, shown next to the field.
ACTION_PARAM_EXAMPLES: dict[str, str] = {
    "DISCOUNT": (
        '{"percentage": 10, "description": "VIP New Order Discount"} or {"amount": "5.00"}; '
        'optional "max_amount" (a cap) and "base": "remaining" (after promotions, the default) '
        'or "subtotal". order.created triggers only.'
    ),
    "ADD_LABEL": '{"label": "Customer_VIP"}: the name of a customer label',
    "REMOVE_LABEL": '{"label": "Customer_VIP"}: the name of a customer label',
    "AWARD_BONUS_POINTS": '{"points": 100, "reason": "Welcome bonus"}: through the loyalty ledger',
    "NOTIFY": '{"event": "rules.vip_welcome", "payload": {}}: a notification template event',
    "AWARD_BADGE": '{"badge": 12}: the id of one of the brand\'s badges, awarded once',
    "ISSUE_REWARD": (
        '{"template": 7}: the id of one of the brand\'s active rewards, issued to the '
        "event's customer once per event"
    ),
}

CONDITION_FIELD_CHOICES = [
    ("", "— none (label tests) —"),
    *[
        (
            RuleCondition.Entity(entity).label,
            [(name, f"{name} ({kind})") for name, kind in fields.items()],
        )
        for entity, fields in FIELDS.items()
    ],
]


def add_application_error(form: forms.BaseForm, error: ApplicationError) -> None:
    """Put each message of `error` on its form field (or on the form when it has no such
    field)."""
    if not error.fields:
        form.add_error(None, error.message)
    for name, messages in error.fields.items():
        field = name if name in form.fields else None
        for message in messages:
            if field is not None and field in form.errors and message in form.errors[field]:
                continue
            form.add_error(field, message)


def _rule_brand_and_event(rule: Rule | None) -> tuple[int | None, str | None]:
    """The brand of a rule being edited and its trigger's event (None if not chosen yet)."""
    if rule is None:
        return None, None
    try:
        event = rule.trigger.event if rule.trigger_id is not None else None
    except ObjectDoesNotExist:
        event = None
    return rule.brand_id, event


class RuleConditionForm(forms.ModelForm):
    field = forms.ChoiceField(
        choices=CONDITION_FIELD_CHOICES,
        required=False,
        help_text="From the entity's allow-list (see the README); empty for HAS_LABEL and "
        "NOT_HAS_LABEL.",
    )

    class Meta:
        model = RuleCondition
        fields = ["rule", "entity", "field", "operator", "value", "label", "group"]

    def clean(self):
        cleaned = super().clean()
        rule = cleaned.get("rule")
        if rule is None or any(name in self.errors for name in RuleConditionForm.Meta.fields):
            return cleaned
        brand_id, _event = _rule_brand_and_event(rule)
        try:
            rule_condition_check(
                brand_id=brand_id,
                entity=cleaned.get("entity", ""),
                field=cleaned.get("field") or "",
                operator=cleaned.get("operator", ""),
                value=cleaned.get("value") or "",
                label=cleaned.get("label"),
                group=cleaned.get("group") or 0,
            )
        except ApplicationError as error:
            add_application_error(self, error)
        return cleaned


def _params_help() -> str:
    rows = format_html_join(
        "",
        "<li><b>{}</b>: <code>{}</code></li>",
        ((name, example) for name, example in ACTION_PARAM_EXAMPLES.items()),
    )
    return format_html("A JSON object; by action type:<ul>{}</ul>", rows)


class RuleActionForm(forms.ModelForm):
    # Text, so that bad JSON reaches the parameter check and gets its message.
    action_params = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        required=False,
        label="Action params",
    )

    class Meta:
        model = RuleAction
        fields = ["rule", "action_type", "action_params", "position"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action_params"].help_text = _params_help()
        if self.instance.pk is not None and "action_params" not in self.data:
            self.initial["action_params"] = json.dumps(self.instance.action_params)

    def clean(self):
        cleaned = super().clean()
        rule = cleaned.get("rule")
        if rule is None or "action_type" in self.errors:
            return cleaned
        brand_id, event = _rule_brand_and_event(rule)
        try:
            cleaned["action_params"] = rule_action_check(
                brand_id=brand_id,
                action_type=cleaned.get("action_type", ""),
                params=cleaned.get("action_params") or "",
                event=event,
            )
        except ApplicationError as error:
            add_application_error(self, error)
        return cleaned


class RuleTriggerForm(forms.ModelForm):
    class Meta:
        model = RuleTrigger
        fields = ["name", "code", "event", "description"]

    def clean(self):
        cleaned = super().clean()
        event = cleaned.get("event")
        if event and self.instance.pk is not None:
            try:
                rule_trigger_check_event(trigger=self.instance, event=event)
            except ApplicationError as error:
                add_application_error(self, error)
        return cleaned


class RuleForm(forms.ModelForm):
    class Meta:
        model = Rule
        fields = [
            "name",
            "description",
            "status",
            "trigger",
            "brand",
            "priority",
            "valid_from",
            "valid_until",
            "stop_processing",
            "labels",
        ]

    def clean(self):
        cleaned = super().clean()
        brand = cleaned.get("brand")
        try:
            rule_fields_check(
                brand_id=brand.pk if brand is not None else None,
                valid_from=cleaned.get("valid_from"),
                valid_until=cleaned.get("valid_until"),
                labels=cleaned.get("labels") or (),
            )
        except ApplicationError as error:
            add_application_error(self, error)
        return cleaned


class DryRunForm(forms.Form):
    """Whom and what to try a rule on; the fields are built by the admin (scoped choices)."""

    def __init__(self, *args, customer_field: forms.Field, order_field: forms.Field, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["customer"] = customer_field
        self.fields["order"] = order_field

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not cleaned.get("customer") and not cleaned.get("order"):
            raise forms.ValidationError("Choose a customer, an order, or both.")
        return cleaned
