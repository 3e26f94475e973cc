"""Wire formats of the loyalty API: plain output serializers, one input serializer."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.privacy import PersonalDataField
from core.privacy import EMAIL
from loyalty_management.models import (
    BadgeDefinition,
    LoyaltyAccount,
    LoyaltyAdjustment,
    LoyaltyTransaction,
    RedemptionCategory,
    RedemptionItem,
    RedemptionRequest,
    Tier,
)
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
    requested_by = serializers.CharField(
        source="requested_by.username", default=None, allow_null=True
    )
    # Empty for an adjustment within the actor's limit: it needs no second person.
    decided_by = serializers.CharField(source="decided_by.username", default=None, allow_null=True)

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


# --- Badges -------------------------------------------------------------------------------------


def _progress_text(value, kind: str) -> str:
    if kind == BadgeDefinition.Kind.LIFETIME_SPEND:
        return f"{value:.2f}"
    return str(int(value))


class BadgeProgressOutputSerializer(serializers.Serializer):
    current = serializers.CharField(help_text="Where the customer is: a count, or an amount.")
    target = serializers.CharField(help_text="What the badge needs: a count, or an amount.")


class EarnedBadgeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="badge.pk")
    name = serializers.CharField(source="badge.name")
    description = serializers.CharField(source="badge.description")
    icon = serializers.CharField(source="badge.icon")
    kind = serializers.CharField(source="badge.kind")
    awarded_at = serializers.DateTimeField()


class BadgeToEarnOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="badge.pk")
    name = serializers.CharField(source="badge.name")
    description = serializers.CharField(source="badge.description")
    icon = serializers.CharField(source="badge.icon")
    kind = serializers.CharField(source="badge.kind")
    progress = serializers.SerializerMethodField(
        help_text="Null when the badge is not earned by a count or an amount."
    )

    @extend_schema_field(BadgeProgressOutputSerializer(allow_null=True))
    def get_progress(self, item) -> dict | None:
        if item.current is None:
            return None
        kind = item.badge.kind
        return {
            "current": _progress_text(item.current, kind),
            "target": _progress_text(item.target, kind),
        }


class BadgeBoardOutputSerializer(serializers.Serializer):
    earned = EarnedBadgeOutputSerializer(many=True, help_text="Newest first.")
    to_earn = BadgeToEarnOutputSerializer(
        many=True, help_text="The brand's active badges the customer does not hold yet."
    )


class MyLoyaltyOutputSerializer(LoyaltySummaryOutputSerializer):
    badges = BadgeBoardOutputSerializer()


class BadgeDefinitionOutputSerializer(serializers.ModelSerializer):
    brand = serializers.CharField(source="brand.slug")

    class Meta:
        model = BadgeDefinition
        fields = [
            "id",
            "brand",
            "name",
            "description",
            "icon",
            "kind",
            "order_count",
            "store_count",
            "spend_amount",
            "tier",
            "is_active",
            "created_at",
            "updated_at",
        ]


class BadgeDefinitionInputSerializer(serializers.Serializer):
    """The threshold the kind needs: order_count, store_count, spend_amount or tier (an id of
    a tier of the brand's programme); a manual badge takes none."""

    brand = serializers.SlugField(help_text="Slug of one of your brands (creation only).")
    name = serializers.CharField(max_length=80)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    icon = serializers.RegexField(
        r"^[a-z0-9][a-z0-9-]{0,39}$",
        required=False,
        allow_blank=True,
        help_text="An icon name: lower-case letters, digits and dashes.",
        error_messages={
            "invalid": "Use lower-case letters, digits and dashes, for example star or gold-medal."
        },
    )
    kind = serializers.ChoiceField(choices=BadgeDefinition.Kind.choices)
    order_count = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=1_000_000
    )
    store_count = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=100_000
    )
    spend_amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        required=False,
        allow_null=True,
        min_value=Decimal("0.01"),
        max_value=Decimal("999999999999.99"),
    )
    tier = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**63 - 1
    )
    is_active = serializers.BooleanField(required=False)


class BadgeDefinitionUpdateInputSerializer(BadgeDefinitionInputSerializer):
    """The fields to change; a badge stays in its brand."""

    brand = None


# --- Points catalogue and redemptions ----------------------------------------------------------


class CatalogueEntryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="item.pk")
    name = serializers.CharField(source="item.name")
    description = serializers.CharField(source="item.description")
    image_url = serializers.CharField(source="item.image_url")
    category = serializers.CharField(source="item.category.name", allow_null=True, default=None)
    points_cost = serializers.IntegerField(source="item.points_cost")
    kind = serializers.CharField(source="item.kind")
    wallet_amount = serializers.DecimalField(
        source="item.wallet_amount", max_digits=14, decimal_places=2, allow_null=True
    )
    discount_amount = serializers.DecimalField(
        source="item.discount_amount", max_digits=14, decimal_places=2, allow_null=True
    )
    discount_percentage = serializers.DecimalField(
        source="item.discount_percentage", max_digits=5, decimal_places=2, allow_null=True
    )
    product = serializers.IntegerField(
        source="item.product_id", allow_null=True, help_text="The product a code makes free."
    )
    code_valid_days = serializers.IntegerField(
        source="item.code_valid_days", allow_null=True, help_text="Days a code stays valid."
    )
    stock = serializers.IntegerField(
        source="item.stock", allow_null=True, help_text="Null: unlimited."
    )
    minimum_tier = serializers.CharField(
        source="item.minimum_tier.name", allow_null=True, default=None
    )
    valid_until = serializers.DateTimeField(source="item.valid_until", allow_null=True)
    eligible = serializers.SerializerMethodField()
    reason_code = serializers.SerializerMethodField(
        help_text="Why it is out of reach: not_available, not_valid_now, tier_too_low, "
        "limit_reached, out_of_stock, loyalty_account_negative, insufficient_points; or null."
    )
    reason = serializers.SerializerMethodField(help_text="The same, in a sentence; or null.")

    def get_eligible(self, entry) -> bool:
        return entry.refusal is None

    def get_reason_code(self, entry) -> str | None:
        return entry.refusal.code if entry.refusal else None

    def get_reason(self, entry) -> str | None:
        return entry.refusal.message if entry.refusal else None


class RedemptionCreateInputSerializer(serializers.Serializer):
    item = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="Item id.")


class RedemptionOutputSerializer(serializers.ModelSerializer):
    item_name = serializers.CharField(source="item.name")
    item_kind = serializers.CharField(source="item.kind")
    code = serializers.CharField(
        source="reward.code",
        allow_null=True,
        default=None,
        help_text="The code to enter on an order (discount and free product items).",
    )
    code_valid_until = serializers.DateTimeField(
        source="reward.valid_until", allow_null=True, default=None
    )
    code_status = serializers.CharField(
        source="reward.status",
        allow_null=True,
        default=None,
        help_text="active, used, expired or cancelled.",
    )

    class Meta:
        model = RedemptionRequest
        fields = [
            "id",
            "item",
            "item_name",
            "item_kind",
            "points",
            "status",
            "code",
            "code_valid_until",
            "code_status",
            "reason",
            "fulfilment_status",
            "fulfilment_note",
            "created_at",
            "decided_at",
            "fulfilled_at",
        ]


class StaffRedemptionOutputSerializer(RedemptionOutputSerializer):
    brand = serializers.CharField(source="brand.slug")
    customer = serializers.IntegerField(source="customer_id")

    class Meta(RedemptionOutputSerializer.Meta):
        fields = [*RedemptionOutputSerializer.Meta.fields, "brand", "customer"]


class RedemptionRejectInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255)


class RedemptionFulfilInputSerializer(serializers.Serializer):
    fulfilment_status = serializers.ChoiceField(
        choices=[choice for choice in RedemptionRequest.Fulfilment.choices if choice[0]]
    )
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class RedemptionBulkDecideInputSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        min_length=1,
        max_length=200,
    )
    decision = serializers.ChoiceField(choices=["approve", "reject"])
    reason = serializers.CharField(
        max_length=255, required=False, allow_blank=True, default="", help_text="To reject."
    )


class RedemptionBulkResultOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_null=True, help_text="Why it was refused; or null.")
    message = serializers.CharField(allow_null=True)


class RedemptionCategoryInputSerializer(serializers.Serializer):
    brand = serializers.SlugField(help_text="Slug of one of your brands.")
    name = serializers.CharField(max_length=80)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    position = serializers.IntegerField(required=False, min_value=0, max_value=100_000)
    is_active = serializers.BooleanField(required=False)


class RedemptionCategoryOutputSerializer(serializers.ModelSerializer):
    brand = serializers.CharField(source="brand.slug")

    class Meta:
        model = RedemptionCategory
        fields = ["id", "brand", "name", "description", "position", "is_active"]


class RedemptionItemInputSerializer(serializers.Serializer):
    brand = serializers.SlugField(help_text="Slug of one of your brands (creation only).")
    category = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**63 - 1
    )
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    image_url = serializers.URLField(required=False, allow_blank=True, max_length=200)
    points_cost = serializers.IntegerField(min_value=1, max_value=10_000_000)
    kind = serializers.ChoiceField(choices=RedemptionItem.Kind.choices)
    wallet_amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        required=False,
        allow_null=True,
        min_value=Decimal("0.01"),
        max_value=Decimal("100000.00"),
        help_text="Kind wallet_credit: the amount credited to the wallet.",
    )
    discount_amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        required=False,
        allow_null=True,
        min_value=Decimal("0.01"),
        max_value=Decimal("100000.00"),
        help_text="Kind discount_amount: what the code takes off an order.",
    )
    discount_percentage = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        required=False,
        allow_null=True,
        min_value=Decimal("0.01"),
        max_value=Decimal("100.00"),
        help_text="Kind discount_percentage: the percentage the code takes off an order.",
    )
    product = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=2**63 - 1,
        help_text="Kind free_product: the id of the product of the brand the code makes free.",
    )
    code_valid_days = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=3660,
        help_text="Codes: the days a code stays valid once issued.",
    )
    stock = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=1_000_000_000
    )
    limit_per_customer = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=1_000_000
    )
    limit_per_period = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=1_000_000
    )
    period_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=3660
    )
    minimum_tier = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**63 - 1
    )
    valid_from = serializers.DateTimeField(required=False, allow_null=True)
    valid_until = serializers.DateTimeField(required=False, allow_null=True)
    auto_approve = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)


class RedemptionItemUpdateInputSerializer(RedemptionItemInputSerializer):
    brand = None


class RedemptionItemOutputSerializer(serializers.ModelSerializer):
    brand = serializers.CharField(source="brand.slug")

    class Meta:
        model = RedemptionItem
        fields = [
            "id",
            "brand",
            "category",
            "name",
            "description",
            "image_url",
            "points_cost",
            "kind",
            "wallet_amount",
            "discount_amount",
            "discount_percentage",
            "product",
            "code_valid_days",
            "stock",
            "limit_per_customer",
            "limit_per_period",
            "period_days",
            "minimum_tier",
            "valid_from",
            "valid_until",
            "auto_approve",
            "is_active",
        ]
