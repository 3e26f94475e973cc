"""Promotions as admins define them. The compiler turns each into the engine's plain form."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

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

    class CashbackTo(models.TextChoices):
        POINTS = "points", "Loyalty points"
        WALLET = "wallet", "Wallet credit at the brand"

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
    # Where a cashback promotion's cashback goes once the order is paid (`marketing.cashback`).
    # Not compiled: the engines report how much cashback, not where it is credited.
    cashback_to = models.CharField(
        "cashback credited as",
        max_length=8,
        choices=CashbackTo.choices,
        default=CashbackTo.POINTS,
        help_text="For cashback promotions only: loyalty points, or credit in the customer's "
        "wallet at the brand.",
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
    # they live in `PromotionUsageCounter`, moved with the usage ledger (`PromotionUsage`).
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
                violation_error_message="The end must be after the start.",
            ),
            models.CheckConstraint(
                condition=Q(cashback_to="points") | Q(type="cashback"),
                name="promotion_wallet_cashback_only",
                violation_error_message="Only a cashback promotion can credit the wallet.",
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


class PromotionSnapshot(models.Model):
    """One compiled promotion exactly as a POS bundle served it, keyed by the SHA-256 of its
    canonical JSON. Shared by every bundle and store that served the same content."""

    content_hash = models.CharField(max_length=64, primary_key=True)
    canonical = models.TextField(help_text="The compiled promotion as canonical JSON.")
    last_used_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["last_used_at"], name="promotion_snapshot_used")]

    def __str__(self) -> str:
        return self.content_hash[:12]


class BundleManifest(models.Model):
    """The content of a bundle: `{promotion id: content hash}`, keyed by the bundle hash.

    Stores serving the same promotions share one manifest, so a release row stays small.
    """

    bundle_hash = models.CharField(max_length=64, primary_key=True)
    entries = models.JSONField(default=dict)
    last_used_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["last_used_at"], name="bundle_manifest_used")]

    def __str__(self) -> str:
        return self.bundle_hash[:12]


class BundleRelease(models.Model):
    """A version of a store's POS bundle: published only when its content changed."""

    store = models.ForeignKey("brands.Store", on_delete=models.CASCADE, related_name="+")
    version = models.PositiveIntegerField()
    manifest = models.ForeignKey(
        BundleManifest, on_delete=models.PROTECT, related_name="releases", db_column="bundle_hash"
    )
    valid_from = models.DateTimeField(help_text="Start of the window the bundle covers.")
    valid_until = models.DateTimeField(help_text="End of the window the bundle covers.")
    engine_version = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["store", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["store", "version"], name="bundle_release_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="bundle_release_version"),
        ]
        indexes = [models.Index(fields=["store", "manifest"], name="bundle_release_hash")]

    def __str__(self) -> str:
        return f"{self.store_id} v{self.version}"

    @property
    def bundle_hash(self) -> str:
        return self.manifest_id

    @property
    def entries(self) -> dict[str, str]:
        return self.manifest.entries


class PosTicket(models.Model):
    """A sale a POS device priced offline and uploaded, with the server's re-verification.

    Written once by `pos_ticket_upload`; (device, ticket_id) is unique, so a replay of the same
    ticket finds the stored row and its stored answer (`response`).
    """

    class Status(models.TextChoices):
        ACCEPTED = "accepted", "Accepted: the server computed the same result"
        MISMATCH = "mismatch", "Mismatch: the server computed another result"
        UNVERIFIABLE = "unverifiable", "Unverifiable: unknown bundle or engine version"

    device = models.ForeignKey("brands.PosDevice", on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey("brands.Store", on_delete=models.PROTECT, related_name="+")
    ticket_id = models.CharField(max_length=64, help_text="Generated by the device.")
    payload_hash = models.CharField(max_length=64, help_text="SHA-256 of the uploaded ticket.")
    local_time = models.DateTimeField(help_text="When the sale happened, by the device's clock.")
    status = models.CharField(max_length=16, choices=Status.choices)
    unverifiable_reason = models.CharField(max_length=32, blank=True)
    engine_version = models.CharField(max_length=32)
    bundle_hash = models.CharField(max_length=64)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    currency = models.CharField(max_length=3)
    subtotal = MoneyField()
    discount_total = MoneyField()
    total = MoneyField()
    basket = models.JSONField(help_text="The engine basket the server rebuilt.")
    context = models.JSONField(help_text="The engine context the server rebuilt.")
    device_result = models.JSONField()
    server_result = models.JSONField(null=True, blank=True)
    diff = models.JSONField(default=list, blank=True, help_text="Device value against server's.")
    overrun = models.BooleanField(default=False)
    overrun_promotion_ids = models.JSONField(default=list, blank=True)
    voucher_conflict = models.BooleanField(
        default=False,
        help_text="A voucher the till accepted was not redeemed here: used up by an earlier "
        "upload, or it failed the server's check (signature, batch, validity).",
    )
    voucher_conflict_codes = models.JSONField(
        default=list, blank=True, help_text="The codes of those vouchers."
    )
    response = models.JSONField(help_text="The answer given for this ticket, replayed as is.")
    received_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "POS ticket"
        constraints = [
            models.UniqueConstraint(fields=["device", "ticket_id"], name="pos_ticket_unique"),
        ]
        indexes = [
            models.Index(fields=["store", "status"], name="pos_ticket_store_status"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} ({self.get_status_display().split(':')[0]})"


class PosLog(models.Model):
    """A log line a POS device uploaded; swept after `POS_LOG_RETENTION_DAYS`."""

    class Level(models.TextChoices):
        DEBUG = "debug", "Debug"
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"
        CRITICAL = "critical", "Critical"

    device = models.ForeignKey("brands.PosDevice", on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey("brands.Store", on_delete=models.PROTECT, related_name="+")
    level = models.CharField(max_length=8, choices=Level.choices)
    logged_at = models.DateTimeField(help_text="By the device's clock.")
    message = models.TextField()
    context = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        ordering = ["-logged_at", "-id"]
        verbose_name = "POS device log"
        indexes = [
            models.Index(fields=["device", "logged_at"], name="pos_log_device_time"),
        ]

    def __str__(self) -> str:
        return f"{self.level} {self.message[:60]}"


class PromotionUsageCounter(models.Model):
    """The live use count and discount given of one promotion: reserved, committed and
    offline uses, less releases. Moved only by `promotions.services.usage`, with conditional
    updates, so a limit is never passed online; always equal to the sums of its ledger rows.

    Kept apart from `Promotion` so that saving a promotion (admin form, compiler) never writes
    a stale count back, and a hot counter row never blocks editing the promotion."""

    promotion = models.OneToOneField(
        Promotion, on_delete=models.CASCADE, primary_key=True, related_name="usage_counter"
    )
    uses = models.IntegerField(default=0)
    amount = MoneyField(
        default=Decimal("0.00"), help_text="Discount (or cashback) given, in the currency."
    )

    class Meta:
        verbose_name = "promotion usage counter"

    def __str__(self) -> str:
        return f"{self.promotion_id}: {self.uses} uses, {self.amount}"


class PromotionCustomerUsage(models.Model):
    """How many uses of one promotion one customer holds (for `max_uses_per_customer`)."""

    promotion = models.ForeignKey(Promotion, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    uses = models.IntegerField(default=0)

    class Meta:
        verbose_name = "promotion customer usage"
        constraints = [
            models.UniqueConstraint(
                fields=["promotion", "customer"], name="promotion_customer_usage_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.promotion_id}/{self.customer_id}: {self.uses}"


class PromotionUsage(models.Model):
    """The append-only usage ledger: each row moves the counters by `uses` and `amount`.

    - reserve: an online order took a use (+1, +amount) when it was placed;
    - commit: the order was paid; the reservation becomes final (moves nothing: 0, 0);
    - release: the order was cancelled; its use is given back (-1, -amount), final;
    - offline: a POS sale priced offline, recorded when uploaded, always (the sale happened);
      `overrun` when it took the promotion past one of its limits.

    (kind, source, promotion) is unique, so a duplicate delivery writes nothing.
    """

    class Kind(models.TextChoices):
        RESERVE = "reserve", "Reserve"
        COMMIT = "commit", "Commit"
        RELEASE = "release", "Release"
        OFFLINE = "offline", "Offline"

    promotion = models.ForeignKey(Promotion, on_delete=models.PROTECT, related_name="usages")
    order = models.ForeignKey(
        "orders.Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    uses = models.IntegerField(help_text="Effect on the use counts.")
    amount = models.DecimalField(
        max_digits=14, decimal_places=2, help_text="Effect on the discount given (signed)."
    )
    source = models.CharField(
        max_length=100, help_text='What caused it: "order:<id>" or "pos-ticket:<id>".'
    )
    overrun = models.BooleanField(default=False, help_text="Offline use past a limit.")
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "promotion usage"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "kind", "promotion"], name="promotion_usage_once"
            ),
        ]
        indexes = [
            models.Index(fields=["promotion", "kind"], name="promotion_usage_kind"),
            models.Index(
                fields=["promotion"], condition=Q(overrun=True), name="promotion_usage_overrun"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.promotion_id} {self.source}"
