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
                    | Q(kind__in=["payment", "expiry"], amount__lt=0)
                    | Q(kind="adjustment")
                ),
                name="wallet_tx_amount_sign_matches_kind",
                violation_error_message="Credits and refunds add; payments and expiries take.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount:+}"
