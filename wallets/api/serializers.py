"""Wire formats of the wallet API."""

from rest_framework import serializers

from core.api.privacy import PersonalDataField
from core.privacy import EMAIL
from wallets.models import Wallet, WalletTransaction
from wallets.services import MAX_AMOUNT

MONEY = {"max_digits": 14, "decimal_places": 2}


class WalletOutputSerializer(serializers.ModelSerializer):
    brand = serializers.CharField(source="brand.slug")

    class Meta:
        model = Wallet
        fields = ["id", "brand", "currency", "balance", "updated_at"]


class StaffWalletOutputSerializer(serializers.ModelSerializer):
    brand = serializers.CharField(source="brand.slug")
    customer_email = PersonalDataField(EMAIL, source="customer.email")

    class Meta:
        model = Wallet
        fields = ["id", "brand", "customer", "customer_email", "currency", "balance", "updated_at"]


class WalletTransactionOutputSerializer(serializers.ModelSerializer):
    brand = serializers.CharField(source="wallet.brand.slug")

    class Meta:
        model = WalletTransaction
        fields = [
            "id",
            "brand",
            "wallet",
            "kind",
            "amount",
            "balance_after",
            "order",
            "reason",
            "created_at",
        ]


class WalletAdjustmentInputSerializer(serializers.Serializer):
    amount = serializers.DecimalField(
        **MONEY,
        min_value=-MAX_AMOUNT,
        max_value=MAX_AMOUNT,
        help_text="Positive to credit, negative to debit (never below zero).",
    )
    reason = serializers.CharField(max_length=255, help_text="Mandatory; kept on the ledger.")
    idempotency_key = serializers.RegexField(
        r"^[\x21-\x7e]{1,64}$",
        required=False,
        help_text="A replay with the same key returns the first adjustment.",
    )

    def validate_amount(self, value):
        if value == 0:
            raise serializers.ValidationError("Must not be zero.")
        return value
