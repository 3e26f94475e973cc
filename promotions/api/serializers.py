"""Wire format of promotions: admin-facing units (decimal strings, ids), see `compiler.py`."""

from rest_framework import serializers

from core.api.filters import MAX_ID
from orders.models import Order
from promotions.models import Promotion
from promotions.services.validator import RELATIONS

LIMIT = {"min_value": 1, "max_value": 1_000_000_000, "required": False, "allow_null": True}
MONEY = {
    "max_digits": 14,
    "decimal_places": 2,
    "min_value": 0,
    "required": False,
    "allow_null": True,
}


def _ids(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=5000,
        help_text=help_text,
    )


class TimeWindowSerializer(serializers.Serializer):
    start = serializers.RegexField(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", help_text="HH:MM")
    end = serializers.RegexField(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", help_text="HH:MM")


class PromotionInputSerializer(serializers.Serializer):
    brand = serializers.SlugField(max_length=60, help_text="Brand slug.")
    name = serializers.CharField(max_length=160)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    type = serializers.ChoiceField(choices=Promotion.Type.choices)
    status = serializers.ChoiceField(
        choices=Promotion.Status.choices,
        required=False,
        default=Promotion.Status.DRAFT,
        help_text="A draft may be invalid; active and scheduled promotions may not.",
    )
    priority = serializers.IntegerField(min_value=-10_000, max_value=10_000, required=False)
    stacking = serializers.ChoiceField(choices=Promotion.Stacking.choices, required=False)
    target = serializers.ChoiceField(choices=Promotion.Target.choices, required=False)
    cashback_to = serializers.ChoiceField(
        choices=Promotion.CashbackTo.choices,
        required=False,
        help_text="Cashback promotions only: where the cashback is credited once the order is "
        "paid, points (the default) or the customer's wallet at the brand.",
    )
    starts_at = serializers.DateTimeField(required=False, allow_null=True)
    ends_at = serializers.DateTimeField(required=False, allow_null=True)
    days_of_week = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=7), required=False, max_length=7
    )
    time_windows = TimeWindowSerializer(many=True, required=False, max_length=24)
    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=Order.Channel.choices), required=False, max_length=3
    )
    customer_tiers = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, max_length=50
    )
    new_customers_only = serializers.BooleanField(required=False)
    signed_in_only = serializers.BooleanField(required=False)
    code = serializers.CharField(max_length=40, required=False, allow_blank=True)
    max_applications_per_order = serializers.IntegerField(**LIMIT)
    max_uses_total = serializers.IntegerField(**LIMIT)
    max_uses_per_customer = serializers.IntegerField(**LIMIT)
    budget = serializers.DecimalField(**MONEY)
    max_discount_per_order = serializers.DecimalField(**MONEY)
    min_eligible_subtotal = serializers.DecimalField(**MONEY)
    all_products = serializers.BooleanField(required=False)
    stores = _ids("Store ids; empty means every store.")
    customer_labels = _ids("Customer label ids: customers with any of them.")
    excluded_customer_labels = _ids("Customer label ids that exclude a customer.")
    products = _ids("Product ids in scope.")
    categories = _ids("Category ids in scope, with their descendants.")
    product_labels = _ids("Product label ids in scope.")
    excluded_products = _ids("Product ids excluded from the scope.")
    excluded_categories = _ids("Category ids excluded, with their descendants.")
    excluded_product_labels = _ids("Product label ids excluded.")
    params = serializers.DictField(
        required=False, help_text="Type-specific parameters; see the README's promotion types."
    )

    def to_fields_and_relations(self) -> tuple[dict, dict]:
        data = dict(self.validated_data)
        relations = {name: data.pop(name) for name in RELATIONS if name in data}
        if "time_windows" in data:
            data["time_windows"] = [dict(window) for window in data["time_windows"]]
        return data, relations


class ValidationIssueSerializer(serializers.Serializer):
    field = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class PromotionOutputSerializer(serializers.ModelSerializer):
    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    stores = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    customer_labels = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    excluded_customer_labels = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    products = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    categories = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    product_labels = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    excluded_products = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    excluded_categories = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    excluded_product_labels = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Promotion
        fields = [
            "id",
            "brand",
            "name",
            "description",
            "type",
            "status",
            "priority",
            "stacking",
            "target",
            "cashback_to",
            "starts_at",
            "ends_at",
            "days_of_week",
            "time_windows",
            "channels",
            "customer_tiers",
            "new_customers_only",
            "signed_in_only",
            "code",
            "max_applications_per_order",
            "max_uses_total",
            "max_uses_per_customer",
            "budget",
            "max_discount_per_order",
            "min_eligible_subtotal",
            "all_products",
            *RELATIONS[1:],
            "stores",
            "params",
            "version",
            "compiled_hash",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PromotionStatusInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Promotion.Status.choices)


class ValidateOutputSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    issues = ValidationIssueSerializer(many=True)


class SampleLineSerializer(serializers.Serializer):
    product = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    quantity = serializers.IntegerField(min_value=1, max_value=10_000)


class PreviewInputSerializer(serializers.Serializer):
    promotion = PromotionInputSerializer(
        required=False,
        help_text="A draft, not saved; with `promotion_id`, unsaved changes to that promotion.",
    )
    promotion_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text="A saved promotion."
    )
    lines = SampleLineSerializer(many=True, allow_empty=False, max_length=200)
    store = serializers.SlugField(max_length=40, required=False, help_text="Store code.")
    channel = serializers.ChoiceField(choices=Order.Channel.choices, required=False, default="web")
    at = serializers.DateTimeField(required=False, help_text="When; now if omitted.")
    customer_labels = _ids("Customer label ids the sample customer has.")
    signed_in = serializers.BooleanField(required=False, default=True)
    is_new_customer = serializers.BooleanField(required=False, default=False)
    tier = serializers.CharField(max_length=60, required=False, allow_null=True, default=None)
    payment_method = serializers.CharField(max_length=32, required=False, allow_blank=True)
    codes = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=10
    )

    def validate(self, attrs):
        if "promotion" not in attrs and "promotion_id" not in attrs:
            raise serializers.ValidationError(
                "Give `promotion`, `promotion_id`, or both (unsaved changes to a saved one)."
            )
        return attrs


class PreviewOutputSerializer(serializers.Serializer):
    issues = ValidationIssueSerializer(many=True)
    compiled = serializers.DictField(help_text="The compiled promotion the engines read.")
    basket = serializers.DictField(help_text="The calculator's basket input.")
    context = serializers.DictField(help_text="The calculator's context input.")
    result = serializers.DictField(help_text="The calculator's result, in minor units.")
    currency = serializers.CharField()
