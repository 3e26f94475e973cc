"""Wire format of orders: input serializers parse, output serializers render."""

import re

from rest_framework import serializers

from orders.models import Order, OrderLine
from orders.services.placement import MAX_LINES, MAX_QUANTITY

MAX_ID = 2**63 - 1
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
        ]
        read_only_fields = fields


class OrderOutputSerializer(serializers.ModelSerializer):
    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    store = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

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
            "total",
            "refunded_amount",
            "paid_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class OrderDetailOutputSerializer(OrderOutputSerializer):
    lines = OrderLineOutputSerializer(many=True, read_only=True)

    class Meta(OrderOutputSerializer.Meta):
        fields = [*OrderOutputSerializer.Meta.fields, "lines"]
        read_only_fields = fields
