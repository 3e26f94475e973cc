"""Wire formats of the rewards API: plain input and output serializers."""

from rest_framework import serializers

from core.api.privacy import PersonalDataField
from core.privacy import EMAIL
from rewards.lifecycle import MAX_AMOUNT, MAX_POINTS
from rewards.models import CustomerReward, RewardKind, RewardTemplate

MONEY = {"max_digits": 14, "decimal_places": 2}
MAX_VALID_DAYS = 3650


class RewardTemplateOutputSerializer(serializers.ModelSerializer):
    brand = serializers.CharField(source="brand.slug")

    class Meta:
        model = RewardTemplate
        fields = [
            "id",
            "brand",
            "name",
            "description",
            "kind",
            "amount",
            "percentage",
            "product",
            "points",
            "minimum_order",
            "valid_days",
            "trigger",
            "is_active",
            "created_at",
            "updated_at",
        ]


class RewardTemplateUpdateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=2000, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=RewardKind.choices)
    amount = serializers.DecimalField(
        **MONEY,
        min_value=0,
        max_value=MAX_AMOUNT,
        allow_null=True,
        required=False,
        help_text="The discount, or the wallet credit (those kinds only).",
    )
    percentage = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        allow_null=True,
        required=False,
        help_text="Percentage off the order (kind discount_percentage only).",
    )
    product = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        allow_null=True,
        required=False,
        help_text="Id of the brand's product made free (kind free_product only).",
    )
    points = serializers.IntegerField(
        min_value=1, max_value=MAX_POINTS, allow_null=True, required=False
    )
    minimum_order = serializers.DecimalField(
        **MONEY,
        min_value=0,
        max_value=MAX_AMOUNT,
        allow_null=True,
        required=False,
        help_text="Codes only: the order must be at least this much.",
    )
    valid_days = serializers.IntegerField(min_value=1, max_value=MAX_VALID_DAYS, default=30)
    trigger = serializers.ChoiceField(
        choices=RewardTemplate.Trigger.choices, default=RewardTemplate.Trigger.MANUAL
    )
    is_active = serializers.BooleanField(default=True)


class RewardTemplateInputSerializer(RewardTemplateUpdateInputSerializer):
    brand = serializers.CharField(max_length=60, help_text="Slug of one of your brands.")


class RewardIssueInputSerializer(serializers.Serializer):
    customer = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    reason = serializers.CharField(
        max_length=255, help_text="Why the customer gets it; kept on the reward."
    )


class CustomerRewardOutputSerializer(serializers.ModelSerializer):
    brand = serializers.CharField(source="brand.slug")
    customer_email = PersonalDataField(EMAIL, source="customer.email")

    class Meta:
        model = CustomerReward
        fields = [
            "id",
            "brand",
            "customer",
            "customer_email",
            "template",
            "source",
            "name",
            "kind",
            "amount",
            "percentage",
            "product",
            "points",
            "minimum_order",
            "code",
            "status",
            "valid_until",
            "used_at",
            "order",
            "discount",
            "reason",
            "created_at",
        ]


class MyRewardOutputSerializer(serializers.ModelSerializer):
    gives = serializers.SerializerMethodField(help_text="What the reward gives, in words.")
    product_name = serializers.CharField(source="product.name", allow_null=True, default=None)

    class Meta:
        model = CustomerReward
        fields = [
            "id",
            "name",
            "kind",
            "gives",
            "amount",
            "percentage",
            "product",
            "product_name",
            "points",
            "minimum_order",
            "code",
            "status",
            "valid_until",
            "used_at",
            "order",
            "discount",
            "created_at",
        ]

    def get_gives(self, reward: CustomerReward) -> str:
        currency = reward.brand.currency
        minimum = (
            f" on an order of at least {reward.minimum_order} {currency}"
            if reward.minimum_order
            else ""
        )
        if reward.kind == RewardKind.DISCOUNT_AMOUNT:
            return f"{reward.amount} {currency} off{minimum}"
        if reward.kind == RewardKind.DISCOUNT_PERCENTAGE:
            return f"{reward.percentage.normalize():f}% off{minimum}"
        if reward.kind == RewardKind.FREE_PRODUCT:
            name = reward.product.name if reward.product_id else "A product"
            return f"{name} free{minimum}"
        if reward.kind == RewardKind.POINTS:
            return f"{reward.points} points"
        return f"{reward.amount} {currency} of wallet credit"
