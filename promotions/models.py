"""Promotions as admins define them. The compiler turns each into the engine's plain form."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.models import TimeStampedModel
from core.money import MoneyField


class Promotion(TimeStampedModel):
    class Type(models.TextChoices):
        PERCENT_DISCOUNT = "percent_discount", "Percent discount"
        AMOUNT_DISCOUNT = "amount_discount", "Amount discount"
        BOGO = "bogo", "Buy X get Y"
        COMBO = "combo", "Combo"
        FREE_ITEM = "free_item", "Free item"
        HAPPY_HOUR = "happy_hour", "Happy hour"
        CASHBACK = "cashback", "Cashback"
        PAYMENT_DISCOUNT = "payment_discount", "Payment method discount"
        PACKAGE = "package", "Package"
        MIX_MATCH = "mix_match", "Mix and match"
        UPSELL = "upsell", "Upsell"
        THRESHOLD = "threshold", "Spend threshold"
        CROSS_BRAND = "cross_brand", "Cross-brand accumulation"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        ENDED = "ended", "Ended"

    class Stacking(models.TextChoices):
        EXCLUSIVE = "exclusive", "Exclusive: applies alone"
        STANDARD = "standard", "Standard: one standard promotion per unit"
        STACKABLE = "stackable", "Stackable: applies on top of the others"

    class Target(models.TextChoices):
        ITEMS = "items", "Items (item phase)"
        ORDER = "order", "Order (order phase, after item discounts)"

    brand = models.ForeignKey("brands.Brand", on_delete=models.PROTECT, related_name="promotions")
    name = models.CharField(max_length=160)
    description = models.TextField(blank=True)
    type = models.CharField(max_length=24, choices=Type.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    priority = models.IntegerField(default=0, help_text="Higher runs first.")
    stacking = models.CharField(max_length=16, choices=Stacking.choices, default=Stacking.STANDARD)
    target = models.CharField(
        max_length=8,
        choices=Target.choices,
        default=Target.ITEMS,
        help_text="For percent and amount discounts only.",
    )

    # When.
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    days_of_week = models.JSONField(
        default=list,
        blank=True,
        help_text="ISO weekdays, 1 = Monday … 7 = Sunday. Empty: every day.",
    )
    time_windows = models.JSONField(
        default=list,
        blank=True,
        help_text='Store-local windows, e.g. [{"start": "11:00", "end": "14:00"}]. A window '
        "ending before it starts crosses midnight and belongs to the day it starts.",
    )

    # Where and who.
    stores = models.ManyToManyField("brands.Store", blank=True, related_name="+")
    channels = models.JSONField(default=list, blank=True, help_text="web, pos, app. Empty: all.")
    customer_labels = models.ManyToManyField(
        "labels.Label", blank=True, related_name="+", help_text="Customers with any of these."
    )
    excluded_customer_labels = models.ManyToManyField("labels.Label", blank=True, related_name="+")
    customer_tiers = models.JSONField(default=list, blank=True, help_text="Loyalty tier names.")
    new_customers_only = models.BooleanField(default=False)
    signed_in_only = models.BooleanField(default=False)
    code = models.CharField(
        max_length=40, blank=True, help_text="Shared voucher code the customer must enter."
    )

    # Limits.
    max_applications_per_order = models.PositiveIntegerField(null=True, blank=True)
    max_uses_total = models.PositiveIntegerField(null=True, blank=True)
    max_uses_per_customer = models.PositiveIntegerField(null=True, blank=True)
    budget = MoneyField(null=True, blank=True, help_text="Total discount this promotion may give.")
    max_discount_per_order = MoneyField(null=True, blank=True)
    min_eligible_subtotal = MoneyField(null=True, blank=True)

    # What: the eligible units.
    all_products = models.BooleanField(default=False)
    products = models.ManyToManyField("catalog.Product", blank=True, related_name="+")
    categories = models.ManyToManyField(
        "catalog.Category", blank=True, related_name="+", help_text="With their descendants."
    )
    product_labels = models.ManyToManyField("labels.Label", blank=True, related_name="+")
    excluded_products = models.ManyToManyField("catalog.Product", blank=True, related_name="+")
    excluded_categories = models.ManyToManyField("catalog.Category", blank=True, related_name="+")
    excluded_product_labels = models.ManyToManyField("labels.Label", blank=True, related_name="+")

    params = models.JSONField(default=dict, blank=True, help_text="Type-specific parameters.")

    # The compiled form of the current version. Uses and budget spent are not stored here:
    # they are derived from the orders that applied the promotion (`OrderPromotion`).
    version = models.PositiveIntegerField(default=0, editable=False)
    compiled = models.JSONField(null=True, blank=True, editable=False)
    compiled_hash = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-priority", "id"]
        indexes = [models.Index(fields=["brand", "status"], name="promotion_brand_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True)
                | Q(starts_at__isnull=True)
                | Q(ends_at__gt=models.F("starts_at")),
                name="promotion_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_type_display()})"


class PromotionVersion(models.Model):
    """Each saved version of a promotion with the compiled form it produced."""

    promotion = models.ForeignKey(Promotion, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    compiled = models.JSONField()
    compiled_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["promotion", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["promotion", "version"], name="promotion_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.promotion_id} v{self.version}"
