"""Writing rule definitions: triggers, rules with their conditions and actions, their status.

Every check of what a rule may say goes through `rules.params` (the allow-list of condition
fields, the parameters of each action type), plus what needs the database: a condition's label
is of the entity's type and of the rule's brand (or global), an action's label name exists as a
customer label there, a category slug exists in the brand. The admin forms and the API call the
same `*_check` functions, so both refuse the same things with the same messages; errors name the
field they are about (`label`, `action_params`, `conditions.2.value` in `rule_save`).
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from catalog.models import Category
from core.errors import ApplicationError, ConflictError
from labels.models import Label
from rules.models import Event, Rule, RuleAction, RuleCondition, RuleTrigger
from rules.params import (
    CATEGORY,
    FIELDS,
    ConditionSpec,
    action_params_clean,
    condition_parse,
)
from rules.selectors import rules_cache_invalidate

MAX_CONDITIONS = 50
MAX_ACTIONS = 20
LABEL_TYPE_OF_ENTITY = {"CUSTOMER": Label.Type.CUSTOMER, "PRODUCT": Label.Type.PRODUCT}
LABEL_ACTIONS = ("ADD_LABEL", "REMOVE_LABEL")


def _invalid(message: str, field: str, code: str = "invalid_rule") -> ApplicationError:
    return ApplicationError(message, code=code, fields={field: [message]})


def rule_condition_check(
    *,
    brand_id: int | None,
    entity: str,
    field: str,
    operator: str,
    value: str,
    label: Label | None,
    group: int = 0,
) -> ConditionSpec:
    """A condition of a rule of `brand_id` (None: every brand), parsed; raises
    `ApplicationError` whose `fields` name the condition's bad field."""
    spec = condition_parse(
        entity=entity,
        field=field or "",
        operator=operator,
        value=value or "",
        label_id=label.pk if label is not None else None,
        group=group,
    )
    if label is not None:
        expected = LABEL_TYPE_OF_ENTITY[entity]
        if label.type != expected:
            raise _invalid(
                f"{label.name!r} is a {label.get_type_display().lower()} label; "
                f"a {entity} condition needs a {expected.label.lower()} label.",
                "label",
            )
        if label.brand_id is not None and label.brand_id != brand_id:
            raise _invalid(
                f"{label.name!r} belongs to a brand; a rule for every brand uses global labels."
                if brand_id is None
                else f"{label.name!r} belongs to another brand than the rule.",
                "label",
            )
    if brand_id is not None and FIELDS[entity].get(spec.field) == CATEGORY:
        wanted = spec.value if isinstance(spec.value, tuple) else (spec.value,)
        known = {
            slug.lower()
            for slug in Category.objects.filter(brand_id=brand_id).values_list("slug", flat=True)
        }
        missing = [slug for slug in wanted if slug not in known]
        if missing:
            raise _invalid(f"No category with the slug {missing[0]!r} in this brand.", "value")
    return spec


def rule_action_check(
    *, brand_id: int | None, action_type: str, params: Any, event: str | None
) -> dict:
    """An action's parameters (a dict or its JSON text), checked and normalised for a rule of
    `brand_id` whose trigger listens to `event` (None when not known yet). Raises
    `ApplicationError` whose `fields` are `action_type` or `action_params`."""
    try:
        clean = action_params_clean(action_type=action_type, params=params, event=event)
    except ApplicationError as error:
        # The parameters are one field in forms and payloads; the message names the key.
        field = "action_type" if "action_type" in error.fields else "action_params"
        raise _invalid(error.message, field) from None
    if action_type in LABEL_ACTIONS:
        labels = Label.objects.filter(type=Label.Type.CUSTOMER, name=clean["label"])
        if brand_id is None:
            labels = labels.filter(brand__isnull=True)
        else:
            labels = labels.filter(Q(brand__isnull=True) | Q(brand_id=brand_id))
        if not labels.exists():
            scope = "global" if brand_id is None else "of the rule's brand or global"
            raise _invalid(
                f"No customer label named {clean['label']!r} ({scope}); create it first.",
                "action_params",
            )
    if action_type == "AWARD_BADGE":
        _badge_check(brand_id=brand_id, badge_id=clean["badge"])
    if action_type == "ISSUE_REWARD":
        _reward_template_check(brand_id=brand_id, template_id=clean["template"])
    return clean


def _badge_check(*, brand_id: int | None, badge_id: int) -> None:
    from loyalty_management.models import BadgeDefinition

    if brand_id is None:
        raise _invalid("A rule for every brand cannot award a brand's badge.", "action_params")
    badge = BadgeDefinition.objects.filter(pk=badge_id, brand_id=brand_id).first()
    if badge is None:
        raise _invalid("No badge with this id in the rule's brand.", "action_params")
    if not badge.is_active:
        raise _invalid(f"The badge {badge.name!r} is not active.", "action_params")


def _reward_template_check(*, brand_id: int | None, template_id: int) -> None:
    from rewards.models import RewardTemplate

    if brand_id is None:
        raise _invalid("A rule for every brand cannot issue a brand's reward.", "action_params")
    template = RewardTemplate.objects.filter(pk=template_id, brand_id=brand_id).first()
    if template is None:
        raise _invalid("No reward with this id in the rule's brand.", "action_params")
    if not template.is_active:
        raise _invalid(f"The reward {template.name!r} is not active.", "action_params")


def _event_of(rule: Rule) -> str | None:
    if rule.trigger_id is None:
        return None
    return rule.trigger.event


def _check_parts(
    *,
    brand_id: int | None,
    event: str | None,
    conditions: Sequence[dict],
    actions: Sequence[dict],
) -> tuple[list[dict], list[dict]]:
    """Every condition and action checked; one error listing all problems by path."""
    problems: dict[str, list[str]] = {}
    clean_conditions, clean_actions = [], []
    for index, condition in enumerate(conditions):
        try:
            rule_condition_check(brand_id=brand_id, **condition)
        except ApplicationError as error:
            for field, messages in error.fields.items():
                problems.setdefault(f"conditions.{index}.{field}", []).extend(messages)
            continue
        clean_conditions.append(condition)
    for index, action in enumerate(actions):
        try:
            params = rule_action_check(
                brand_id=brand_id,
                action_type=action["action_type"],
                params=action["action_params"],
                event=event,
            )
        except ApplicationError as error:
            for field, messages in error.fields.items():
                problems.setdefault(f"actions.{index}.{field}", []).extend(messages)
            continue
        clean_actions.append({**action, "action_params": params})
    if problems:
        first = next(iter(problems.values()))[0]
        raise ApplicationError(
            f"The rule is not valid: {first}", code="invalid_rule", fields=problems
        )
    return clean_conditions, clean_actions


def _stored_conditions(rule: Rule) -> list[dict]:
    return [
        {
            "entity": c.entity,
            "field": c.field,
            "operator": c.operator,
            "value": c.value,
            "label": c.label,
            "group": c.group,
        }
        for c in rule.conditions.select_related("label").order_by("group", "id")
    ]


def _stored_actions(rule: Rule) -> list[dict]:
    return [
        {"action_type": a.action_type, "action_params": a.action_params, "position": a.position}
        for a in rule.actions.order_by("position", "id")
    ]


def rule_fields_check(
    *,
    brand_id: int | None,
    valid_from: datetime | None,
    valid_until: datetime | None,
    labels: Iterable[Label] = (),
) -> None:
    """A rule's own fields: its validity is ordered and the labels it is filed under are of its
    brand or global."""
    if valid_from and valid_until and valid_until <= valid_from:
        raise _invalid("Must be after valid from.", "valid_until")
    for label in labels:
        if label.brand_id is not None and label.brand_id != brand_id:
            raise _invalid(f"{label.name!r} belongs to another brand than the rule.", "labels")


def _check_rule_fields(rule: Rule, labels: Iterable[Label] | None) -> None:
    rule_fields_check(
        brand_id=rule.brand_id,
        valid_from=rule.valid_from,
        valid_until=rule.valid_until,
        labels=labels or (),
    )
    rule.full_clean(exclude=["labels"], validate_constraints=False)


@transaction.atomic
def rule_save(
    *,
    rule: Rule,
    labels: Iterable[Label] | None = None,
    conditions: Sequence[dict] | None = None,
    actions: Sequence[dict] | None = None,
) -> Rule:
    """Create or change a rule with its conditions and actions, all or nothing.

    `rule` carries the new field values (unsaved). `conditions` (dicts of `entity`, `field`,
    `operator`, `value`, `label`, `group`) and `actions` (`action_type`, `action_params`,
    optional `position`) replace the rule's current ones; None keeps them, and they are checked
    again against the rule's (possibly new) brand and trigger. `labels` replaces the labels the
    rule is filed under; None keeps them.
    """
    if rule.pk is not None:
        Rule.objects.select_for_update().filter(pk=rule.pk).first()
    labels = list(labels) if labels is not None else None
    if conditions is not None and len(conditions) > MAX_CONDITIONS:
        raise _invalid(f"At most {MAX_CONDITIONS} conditions.", "conditions")
    if actions is not None and len(actions) > MAX_ACTIONS:
        raise _invalid(f"At most {MAX_ACTIONS} actions.", "actions")
    _check_rule_fields(rule, labels)
    wanted_conditions = conditions if conditions is not None else _stored_conditions(rule)
    wanted_actions = actions if actions is not None else _stored_actions(rule)
    wanted_conditions, wanted_actions = _check_parts(
        brand_id=rule.brand_id,
        event=_event_of(rule),
        conditions=wanted_conditions,
        actions=wanted_actions,
    )
    rule.save()
    if labels is not None:
        rule.labels.set(labels)
    if conditions is not None:
        rule.conditions.all().delete()
        RuleCondition.objects.bulk_create(
            RuleCondition(rule=rule, **condition) for condition in wanted_conditions
        )
    if actions is not None:
        rule.actions.all().delete()
        RuleAction.objects.bulk_create(
            RuleAction(
                rule=rule,
                action_type=action["action_type"],
                action_params=action["action_params"],
                position=action.get("position", index),
            )
            for index, action in enumerate(wanted_actions)
        )
    # bulk_create and delete() of a queryset send no per-row signals.
    transaction.on_commit(rules_cache_invalidate)
    return rule


@transaction.atomic
def rule_delete(*, rule: Rule) -> None:
    """Delete a rule with its conditions and actions; its firings stay in the log by name."""
    rule.delete()


def rule_check(*, rule: Rule) -> None:
    """Raise `ApplicationError` if the saved rule's conditions or actions would not run."""
    _check_parts(
        brand_id=rule.brand_id,
        event=_event_of(rule),
        conditions=_stored_conditions(rule),
        actions=_stored_actions(rule),
    )


@transaction.atomic
def rules_set_status(*, rules: Iterable[Rule], status: str) -> tuple[int, dict[str, str]]:
    """Enable or disable rules. A rule is enabled only if its parts would run; returns how
    many changed and, by rule name, why the others were refused."""
    changed, refused = 0, {}
    for rule in sorted(rules, key=lambda rule: rule.pk):
        if status == Rule.Status.ENABLED:
            try:
                rule_check(rule=rule)
            except ApplicationError as error:
                refused[rule.name] = error.message
                continue
        changed += (
            Rule.objects.filter(pk=rule.pk)
            .exclude(status=status)
            .update(status=status, updated_at=timezone.now())
        )
    if changed:
        transaction.on_commit(rules_cache_invalidate)
    return changed, refused


def rule_trigger_editable(*, trigger: RuleTrigger, brand_ids: Iterable[int] | None) -> bool:
    """Whether staff of `brand_ids` (None: a superuser) may change a shared trigger: only while
    every rule using it is of their brands."""
    if brand_ids is None or trigger.pk is None:
        return True
    return not (
        Rule.objects.filter(trigger=trigger)
        .filter(Q(brand__isnull=True) | ~Q(brand_id__in=list(brand_ids)))
        .exists()
    )


def rule_trigger_check_event(*, trigger: RuleTrigger, event: str) -> None:
    """A trigger whose rules discount must stay on `order.created`."""
    if trigger.pk is None or event == Event.ORDER_CREATED:
        return
    discounting = (
        Rule.objects.filter(trigger=trigger, actions__action_type=RuleAction.Type.DISCOUNT)
        .values_list("name", flat=True)
        .first()
    )
    if discounting is not None:
        raise _invalid(
            f"The rule {discounting!r} of this trigger gives a discount, which runs on "
            "order.created only.",
            "event",
        )


@transaction.atomic
def rule_trigger_save(*, trigger: RuleTrigger) -> RuleTrigger:
    """Create or change a trigger. Codes are unique; a trigger of discounting rules stays on
    `order.created`."""
    trigger.full_clean(validate_unique=False)
    rule_trigger_check_event(trigger=trigger, event=trigger.event)
    taken = ConflictError(
        f"A rule trigger with the code {trigger.code!r} already exists.",
        code="rule_trigger_exists",
        fields={"code": ["Already in use."]},
    )
    if RuleTrigger.objects.filter(code=trigger.code).exclude(pk=trigger.pk).exists():
        raise taken
    try:
        with transaction.atomic():
            trigger.save()
    except IntegrityError as error:  # a concurrent save took the code
        raise taken from error
    return trigger


@transaction.atomic
def rule_trigger_delete(*, trigger: RuleTrigger) -> None:
    """Delete a trigger no rule uses."""
    if Rule.objects.filter(trigger=trigger).exists():
        raise ConflictError(
            "Rules use this trigger; delete them or move them to another trigger first.",
            code="rule_trigger_in_use",
        )
    trigger.delete()


# --- The VIP example --------------------------------------------------------------------------

VIP_LABEL = "Customer_VIP"
VIP_TRIGGER = {"code": "discount_vip", "name": "On Order Creation Trigger"}
VIP_RULE = {
    "name": "VIP Order Discount Rule",
    "description": "Apply 10% discount to VIP customers' new orders",
}
VIP_DISCOUNT = {"percentage": 10, "description": "VIP New Order Discount"}


@transaction.atomic
def vip_example_install() -> dict[str, bool]:
    """The VIP discount, as configured in the admin: the global customer label `Customer_VIP`,
    the trigger `discount_vip` on order.created, and the enabled rule "VIP Order Discount Rule"
    (customer HAS_LABEL Customer_VIP → DISCOUNT 10%). What exists already is reused and left as
    it is; returns what was created, by part."""
    label, label_created = Label.objects.get_or_create(
        name=VIP_LABEL,
        type=Label.Type.CUSTOMER,
        brand=None,
        defaults={"description": "Top customers; rules and promotions target them."},
    )
    trigger = RuleTrigger.objects.filter(code=VIP_TRIGGER["code"]).first()
    trigger_created = trigger is None
    if trigger is None:
        trigger = rule_trigger_save(trigger=RuleTrigger(**VIP_TRIGGER, event=Event.ORDER_CREATED))
    rule = Rule.objects.filter(name=VIP_RULE["name"], brand__isnull=True).first()
    rule_created = rule is None
    if rule is None:
        rule_save(
            rule=Rule(**VIP_RULE, status=Rule.Status.ENABLED, trigger=trigger, brand=None),
            labels=[],
            conditions=[
                {
                    "entity": RuleCondition.Entity.CUSTOMER,
                    "field": "",
                    "operator": RuleCondition.Operator.HAS_LABEL,
                    "value": "",
                    "label": label,
                    "group": 0,
                }
            ],
            actions=[{"action_type": RuleAction.Type.DISCOUNT, "action_params": VIP_DISCOUNT}],
        )
    return {"label": label_created, "trigger": trigger_created, "rule": rule_created}
