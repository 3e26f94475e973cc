"""Rewards a customer holds: templates staff define per brand, and the rewards issued from them
(or from a catalogue redemption) to one customer.

A reward is one of five kinds. Points and wallet credit are given when the reward is issued (its
status is then `used`, with the ledger row that gave them). A discount of an amount, a
percentage off the order, or one product free is a single-use code bound to the customer, valid
until `valid_until`, that the order pricing pipeline accepts and that an order consumes exactly
once (`rewards.services`). Issuing is idempotent: one reward per `idempotency_key`.
"""

from django.db import models
from django.db.models import Q

from core.models import TimeStampedModel
from core.money import MoneyField


class RewardKind(models.TextChoices):
    DISCOUNT_AMOUNT = "discount_amount", "A discount of an amount"
    DISCOUNT_PERCENTAGE = "discount_percentage", "A percentage off the order"
    FREE_PRODUCT = "free_product", "One product free"
    POINTS = "points", "Loyalty points"
    WALLET_CREDIT = "wallet_credit", "Wallet credit"


# The kinds given as a single-use code the customer uses on an order.
CODE_KINDS = (
    RewardKind.DISCOUNT_AMOUNT,
    RewardKind.DISCOUNT_PERCENTAGE,
    RewardKind.FREE_PRODUCT,
)


def _fields_match_kind(prefix: str) -> models.CheckConstraint:
    """Each kind has exactly the fields it needs: an amount, a percentage, a product or points."""
    return models.CheckConstraint(
        condition=Q(
            kind="discount_amount",
            amount__isnull=False,
            amount__gt=0,
            percentage__isnull=True,
            product__isnull=True,
            points__isnull=True,
        )
        | Q(
            kind="discount_percentage",
            amount__isnull=True,
            percentage__isnull=False,
            percentage__gt=0,
            percentage__lte=100,
            product__isnull=True,
            points__isnull=True,
        )
        | Q(
            kind="free_product",
            amount__isnull=True,
            percentage__isnull=True,
            product__isnull=False,
            points__isnull=True,
        )
        | Q(
            kind="points",
            amount__isnull=True,
            percentage__isnull=True,
            product__isnull=True,
            points__isnull=False,
            points__gt=0,
        )
        | Q(
            kind="wallet_credit",
            amount__isnull=False,
            amount__gt=0,
            percentage__isnull=True,
            product__isnull=True,
            points__isnull=True,
        ),
        name=f"{prefix}_fields_match_kind",
        violation_error_message=(
            "A discount or wallet credit needs an amount, a percentage discount a percentage "
            "between 0 and 100, a free product its product, and points a number of points."
        ),
    )


class RewardTemplate(TimeStampedModel):
    """What a brand gives: issued by staff, a rule (`ISSUE_REWARD`), a cross-brand campaign, or
    to every member on their birthday (`trigger`)."""

    class Trigger(models.TextChoices):
        MANUAL = "manual", "When staff, a rule or a campaign issues it"
        BIRTHDAY = "birthday", "On each member's birthday"

    brand = models.ForeignKey(
        "brands.Brand", on_delete=models.PROTECT, related_name="reward_templates"
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=20, choices=RewardKind.choices)
    amount = MoneyField(
        null=True, blank=True, help_text="The discount, or the wallet credit (those kinds)."
    )
    percentage = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Percentage off the order (kind: percentage off).",
    )
    product = models.ForeignKey(
        "catalog.Product",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The product made free (kind: one product free).",
    )
    points = models.PositiveIntegerField(null=True, blank=True, help_text="Points given.")
    minimum_order = MoneyField(
        null=True, blank=True, help_text="The code applies only to orders of at least this much."
    )
    valid_days = models.PositiveIntegerField(
        default=30, help_text="Days a code stays valid after it is issued."
    )
    trigger = models.CharField(max_length=12, choices=Trigger.choices, default=Trigger.MANUAL)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["brand", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "name"],
                name="rewards_template_name_unique",
                violation_error_message="The brand already has a reward with this name.",
            ),
            _fields_match_kind("rewards_template"),
            models.CheckConstraint(
                condition=Q(valid_days__gt=0),
                name="rewards_template_valid_days_positive",
                violation_error_message="A code is valid for at least one day.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CustomerReward(TimeStampedModel):
    """One reward issued to one customer at one brand."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Ready to use"
        USED = "used", "Used"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"

    class Source(models.TextChoices):
        STAFF = "staff", "Issued by staff"
        REDEMPTION = "redemption", "Redeemed for points"
        BIRTHDAY = "birthday", "Birthday"
        RULE = "rule", "An automation rule"
        CAMPAIGN = "campaign", "A cross-brand campaign"

    brand = models.ForeignKey("brands.Brand", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="rewards"
    )
    template = models.ForeignKey(
        RewardTemplate,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="issued",
    )
    source = models.CharField(max_length=12, choices=Source.choices)
    name = models.CharField(max_length=120, help_text="What the customer sees.")
    kind = models.CharField(max_length=20, choices=RewardKind.choices)
    amount = MoneyField(null=True, blank=True)
    percentage = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    points = models.PositiveIntegerField(null=True, blank=True)
    minimum_order = MoneyField(null=True, blank=True)
    code = models.CharField(
        max_length=20, null=True, blank=True, unique=True, help_text="Single-use code."
    )
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    valid_until = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rewards_used",
        help_text="The order that used the code.",
    )
    discount = MoneyField(null=True, blank=True, help_text="What the code took off that order.")
    loyalty_transaction = models.ForeignKey(
        "loyalty_management.LoyaltyTransaction",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    wallet_transaction = models.ForeignKey(
        "wallets.WalletTransaction",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    idempotency_key = models.CharField(max_length=160, unique=True)
    reason = models.CharField(max_length=255, blank=True)
    expiry_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            _fields_match_kind("rewards_customer_reward"),
            models.CheckConstraint(
                condition=Q(kind__in=CODE_KINDS, code__isnull=False)
                | (~Q(kind__in=CODE_KINDS) & Q(code__isnull=True)),
                name="rewards_customer_reward_code_matches_kind",
                violation_error_message="A discount or free product has a code; nothing else does.",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "status"], name="rewards_customer_status"),
            models.Index(fields=["status", "valid_until"], name="rewards_status_valid_until"),
        ]

    def __str__(self) -> str:
        return f"{self.name} for {self.customer_id} ({self.status})"

    @property
    def is_code(self) -> bool:
        return self.kind in CODE_KINDS
