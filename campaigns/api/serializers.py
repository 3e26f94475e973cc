"""Wire formats of the campaign API."""

from decimal import Decimal

from rest_framework import serializers

from campaigns.models import CampaignProgress, CrossBrandCampaign
from core.api.privacy import PersonalDataField
from core.privacy import EMAIL

MONEY = {"max_digits": 14, "decimal_places": 2}
AMOUNT = {**MONEY, "min_value": Decimal("0.01"), "max_value": Decimal("10000000")}
Requirement = CrossBrandCampaign.Requirement
Kind = CrossBrandCampaign.RewardKind


# --- customers -------------------------------------------------------------------------------


class BrandSpendOutputSerializer(serializers.Serializer):
    brand = serializers.CharField(source="slug")
    name = serializers.CharField()
    spent = serializers.DecimalField(**MONEY)
    counts = serializers.BooleanField(help_text="This brand counts towards the requirement.")
    missing = serializers.DecimalField(
        **MONEY, help_text="Left to spend here for the brand to count (each-brand campaigns)."
    )


class CampaignRewardOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    code = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    points = serializers.IntegerField(allow_null=True)
    amount = serializers.DecimalField(**MONEY, allow_null=True)
    valid_until = serializers.DateTimeField(allow_null=True)


class MyCampaignOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="campaign_id")
    name = serializers.CharField()
    description = serializers.CharField()
    brand = serializers.CharField(source="owner", help_text="The owner brand's slug.")
    currency = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    is_live = serializers.BooleanField()
    requirement = serializers.ChoiceField(choices=Requirement.choices)
    min_spend_per_brand = serializers.DecimalField(**MONEY, allow_null=True)
    min_total_spend = serializers.DecimalField(**MONEY, allow_null=True)
    min_brands = serializers.IntegerField()
    reward_kind = serializers.ChoiceField(choices=Kind.choices)
    reward_description = serializers.CharField()
    brands = BrandSpendOutputSerializer(many=True)
    total_spend = serializers.DecimalField(**MONEY)
    brands_counted = serializers.IntegerField()
    brands_missing = serializers.IntegerField(help_text="More brands needed.")
    amount_missing = serializers.DecimalField(**MONEY, help_text="The least more to spend.")
    is_met = serializers.BooleanField()
    completed_at = serializers.DateTimeField(allow_null=True)
    reward = CampaignRewardOutputSerializer(allow_null=True)


# --- staff -----------------------------------------------------------------------------------


class CampaignOutputSerializer(serializers.ModelSerializer):
    brand = serializers.CharField(source="brand.slug")
    currency = serializers.CharField(source="brand.currency")
    brands = serializers.SerializerMethodField()

    class Meta:
        model = CrossBrandCampaign
        fields = [
            "id",
            "brand",
            "name",
            "description",
            "brands",
            "currency",
            "starts_at",
            "ends_at",
            "requirement",
            "min_spend_per_brand",
            "min_total_spend",
            "min_brands",
            "reward_kind",
            "reward_points",
            "reward_template",
            "reward_amount",
            "is_active",
            "created_at",
            "updated_at",
        ]

    def get_brands(self, campaign) -> list[str]:
        return sorted(b.slug for b in campaign.brands.all())


class CampaignInputSerializer(serializers.Serializer):
    brand = serializers.SlugField(max_length=50, help_text="The owner brand (one of yours).")
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    brands = serializers.ListField(
        child=serializers.SlugField(max_length=50),
        max_length=50,
        help_text="Slugs of the participating brands (all yours, one currency); the owner is "
        "added when missing. At least two in all.",
    )
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    requirement = serializers.ChoiceField(choices=Requirement.choices)
    min_spend_per_brand = serializers.DecimalField(
        **AMOUNT, required=False, allow_null=True, help_text="Each brand: spent at each brand."
    )
    min_total_spend = serializers.DecimalField(
        **AMOUNT, required=False, allow_null=True, help_text="Total: spent across the brands."
    )
    min_brands = serializers.IntegerField(min_value=1, max_value=50)
    reward_kind = serializers.ChoiceField(choices=Kind.choices)
    reward_points = serializers.IntegerField(
        min_value=1, max_value=1_000_000, required=False, allow_null=True
    )
    reward_template = serializers.IntegerField(
        min_value=1,
        max_value=2_147_483_647,
        required=False,
        allow_null=True,
        help_text="Id of a reward of the owner brand.",
    )
    reward_amount = serializers.DecimalField(**AMOUNT, required=False, allow_null=True)
    is_active = serializers.BooleanField(required=False, default=True)

    def validate(self, attrs):
        starts_at, ends_at = attrs.get("starts_at"), attrs.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            raise serializers.ValidationError({"ends_at": ["A campaign ends after it starts."]})
        return attrs


class CampaignUpdateInputSerializer(CampaignInputSerializer):
    brand = None
    is_active = serializers.BooleanField(required=False)


class CampaignProgressOutputSerializer(serializers.ModelSerializer):
    customer_email = PersonalDataField(EMAIL, source="customer.email")
    spend_by_brand = serializers.DictField(
        child=serializers.DecimalField(**MONEY), help_text="Spent per brand id."
    )
    reward_name = serializers.CharField(source="reward.name", allow_null=True, default=None)

    class Meta:
        model = CampaignProgress
        fields = [
            "id",
            "customer",
            "customer_email",
            "spend_by_brand",
            "total_spend",
            "brands_counted",
            "is_met",
            "completed_at",
            "reward",
            "reward_name",
            "updated_at",
        ]
