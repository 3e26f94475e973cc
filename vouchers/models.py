"""Vouchers: batches of generated codes that unlock one promotion, and their redemptions.

A promotion with at least one batch needs one of its codes: the compiler writes its compiled
form with a `voucher` requirement, and pricing unlocks it only for a code that was checked (the
server's look-up, or a till's offline signature check). Voiding every batch does not open the
promotion to everyone: it stays a voucher promotion.

A code's `uses` counts the uses held by orders (reserved) and sales (redeemed); `redeemed` those
made final. Both move only by conditional updates in `vouchers.services`, so a code of `max_uses`
uses is never used more often than that online, whatever the concurrency.

States of a code: `available` (uses left), `reserved` (every use is held, some not final yet),
`redeemed` (every use final), `expired` (past its batch's end, swept daily), `voided` (by staff;
a use already held by an order stays with it).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from core.models import TimeStampedModel
from vouchers.codes import MAX_LENGTH, MAX_PREFIX, MIN_LENGTH


class BrandVoucherKey(models.Model):
    """The brand's Ed25519 key pair that signs its offline codes. The private key is stored
    encrypted (`vouchers.keys`); the public key travels in the POS bundle."""

    brand = models.OneToOneField(
        "brands.Brand", on_delete=models.CASCADE, primary_key=True, related_name="voucher_key"
    )
    public_key = models.CharField(max_length=64, help_text="Raw public key, base64url.")
    sealed_private_key = models.TextField(help_text="The private key, encrypted.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "brand voucher signing key"

    def __str__(self) -> str:
        return f"{self.brand_id}: {self.public_key[:12]}…"


class VoucherBatch(TimeStampedModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be generated"
        GENERATING = "generating", "Generating"
        READY = "ready", "Ready"
        FAILED = "failed", "Generation failed"

    brand = models.ForeignKey("brands.Brand", on_delete=models.PROTECT, related_name="+")
    promotion = models.ForeignKey(
        "promotions.Promotion", on_delete=models.PROTECT, related_name="voucher_batches"
    )
    name = models.CharField(max_length=120)
    prefix = models.CharField(
        max_length=MAX_PREFIX,
        blank=True,
        help_text="Letters, digits and dashes that start every code, e.g. SPRING-.",
    )
    length = models.PositiveSmallIntegerField(
        default=8, help_text="Random characters after the prefix (a check character follows)."
    )
    quantity = models.PositiveIntegerField(help_text="How many codes to generate.")
    uses_per_code = models.PositiveIntegerField(default=1, help_text="1 for single-use codes.")
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Only this customer may use the batch's codes.",
    )
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    offline = models.BooleanField(
        default=False,
        help_text="Sign the codes so that a till can check them without a connection.",
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    generated = models.PositiveIntegerField(default=0, editable=False)
    error = models.TextField(blank=True, editable=False)
    voided_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A retried API create with the same key finds this batch instead of making another.
    idempotency_key = models.CharField(max_length=128, null=True, blank=True, editable=False)
    request_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "voucher batch"
        verbose_name_plural = "voucher batches"
        constraints = [
            models.CheckConstraint(
                condition=Q(length__gte=MIN_LENGTH, length__lte=MAX_LENGTH),
                name="voucher_batch_length",
                violation_error_message=(
                    f"Codes have between {MIN_LENGTH} and {MAX_LENGTH} random characters."
                ),
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1, uses_per_code__gte=1, generated__lte=F("quantity")),
                name="voucher_batch_counts",
                violation_error_message="A batch has at least one code of at least one use.",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True)
                | Q(valid_from__isnull=True)
                | Q(valid_until__gt=F("valid_from")),
                name="voucher_batch_ends_after_start",
                violation_error_message="The end must be after the start.",
            ),
            models.UniqueConstraint(
                fields=["brand", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="voucher_batch_idempotency_key",
            ),
        ]
        indexes = [models.Index(fields=["promotion"], name="voucher_batch_promotion")]

    def __str__(self) -> str:
        return self.name

    @property
    def progress_percent(self) -> int:
        return 100 * self.generated // self.quantity if self.quantity else 0


class VoucherCode(models.Model):
    class Status(models.TextChoices):
        AVAILABLE = "available", "Available"
        RESERVED = "reserved", "Reserved by an order"
        REDEEMED = "redeemed", "Redeemed"
        EXPIRED = "expired", "Expired"
        VOIDED = "voided", "Voided"

    id = models.BigAutoField(primary_key=True)
    brand = models.ForeignKey("brands.Brand", on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(VoucherBatch, on_delete=models.CASCADE, related_name="codes")
    code = models.CharField(max_length=40)
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The customer the code is bound to (by the batch, or by distribution).",
    )
    max_uses = models.PositiveIntegerField(default=1)
    uses = models.PositiveIntegerField(default=0, help_text="Held by orders and sales.")
    redeemed = models.PositiveIntegerField(default=0, help_text="Final uses.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.AVAILABLE)
    assigned_at = models.DateTimeField(null=True, blank=True, help_text="Sent to its customer.")

    class Meta:
        ordering = ["batch", "id"]
        verbose_name = "voucher code"
        constraints = [
            # Uniqueness within a brand is the database's guarantee, not the generator's luck.
            models.UniqueConstraint(
                fields=["brand", "code"],
                name="voucher_code_unique",
                violation_error_message="This code already exists at the brand.",
            ),
            # Distribution gives one customer at most one code of a batch.
            models.UniqueConstraint(
                fields=["batch", "customer"],
                condition=Q(assigned_at__isnull=False),
                name="voucher_code_one_per_customer",
                violation_error_message="This customer already holds a code of the batch.",
            ),
            models.CheckConstraint(
                condition=Q(redeemed__lte=F("uses"), uses__lte=F("max_uses")),
                name="voucher_code_uses",
                violation_error_message="A code is never used more often than it allows.",
            ),
        ]
        indexes = [
            models.Index(fields=["batch", "status"], name="voucher_code_batch_status"),
            models.Index(
                fields=["batch", "id"],
                condition=Q(customer__isnull=True, status="available"),
                name="voucher_code_unassigned",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class VoucherRedemption(models.Model):
    """One use of a code: by an order (reserved when placed, redeemed when paid, released when
    cancelled) or by a till's sale uploaded later (redeemed at once). (code, source) is unique,
    so a duplicate delivery writes nothing."""

    class Status(models.TextChoices):
        RESERVED = "reserved", "Reserved"
        REDEEMED = "redeemed", "Redeemed"
        RELEASED = "released", "Released"
        REFUSED = "refused", "Refused: used up before this offline sale"

    code = models.ForeignKey(VoucherCode, on_delete=models.CASCADE, related_name="redemptions")
    source = models.CharField(max_length=100, help_text='"order:<id>" or "pos-ticket:<id>".')
    order = models.ForeignKey(
        "orders.Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    store = models.ForeignKey(
        "brands.Store", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(max_length=8, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    used_at = models.DateTimeField(help_text="When the order was placed or the sale was made.")
    redeemed_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-used_at", "-id"]
        verbose_name = "voucher redemption"
        constraints = [
            models.UniqueConstraint(fields=["code", "source"], name="voucher_redemption_once"),
        ]
        indexes = [models.Index(fields=["source"], name="voucher_redemption_source")]

    def __str__(self) -> str:
        return f"{self.code_id} {self.source} {self.status}"
