"""Orders and their lines. Totals are derived by `orders.services.pricing`, never typed in."""

from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Round

from core.models import TimeStampedModel
from core.money import MoneyField


class Order(TimeStampedModel):
    class Channel(models.TextChoices):
        WEB = "web", "Web"
        POS = "pos", "POS"
        APP = "app", "App"

    class Status(models.TextChoices):
        PLACED = "placed", "Placed"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    class PaymentStatus(models.TextChoices):
        PENDING = "pending", "Pending"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"
        REFUNDED = "refunded", "Refunded"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        CANCELLED = "cancelled", "Cancelled"

    brand = models.ForeignKey("brands.Brand", on_delete=models.PROTECT, related_name="orders")
    store = models.ForeignKey(
        "brands.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="orders"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.WEB)
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLACED)
    payment_status = models.CharField(
        max_length=24, choices=PaymentStatus.choices, default=PaymentStatus.PENDING, db_index=True
    )
    payment_method = models.CharField(max_length=32, blank=True)
    currency = models.CharField(max_length=3)
    subtotal = MoneyField(default=Decimal("0.00"))
    discount_total = MoneyField(default=Decimal("0.00"))
    total = MoneyField(default=Decimal("0.00"))
    refunded_amount = MoneyField(default=Decimal("0.00"))
    # The payment split: the wallet paid `wallet_amount` (debited when the order was placed);
    # the rest, `amount_due`, is paid by other means.
    wallet_amount = MoneyField(
        default=Decimal("0.00"), help_text="Paid from the customer's wallet at the brand."
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    codes = models.JSONField(default=list, blank=True, help_text="Voucher codes entered.")
    cashback_total = MoneyField(
        default=Decimal("0.00"), help_text="Credited to the customer after payment."
    )
    # The rule discount (rules of the order.created event), part of `discount_total`.
    discount_percentage = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="The percentage of the rule discount; empty for amount-only rule discounts.",
    )
    discount_amount = MoneyField(default=Decimal("0.00"), help_text="The rule discount.")
    discount_description = models.CharField(max_length=255, blank=True)
    rule_discounts = models.JSONField(
        default=list,
        blank=True,
        help_text='Which rule gave what: [{"rule_id", "name", "description", "percentage", '
        '"amount"}].',
    )
    reward_codes = models.JSONField(
        default=list,
        blank=True,
        help_text='Each reward code entered: [{"code", "reward_id", "name", "kind", "applied", '
        '"amount", "reason"}]; the applied ones are part of `discount_total`.',
    )
    vouchers = models.JSONField(
        default=list,
        blank=True,
        help_text='Each voucher code entered: [{"code", "code_id", "promotion_id", "applied", '
        '"reason"}]; an applied one unlocked its promotion, whose discount is in `discount_total`.',
    )
    engine_version = models.CharField(max_length=16, blank=True)
    bundle_hash = models.CharField(
        max_length=64, blank=True, help_text="The promotions bundle the order was priced with."
    )
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["brand", "-created_at"], name="order_brand_created")]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="order_idempotency_key_unique_per_brand",
            ),
            models.CheckConstraint(
                # Rounded to the cent: SQLite (the embedded default) computes in floating point,
                # where 33.90 - 3.39 is not 30.51; PostgreSQL's numeric is exact either way.
                condition=Q(total=Round(F("subtotal") - F("discount_total"), 2)),
                name="order_total_is_subtotal_less_discount",
            ),
            models.CheckConstraint(
                condition=Q(total__gte=0) & Q(discount_total__gte=0) & Q(refunded_amount__gte=0),
                name="order_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__lte=F("total")), name="order_refund_within_total"
            ),
            models.CheckConstraint(
                condition=Q(wallet_amount__gte=0, wallet_amount__lte=F("total")),
                name="order_wallet_amount_within_total",
                violation_error_message="The wallet cannot pay more than the order total.",
            ),
            models.CheckConstraint(
                condition=Q(discount_amount__gte=0, discount_amount__lte=F("discount_total"))
                & (
                    Q(discount_percentage__isnull=True)
                    | Q(discount_percentage__gt=0, discount_percentage__lte=100)
                ),
                name="order_rule_discount_within_discount",
            ),
        ]

    def __str__(self) -> str:
        return f"Order {self.pk}"

    @property
    def amount_due(self) -> Decimal:
        """What is left to pay by other means than the wallet."""
        return self.total - self.wallet_amount

    def calculate_total(self) -> "OrderTotals":
        """The order's totals derived from its lines' prices, the promotion allocations of its
        lines, the rule discount (`discount_amount`) and the reward codes' allocations of its
        lines. Placement stores exactly these; they are recomputed here to audit an order."""
        subtotal = promotions = rewards = Decimal("0.00")
        for line in self.lines.all():
            subtotal += line.subtotal
            promotions += sum(
                (Decimal(a["amount"]) for a in line.allocations if "promotion_id" in a),
                Decimal("0.00"),
            )
            rewards += sum(
                (Decimal(a["amount"]) for a in line.allocations if "reward_id" in a),
                Decimal("0.00"),
            )
        discount = promotions + self.discount_amount + rewards
        return OrderTotals(
            subtotal=subtotal,
            promotion_discount=promotions,
            rule_discount=self.discount_amount,
            discount_total=discount,
            total=max(subtotal - discount, Decimal("0.00")),
        )


class OrderTotals(NamedTuple):
    subtotal: Decimal
    promotion_discount: Decimal
    rule_discount: Decimal
    discount_total: Decimal
    total: Decimal


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    unit_price = MoneyField()
    line_discount = MoneyField(default=Decimal("0.00"))
    allocations = models.JSONField(
        default=list,
        blank=True,
        help_text='The line discount by promotion: [{"promotion_id": 7, "amount": "1.23"}].',
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="order_line_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def total(self) -> Decimal:
        return self.subtotal - self.line_discount


class OrderPromotion(models.Model):
    """A promotion applied to an order (a discount, or cashback credited after payment)."""

    class Kind(models.TextChoices):
        DISCOUNT = "discount", "Discount"
        CASHBACK = "cashback", "Cashback"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="applied_promotions")
    promotion = models.ForeignKey(
        "promotions.Promotion", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    promotion_version = models.PositiveIntegerField()
    name = models.CharField(max_length=160)
    type = models.CharField(max_length=24)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.DISCOUNT)
    phase = models.CharField(max_length=16, blank=True)
    amount = MoneyField()
    applications = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["order", "id"]
        indexes = [models.Index(fields=["promotion", "order"], name="order_promotion_usage")]

    def __str__(self) -> str:
        return f"{self.name}: {self.amount}"


class PaymentStatusChange(models.Model):
    """Audit of every payment status change, written in the same transaction as the change."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payment_changes")
    from_status = models.CharField(max_length=24, choices=Order.PaymentStatus.choices)
    to_status = models.CharField(max_length=24, choices=Order.PaymentStatus.choices)
    amount = MoneyField(null=True, blank=True, help_text="Refunded amount, for refunds.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    device = models.ForeignKey(
        "brands.PosDevice", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status} → {self.to_status}"
