"""Wire format of orders: input serializers parse, output serializers render."""

import re
from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.filters import MAX_ID
from loyalty_management.selectors import order_cashback_points
from orders.models import Order, OrderLine, OrderPromotion
from orders.services.placement import MAX_LINES, MAX_QUANTITY

IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,128}$")


class OrderLineInputSerializer(serializers.Serializer):
    product = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text="Product id; or give `sku`."
    )
    sku = serializers.CharField(max_length=64, required=False, help_text="Or the product's SKU.")
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)

    def validate(self, attrs):
        if ("product" in attrs) == ("sku" in attrs):
            raise serializers.ValidationError("Give either `product` or `sku`.")
        return attrs


class OrderCreateInputSerializer(serializers.Serializer):
    lines = OrderLineInputSerializer(many=True, allow_empty=False, max_length=MAX_LINES)
    channel = serializers.ChoiceField(
        choices=Order.Channel.choices, required=False, help_text="POS devices always order `pos`."
    )
    store = serializers.SlugField(max_length=40, required=False, help_text="Store code.")
    customer = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        help_text="Customer id, for staff and devices. Customers always order for themselves.",
    )
    payment_method = serializers.CharField(
        max_length=32, required=False, allow_blank=True, default=""
    )
    brand = serializers.SlugField(
        max_length=60,
        required=False,
        help_text="Brand slug; or the `X-Brand` header. Devices order for their store's brand.",
    )
    codes = serializers.ListField(
        child=serializers.CharField(max_length=40),
        required=False,
        default=list,
        max_length=10,
        help_text="Voucher codes the customer entered.",
    )
    wallet_amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("100000.00"),
        required=False,
        allow_null=True,
        help_text=(
            "Pay up to this much from the customer's wallet at the brand (never more than the "
            "order total). More than the wallet holds is a 400 `wallet_insufficient`."
        ),
    )


class QuoteInputSerializer(OrderCreateInputSerializer):
    at = serializers.DateTimeField(
        required=False, help_text="Price as of this instant (default: now)."
    )
    wallet_amount = None  # a quote prices the basket; the tender is chosen when ordering


class PaymentStatusInputSerializer(serializers.Serializer):
    payment_status = serializers.ChoiceField(choices=Order.PaymentStatus.choices)
    refund_amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        required=False,
        allow_null=True,
        help_text="For refunds; a full refund of what is left when omitted.",
    )
    payment_method = serializers.CharField(max_length=32, required=False, allow_blank=True)
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class AllocationSerializer(serializers.Serializer):
    """A part of a line's discount: from a promotion (`promotion_id`), a rule (`rule_id`) or a
    reward code (`reward_id`)."""

    promotion_id = serializers.IntegerField(required=False)
    rule_id = serializers.IntegerField(required=False)
    reward_id = serializers.IntegerField(required=False)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)


class RewardCodeSerializer(serializers.Serializer):
    """A reward code entered: applied with its amount, or not with a plain reason."""

    code = serializers.CharField()
    reward_id = serializers.IntegerField(
        allow_null=True, help_text="Empty for a code that is not one of the customer's."
    )
    name = serializers.CharField(allow_blank=True)
    kind = serializers.CharField(allow_blank=True)
    applied = serializers.BooleanField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    reason = serializers.CharField(allow_blank=True)


class VoucherCodeResultSerializer(serializers.Serializer):
    """A voucher code entered: applied (its promotion applied), or not with a plain reason."""

    code = serializers.CharField()
    code_id = serializers.IntegerField(
        allow_null=True, help_text="Empty for a code that cannot be used."
    )
    promotion_id = serializers.IntegerField(
        allow_null=True, help_text="The promotion the code unlocks; empty when unusable."
    )
    applied = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True)


class RuleDiscountSerializer(serializers.Serializer):
    rule_id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    percentage = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)


class OrderLineOutputSerializer(serializers.ModelSerializer):
    subtotal = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    total = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)

    class Meta:
        model = OrderLine
        fields = [
            "id",
            "product",
            "sku",
            "name",
            "quantity",
            "unit_price",
            "line_discount",
            "subtotal",
            "total",
            "allocations",
        ]
        read_only_fields = fields

    allocations = AllocationSerializer(many=True, read_only=True)


class OrderPromotionOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderPromotion
        fields = [
            "promotion",
            "promotion_version",
            "name",
            "type",
            "kind",
            "phase",
            "amount",
            "applications",
        ]
        read_only_fields = fields


class OrderOutputSerializer(serializers.ModelSerializer):
    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    store = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    amount_due = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        read_only=True,
        help_text="What is left to pay by other means than the wallet.",
    )

    class Meta:
        model = Order
        fields = [
            "id",
            "brand",
            "store",
            "channel",
            "customer",
            "status",
            "payment_status",
            "payment_method",
            "currency",
            "subtotal",
            "discount_total",
            "discount_percentage",
            "discount_amount",
            "discount_description",
            "total",
            "wallet_amount",
            "amount_due",
            "refunded_amount",
            "cashback_total",
            "codes",
            "paid_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CashbackPointsSerializer(serializers.Serializer):
    credited = serializers.IntegerField(
        help_text="Loyalty points credited for the order's cashback once paid (0 until then)."
    )
    reversed = serializers.IntegerField(help_text="Of those, points its refunds took back.")


class OrderDetailOutputSerializer(OrderOutputSerializer):
    lines = OrderLineOutputSerializer(many=True, read_only=True)
    applied_promotions = OrderPromotionOutputSerializer(many=True, read_only=True)
    cashback_points = serializers.SerializerMethodField()

    class Meta(OrderOutputSerializer.Meta):
        fields = [
            *OrderOutputSerializer.Meta.fields,
            "engine_version",
            "bundle_hash",
            "lines",
            "applied_promotions",
            "rule_discounts",
            "reward_codes",
            "vouchers",
            "cashback_points",
        ]
        read_only_fields = fields

    rule_discounts = RuleDiscountSerializer(many=True, read_only=True)
    reward_codes = RewardCodeSerializer(many=True, read_only=True)
    vouchers = VoucherCodeResultSerializer(many=True, read_only=True)

    @extend_schema_field(CashbackPointsSerializer)
    def get_cashback_points(self, order: Order) -> dict:
        points = order_cashback_points(order_id=order.pk)
        return {"credited": points.credited, "reversed": points.reversed}


MONEY = {"max_digits": 14, "decimal_places": 2}


class QuoteLineSerializer(serializers.Serializer):
    product = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(**MONEY)
    subtotal = serializers.DecimalField(**MONEY)
    discount = serializers.DecimalField(**MONEY)
    total = serializers.DecimalField(**MONEY)
    allocations = AllocationSerializer(many=True)


class QuotePromotionSerializer(serializers.Serializer):
    promotion_id = serializers.IntegerField()
    name = serializers.CharField()
    type = serializers.CharField()
    phase = serializers.CharField()
    amount = serializers.DecimalField(**MONEY)
    applications = serializers.IntegerField()


class QuoteOutputSerializer(serializers.Serializer):
    """A priced basket; nothing is written."""

    currency = serializers.CharField()
    subtotal = serializers.DecimalField(**MONEY)
    discount_total = serializers.DecimalField(**MONEY)
    promotion_discount_total = serializers.DecimalField(**MONEY)
    rule_discount_total = serializers.DecimalField(**MONEY)
    reward_discount_total = serializers.DecimalField(**MONEY)
    total = serializers.DecimalField(**MONEY)
    cashback_total = serializers.DecimalField(**MONEY)
    lines = QuoteLineSerializer(many=True)
    promotions = QuotePromotionSerializer(many=True)
    rule_discounts = RuleDiscountSerializer(
        many=True, help_text="Rule discounts (order.created rules), after the promotions."
    )
    rewards = RewardCodeSerializer(
        many=True, help_text="Reward codes entered, after the rule discounts: applied or why not."
    )
    vouchers = VoucherCodeResultSerializer(
        many=True, help_text="Voucher codes entered: applied (they unlock a promotion) or why not."
    )
    cashback = serializers.ListField(child=serializers.DictField())
    suggestions = serializers.ListField(
        child=serializers.DictField(),
        help_text="Free gift to add, upsell, next spend tier, payment method to save more.",
    )
    rejected = serializers.ListField(
        child=serializers.DictField(), help_text="Promotions not applied, with a reason code."
    )
    engine_version = serializers.CharField()
    bundle_hash = serializers.CharField()
