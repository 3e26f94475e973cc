"""Wire format of rule triggers, rules (with their conditions and actions) and the firing log."""

from rest_framework import serializers

from core.api.filters import MAX_ID
from rules.models import Event, Rule, RuleAction, RuleCondition, RuleFiring, RuleTrigger
from rules.services.authoring import MAX_ACTIONS, MAX_CONDITIONS

ID = {"min_value": 1, "max_value": MAX_ID}


class RuleTriggerInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    code = serializers.SlugField(max_length=64, help_text="A stable, unique code: discount_vip.")
    event = serializers.ChoiceField(choices=Event.choices, default=Event.ORDER_CREATED)
    description = serializers.CharField(max_length=255, allow_blank=True, default="")


class RuleTriggerOutputSerializer(serializers.ModelSerializer):
    rule_count = serializers.IntegerField(read_only=True, help_text="Rules using the trigger.")

    class Meta:
        model = RuleTrigger
        fields = [
            "id",
            "name",
            "code",
            "event",
            "description",
            "rule_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class RuleConditionSerializer(serializers.Serializer):
    entity = serializers.ChoiceField(choices=RuleCondition.Entity.choices)
    field = serializers.CharField(
        max_length=32,
        allow_blank=True,
        default="",
        help_text="From the entity's allow-list (see the README); empty for label tests.",
    )
    operator = serializers.ChoiceField(choices=RuleCondition.Operator.choices)
    value = serializers.CharField(
        max_length=500,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        help_text="A value; IN: comma-separated values; BETWEEN: low,high. Empty for labels.",
    )
    label = serializers.IntegerField(
        **ID,
        allow_null=True,
        default=None,
        help_text="Label id, for HAS_LABEL and NOT_HAS_LABEL.",
    )
    group = serializers.IntegerField(
        min_value=0,
        max_value=32767,
        default=0,
        help_text="0: required; conditions sharing a number above 0: any one of them.",
    )


class RuleActionSerializer(serializers.Serializer):
    action_type = serializers.ChoiceField(choices=RuleAction.Type.choices)
    action_params = serializers.DictField(
        default=dict,
        help_text='By type: DISCOUNT {"percentage": 10, "description": "..."} or '
        '{"amount": "5.00"} (optional "max_amount", "base": "remaining"|"subtotal"); '
        'ADD_LABEL / REMOVE_LABEL {"label": "<customer label name>"}; AWARD_BONUS_POINTS '
        '{"points": 100, "reason": "..."}; NOTIFY {"event": "rules.vip_welcome", "payload": {}}; '
        'AWARD_BADGE {"badge": <id of a badge of the rule\'s brand>}; ISSUE_REWARD '
        '{"template": <id of an active reward template of the rule\'s brand>}.',
    )
    position = serializers.IntegerField(
        min_value=0, max_value=32767, required=False, help_text="Order within the rule."
    )


class RuleInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=160)
    description = serializers.CharField(max_length=5000, allow_blank=True, default="")
    status = serializers.ChoiceField(choices=Rule.Status.choices, default=Rule.Status.ENABLED)
    trigger = serializers.SlugField(max_length=64, help_text="The trigger's code.")
    brand = serializers.SlugField(
        max_length=60,
        allow_null=True,
        help_text="Slug of one of your brands; null: every brand (superusers only).",
    )
    priority = serializers.IntegerField(
        min_value=-10_000, max_value=10_000, default=0, help_text="Higher runs first."
    )
    valid_from = serializers.DateTimeField(allow_null=True, default=None)
    valid_until = serializers.DateTimeField(allow_null=True, default=None)
    stop_processing = serializers.BooleanField(
        default=False, help_text="When it fires, no lower-priority rule of the event runs."
    )
    labels = serializers.ListField(
        child=serializers.IntegerField(**ID),
        max_length=100,
        default=list,
        help_text="Ids of the labels the rule is filed under.",
    )
    conditions = RuleConditionSerializer(
        many=True,
        max_length=MAX_CONDITIONS,
        default=list,
        help_text="Replace the rule's conditions. All with group 0 must hold.",
    )
    actions = RuleActionSerializer(
        many=True,
        max_length=MAX_ACTIONS,
        default=list,
        help_text="Replace the rule's actions, run in this order.",
    )


class RulePartsInputSerializer(serializers.Serializer):
    """The conditions and actions of a partial update, each checked in full."""

    conditions = RuleConditionSerializer(many=True, max_length=MAX_CONDITIONS, required=False)
    actions = RuleActionSerializer(many=True, max_length=MAX_ACTIONS, required=False)


class RuleConditionOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = RuleCondition
        fields = ["id", "entity", "field", "operator", "value", "label", "group"]
        read_only_fields = fields


class RuleActionOutputSerializer(serializers.ModelSerializer):
    action_params = serializers.DictField(read_only=True)

    class Meta:
        model = RuleAction
        fields = ["id", "action_type", "action_params", "position"]
        read_only_fields = fields


class RuleOutputSerializer(serializers.ModelSerializer):
    trigger = serializers.SlugRelatedField(slug_field="code", read_only=True)
    event = serializers.ChoiceField(source="trigger.event", choices=Event.choices, read_only=True)
    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    labels = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    conditions = RuleConditionOutputSerializer(many=True, read_only=True)
    actions = RuleActionOutputSerializer(many=True, read_only=True)

    class Meta:
        model = Rule
        fields = [
            "id",
            "name",
            "description",
            "status",
            "trigger",
            "event",
            "brand",
            "priority",
            "valid_from",
            "valid_until",
            "stop_processing",
            "labels",
            "conditions",
            "actions",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class RuleFiringOutputSerializer(serializers.ModelSerializer):
    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    actions = serializers.ListField(
        child=serializers.DictField(), read_only=True, help_text="What each action did."
    )

    class Meta:
        model = RuleFiring
        fields = [
            "id",
            "rule",
            "rule_name",
            "event",
            "event_id",
            "brand",
            "object_type",
            "object_id",
            "customer",
            "outcome",
            "actions",
            "error",
            "duration_ms",
            "created_at",
        ]
        read_only_fields = fields


class DryRunInputSerializer(serializers.Serializer):
    customer = serializers.IntegerField(
        **ID, required=False, allow_null=True, help_text="Customer id."
    )
    order = serializers.IntegerField(
        **ID,
        required=False,
        allow_null=True,
        help_text="Order id: its lines, totals, store and channel (and customer, unless given).",
    )

    def validate(self, attrs):
        if not attrs.get("customer") and not attrs.get("order"):
            raise serializers.ValidationError("Give a customer, an order, or both.")
        return attrs


class DryRunConditionSerializer(serializers.Serializer):
    description = serializers.CharField()
    holds = serializers.BooleanField()


class DryRunOutputSerializer(serializers.Serializer):
    fires = serializers.BooleanField(help_text="Whether the rule would fire.")
    broken = serializers.CharField(
        allow_blank=True, help_text="Why the rule cannot run; empty when it can."
    )
    conditions = DryRunConditionSerializer(many=True)
    actions = serializers.ListField(
        child=serializers.CharField(),
        help_text="What each action would do, the discount amount included.",
    )
