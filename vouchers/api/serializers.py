"""Wire formats of the vouchers API: plain input and output serializers."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.filters import MAX_ID
from core.api.privacy import PersonalDataField
from core.privacy import EMAIL
from vouchers.codes import MAX_LENGTH, MAX_PREFIX, MIN_LENGTH
from vouchers.models import VoucherBatch, VoucherCode, VoucherRedemption
from vouchers.services import MAX_QUANTITY

# The largest a PositiveIntegerField holds.
MAX_USES = 2_147_483_647


class VoucherBatchInputSerializer(serializers.Serializer):
    promotion = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="Id of a promotion of one of your brands."
    )
    name = serializers.CharField(max_length=120)
    quantity = serializers.IntegerField(
        min_value=1, max_value=MAX_QUANTITY, help_text="How many codes to generate."
    )
    prefix = serializers.CharField(
        max_length=MAX_PREFIX,
        allow_blank=True,
        default="",
        help_text="Capital letters, digits and dashes that start every code, e.g. SPRING-.",
    )
    length = serializers.IntegerField(
        min_value=MIN_LENGTH,
        max_value=MAX_LENGTH,
        default=8,
        help_text="Random characters after the prefix (a check character follows).",
    )
    uses_per_code = serializers.IntegerField(
        min_value=1, max_value=MAX_USES, default=1, help_text="1 for single-use codes."
    )
    customer = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        allow_null=True,
        required=False,
        help_text="Id of a customer of the promotion's brand: only they may use the codes.",
    )
    valid_from = serializers.DateTimeField(allow_null=True, required=False)
    valid_until = serializers.DateTimeField(allow_null=True, required=False)
    offline = serializers.BooleanField(
        default=False,
        help_text="Sign the codes so that a till can check them without a connection.",
    )


class VoucherBatchOutputSerializer(serializers.ModelSerializer):
    brand = serializers.CharField(source="brand.slug")
    promotion_name = serializers.CharField(source="promotion.name")
    customer_email = PersonalDataField(EMAIL, source="customer.email", allow_null=True)
    progress_percent = serializers.IntegerField(
        help_text="How much of the quantity is generated, 0 to 100."
    )

    class Meta:
        model = VoucherBatch
        fields = [
            "id",
            "brand",
            "promotion",
            "promotion_name",
            "name",
            "prefix",
            "length",
            "quantity",
            "uses_per_code",
            "customer",
            "customer_email",
            "valid_from",
            "valid_until",
            "offline",
            "status",
            "generated",
            "progress_percent",
            "error",
            "voided_at",
            "created_at",
            "updated_at",
        ]


class CodeCountsSerializer(serializers.Serializer):
    available = serializers.IntegerField()
    reserved = serializers.IntegerField()
    redeemed = serializers.IntegerField()
    expired = serializers.IntegerField()
    voided = serializers.IntegerField()


class VoucherBatchDetailOutputSerializer(VoucherBatchOutputSerializer):
    code_counts = serializers.SerializerMethodField(help_text="The batch's codes in each state.")

    class Meta(VoucherBatchOutputSerializer.Meta):
        fields = [*VoucherBatchOutputSerializer.Meta.fields, "code_counts"]

    @extend_schema_field(CodeCountsSerializer)
    def get_code_counts(self, batch: VoucherBatch) -> dict:
        return CodeCountsSerializer(self.context["code_counts"]).data


class VoucherCodeOutputSerializer(serializers.ModelSerializer):
    brand = serializers.CharField(source="brand.slug")
    batch_name = serializers.CharField(source="batch.name")
    promotion = serializers.IntegerField(source="batch.promotion_id")
    customer_email = PersonalDataField(EMAIL, source="customer.email", allow_null=True)
    valid_from = serializers.DateTimeField(source="batch.valid_from", allow_null=True)
    valid_until = serializers.DateTimeField(source="batch.valid_until", allow_null=True)
    batch_voided_at = serializers.DateTimeField(
        source="batch.voided_at",
        allow_null=True,
        help_text="Set when the whole batch was voided: no code of it can be used any more.",
    )

    class Meta:
        model = VoucherCode
        fields = [
            "id",
            "code",
            "brand",
            "batch",
            "batch_name",
            "promotion",
            "customer",
            "customer_email",
            "max_uses",
            "uses",
            "redeemed",
            "status",
            "assigned_at",
            "valid_from",
            "valid_until",
            "batch_voided_at",
        ]


class VoucherRedemptionOutputSerializer(serializers.ModelSerializer):
    customer_email = PersonalDataField(EMAIL, source="customer.email", allow_null=True)
    store = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True, help_text="Store code."
    )

    class Meta:
        model = VoucherRedemption
        fields = [
            "id",
            "source",
            "order",
            "customer",
            "customer_email",
            "store",
            "channel",
            "status",
            "used_at",
            "redeemed_at",
            "released_at",
        ]


class VoucherCodeDetailOutputSerializer(VoucherCodeOutputSerializer):
    redemptions = serializers.SerializerMethodField(
        help_text="The code's uses, newest first (at most the latest 100)."
    )
    redemption_count = serializers.SerializerMethodField(help_text="All of the code's uses.")

    class Meta(VoucherCodeOutputSerializer.Meta):
        fields = [*VoucherCodeOutputSerializer.Meta.fields, "redemption_count", "redemptions"]

    @extend_schema_field(VoucherRedemptionOutputSerializer(many=True))
    def get_redemptions(self, code: VoucherCode) -> list:
        return VoucherRedemptionOutputSerializer(
            self.context["redemptions"], many=True, context=self.context
        ).data

    def get_redemption_count(self, code: VoucherCode) -> int:
        return self.context["redemption_count"]


class VoucherDistributeInputSerializer(serializers.Serializer):
    label = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, help_text="A customer label of the batch's brand."
    )


class VoucherDistributeOutputSerializer(serializers.Serializer):
    batch = serializers.IntegerField()
    label = serializers.IntegerField()
    status = serializers.CharField(help_text='"sending": the codes are being sent.')
