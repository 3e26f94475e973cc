"""Automation rules: when an event happens (a trigger) and the conditions hold, run the actions.

`rules.params` validates conditions and action parameters when a rule is saved; `rules.engine`
evaluates rules against an event's context. The models hold data and their constraints only.
"""

from django.db import models
from django.db.models import Q

from core.models import TimeStampedModel


class Event(models.TextChoices):
    ORDER_CREATED = "order.created", "Order created (priced, before it is saved)"
    ORDER_PAID = "order.paid", "Order paid"
    ORDER_REFUNDED = "order.refunded", "Order refunded (fully or partly)"
    CUSTOMER_CREATED = "customer.created", "Customer created"
    CUSTOMER_LABELED = "customer.labeled", "Customer labeled"
    CUSTOMER_UNLABELED = "customer.unlabeled", "Customer label removed"
    SCHEDULE_DAILY = "schedule.daily", "Daily sweep over the brand's customers"


class RuleTrigger(TimeStampedModel):
    name = models.CharField(max_length=120)
    code = models.SlugField(
        max_length=64, unique=True, help_text="A stable code, e.g. discount_vip."
    )
    event = models.CharField(
        max_length=32,
        choices=Event.choices,
        default=Event.ORDER_CREATED,
        help_text="The event the trigger listens to.",
    )
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.event})"


class Rule(TimeStampedModel):
    class Status(models.TextChoices):
        ENABLED = "ENABLED", "Enabled"
        DISABLED = "DISABLED", "Disabled"

    name = models.CharField(max_length=160)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ENABLED)
    trigger = models.ForeignKey(RuleTrigger, on_delete=models.PROTECT, related_name="rules")
    brand = models.ForeignKey(
        "brands.Brand",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rules",
        help_text="Empty means the rule runs for every brand.",
    )
    priority = models.IntegerField(default=0, help_text="Higher runs first.")
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    stop_processing = models.BooleanField(
        default=False, help_text="When this rule fires, no lower-priority rule of the event runs."
    )
    labels = models.ManyToManyField(
        "labels.Label",
        blank=True,
        related_name="filed_rules",
        help_text="Labels it is filed under.",
    )

    class Meta:
        ordering = ["-priority", "id"]
        indexes = [models.Index(fields=["trigger", "status"], name="rule_trigger_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gt=models.F("valid_from")),
                name="rule_validity_ordered",
                violation_error_message="Valid until must be after valid from.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RuleCondition(models.Model):
    """One test on the event's context. A rule's conditions with group 0 must all hold; conditions
    sharing a group number above 0 form an OR group, of which at least one must hold."""

    class Entity(models.TextChoices):
        CUSTOMER = "CUSTOMER", "Customer"
        ORDER = "ORDER", "Order"
        PRODUCT = "PRODUCT", "Product (any line of the order)"

    class Operator(models.TextChoices):
        HAS_LABEL = "HAS_LABEL", "has label"
        NOT_HAS_LABEL = "NOT_HAS_LABEL", "does not have label"
        EQUALS = "EQUALS", "="
        NOT_EQUALS = "NOT_EQUALS", "≠"
        GT = "GT", ">"
        GTE = "GTE", "≥"
        LT = "LT", "<"
        LTE = "LTE", "≤"
        IN = "IN", "is one of"
        CONTAINS = "CONTAINS", "contains"
        BETWEEN = "BETWEEN", "between (inclusive)"

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="conditions")
    entity = models.CharField(max_length=8, choices=Entity.choices)
    field = models.CharField(
        max_length=32, blank=True, help_text="From the entity's allow-list; empty for label tests."
    )
    operator = models.CharField(max_length=16, choices=Operator.choices)
    value = models.CharField(
        max_length=500,
        blank=True,
        help_text="A value; IN: a comma-separated list; BETWEEN: low,high.",
    )
    label = models.ForeignKey(
        "labels.Label", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    group = models.PositiveSmallIntegerField(
        default=0, help_text="0: required. Conditions sharing a number above 0: any one of them."
    )

    class Meta:
        ordering = ["rule", "group", "id"]

    def __str__(self) -> str:
        target = self.label.name if self.label_id else self.value
        return f"{self.entity} {self.field} {self.operator} {target}".replace("  ", " ")


class RuleAction(models.Model):
    class Type(models.TextChoices):
        DISCOUNT = "DISCOUNT", "Discount on the order"
        ADD_LABEL = "ADD_LABEL", "Add a customer label"
        REMOVE_LABEL = "REMOVE_LABEL", "Remove a customer label"
        AWARD_BONUS_POINTS = "AWARD_BONUS_POINTS", "Award bonus loyalty points"
        NOTIFY = "NOTIFY", "Send a notification"
        AWARD_BADGE = "AWARD_BADGE", "Award a loyalty badge"
        ISSUE_REWARD = "ISSUE_REWARD", "Issue a reward"

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="actions")
    action_type = models.CharField(max_length=24, choices=Type.choices)
    action_params = models.JSONField(default=dict, blank=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Order within the rule.")

    class Meta:
        ordering = ["rule", "position", "id"]

    def __str__(self) -> str:
        return f"{self.action_type} {self.action_params}"


class RuleFiring(models.Model):
    """The log: one row per rule that fired for an event (or failed while running)."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Failed"

    rule = models.ForeignKey(Rule, on_delete=models.SET_NULL, null=True, related_name="firings")
    rule_name = models.CharField(max_length=160)
    event = models.CharField(max_length=32, choices=Event.choices)
    event_id = models.CharField(
        max_length=80, help_text="The event occurrence; a rule fires once per occurrence."
    )
    brand = models.ForeignKey(
        "brands.Brand", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    object_type = models.CharField(max_length=16)
    object_id = models.BigIntegerField()
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    actions = models.JSONField(default=list, help_text="What each action did.")
    error = models.TextField(blank=True)
    duration_ms = models.DecimalField(max_digits=10, decimal_places=3)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="rule_firing_object")]
        constraints = [
            models.UniqueConstraint(fields=["event_id", "rule"], name="rule_fires_once_per_event")
        ]

    def __str__(self) -> str:
        return f"{self.rule_name} on {self.event} {self.object_type}:{self.object_id}"
