"""Stored-value wallets: one per customer and brand, in the brand's currency.

The balance is a cache of the wallet's append-only ledger (`WalletTransaction`): it moves only
in the transaction that writes a ledger row, under the wallet's row lock
(`wallets.lock_objects`), through `wallets.services`. A check constraint keeps it at zero or
above, so no code path can spend more than the wallet holds.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.models import TimeStampedModel
from core.money import MoneyField


class Wallet(TimeStampedModel):
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="wallets"
    )
    brand = models.ForeignKey("brands.Brand", on_delete=models.PROTECT, related_name="wallets")
    currency = models.CharField(max_length=3)
    balance = MoneyField(default=Decimal("0.00"))

    class Meta:
        ordering = ["brand_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "brand"],
                name="wallet_one_per_customer_and_brand",
                violation_error_message="This customer already has a wallet at this brand.",
            ),
            models.CheckConstraint(
                condition=Q(balance__gte=0),
                name="wallet_balance_not_negative",
                violation_error_message="A wallet balance cannot go below zero.",
            ),
        ]

    def __str__(self) -> str:
        return f"Wallet {self.pk} ({self.balance} {self.currency})"


class WalletTransaction(models.Model):
    """One movement of a wallet, never changed or deleted. `amount` is signed: credits and
    refunds are positive, payments and expiries negative, adjustments either way."""

    class Kind(models.TextChoices):
        CREDIT = "credit", "Credit"
        PAYMENT = "payment", "Payment"
        REFUND = "refund", "Refund"
        EXPIRY = "expiry", "Expiry"
        ADJUSTMENT = "adjustment", "Adjustment"
        CLAWBACK = "clawback", "Taken back"

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="transactions")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    balance_after = MoneyField()
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="wallet_transactions",
    )
    reason = models.CharField(max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    idempotency_key = models.CharField(max_length=160, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["wallet", "-created_at"], name="wallet_tx_wallet_created")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(amount=0),
                name="wallet_tx_amount_not_zero",
                violation_error_message="A wallet movement cannot be zero.",
            ),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0),
                name="wallet_tx_balance_after_not_negative",
                violation_error_message="A wallet balance cannot go below zero.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["credit", "refund"], amount__gt=0)
                    | Q(kind__in=["payment", "expiry", "clawback"], amount__lt=0)
                    | Q(kind="adjustment")
                ),
                name="wallet_tx_amount_sign_matches_kind",
                violation_error_message=(
                    "Credits and refunds add; payments, expiries and claw-backs take."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount:+}"


class WalletClawback(models.Model):
    """One step of taking back credit a wallet was given and no longer deserves (today: the
    cashback of a refunded order), never changed or deleted.

    `owed` is what the step asked back; `taken` what the wallet held of it (its `clawback`
    ledger row, when above zero); `not_recovered` the rest, already spent by the customer and
    written off, since a wallet never goes below zero. Steps are cumulative per order and
    cause: their `owed` add up to what the order's refunds take back so far."""

    class Cause(models.TextChoices):
        CASHBACK = "cashback", "Cashback of a refunded order"

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="clawbacks")
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="wallet_clawbacks"
    )
    cause = models.CharField(max_length=16, choices=Cause.choices)
    owed = models.DecimalField(max_digits=14, decimal_places=2)
    taken = models.DecimalField(max_digits=14, decimal_places=2)
    not_recovered = models.DecimalField(max_digits=14, decimal_places=2)
    transaction = models.OneToOneField(
        WalletTransaction,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="clawback",
    )
    reason = models.CharField(max_length=255, blank=True)
    idempotency_key = models.CharField(max_length=160, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["order", "cause"], name="wallet_clawback_order")]
        constraints = [
            models.CheckConstraint(
                condition=Q(owed__gt=0, taken__gte=0, not_recovered__gte=0)
                & Q(owed=models.F("taken") + models.F("not_recovered")),
                name="wallet_clawback_parts_add_up",
                violation_error_message="What is taken and not recovered adds up to what is owed.",
            ),
            models.CheckConstraint(
                condition=Q(taken=0, transaction__isnull=True)
                | Q(taken__gt=0, transaction__isnull=False),
                name="wallet_clawback_taken_has_its_row",
                violation_error_message="An amount taken has its ledger row.",
            ),
        ]

    def __str__(self) -> str:
        return f"Claw-back {self.owed} (taken {self.taken}) for order {self.order_id}"
