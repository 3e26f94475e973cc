"""Wire formats of the loyalty API: plain output serializers, one input serializer."""

from rest_framework import serializers

from core.api.privacy import PersonalDataField
from core.privacy import EMAIL
from loyalty_management.models import LoyaltyAccount, LoyaltyAdjustment, LoyaltyTransaction, Tier
from loyalty_management.services.ledger import MAX_ADJUSTMENT


class TierOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tier
        fields = ["name", "position", "threshold", "multiplier", "benefits"]


class LoyaltySummaryOutputSerializer(serializers.Serializer):
    brand = serializers.CharField(source="program.brand.slug")
    program = serializers.CharField(source="program.name")
    available_points = serializers.IntegerField()
    pending_points = serializers.IntegerField()
    lifetime_points = serializers.IntegerField()
    tier = TierOutputSerializer(allow_null=True)
    next_tier = TierOutputSerializer(allow_null=True)
    qualification = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="Points or amount counted in the tier window."
    )
    to_next_tier = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    expiring_points = serializers.IntegerField(help_text="Points expiring in the next 30 days.")
    expiring_until = serializers.DateTimeField()


class LoyaltyTransactionOutputSerializer(serializers.ModelSerializer):
    brand = serializers.CharField(source="account.program.brand.slug")

    class Meta:
        model = LoyaltyTransaction
        fields = ["id", "brand", "kind", "points", "order", "reason", "created_at"]


class LoyaltyAccountOutputSerializer(serializers.ModelSerializer):
    brand = serializers.CharField(source="program.brand.slug")
    customer_email = PersonalDataField(EMAIL, source="customer.email")
    tier = serializers.CharField(source="tier.name", allow_null=True, default=None)

    class Meta:
        model = LoyaltyAccount
        fields = [
            "id",
            "brand",
            "customer",
            "customer_email",
            "available_points",
            "pending_points",
            "lifetime_points",
            "tier",
            "created_at",
        ]


class AdjustmentInputSerializer(serializers.Serializer):
    points = serializers.IntegerField(
        min_value=-MAX_ADJUSTMENT,
        max_value=MAX_ADJUSTMENT,
        help_text="Positive to credit, negative to debit (the account may go negative).",
    )
    reason = serializers.CharField(max_length=255, help_text="Mandatory; kept on the ledger.")
    idempotency_key = serializers.RegexField(
        r"^[\x21-\x7e]{1,64}$",
        required=False,
        help_text="A replay with the same key returns the first adjustment.",
    )

    def validate_points(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError("Must not be zero.")
        return value


class LoyaltyAdjustmentOutputSerializer(serializers.ModelSerializer):
    brand = serializers.CharField(source="account.program.brand.slug")
    requested_by = serializers.CharField(source="requested_by.username", default=None)
    decided_by = serializers.CharField(source="decided_by.username", default=None)

    class Meta:
        model = LoyaltyAdjustment
        fields = [
            "id",
            "brand",
            "account",
            "points",
            "reason",
            "status",
            "transaction",
            "requested_by",
            "decided_by",
            "created_at",
            "decided_at",
        ]
