"""Wire format of labels and their assignments."""

from rest_framework import serializers

from core.api.filters import MAX_ID
from labels.models import Label


class LabelCreateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    type = serializers.ChoiceField(choices=Label.Type.choices)
    brand = serializers.SlugField(
        max_length=60,
        allow_null=True,
        help_text="Slug of one of your brands; null makes a global label (superusers only).",
    )
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)


class LabelTargetInputSerializer(serializers.Serializer):
    customer = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    product = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)

    def validate(self, attrs):
        if ("customer" in attrs) == ("product" in attrs):
            raise serializers.ValidationError("Give either `customer` or `product`.")
        return attrs


class LabelOutputSerializer(serializers.ModelSerializer):
    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Label
        fields = ["id", "name", "type", "brand", "description", "created_at"]
        read_only_fields = fields


class LabelAssignmentOutputSerializer(serializers.Serializer):
    label = serializers.IntegerField()
    customer = serializers.IntegerField(allow_null=True)
    product = serializers.IntegerField(allow_null=True)
    assigned = serializers.BooleanField(
        help_text="True if this call assigned it; false if it was already assigned."
    )


class LabelUnassignmentOutputSerializer(serializers.Serializer):
    label = serializers.IntegerField()
    customer = serializers.IntegerField(allow_null=True)
    product = serializers.IntegerField(allow_null=True)
    removed = serializers.BooleanField(
        help_text="True if this call removed it; false if it was not assigned."
    )
