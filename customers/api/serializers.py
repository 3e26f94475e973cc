"""Wire format of customers: input serializers parse, output serializers render."""

from rest_framework import serializers

from core.api.privacy import PersonalDataField
from core.privacy import BIRTH_DATE, EMAIL, PHONE
from customers.models import Customer


class _ProfileInputSerializer(serializers.Serializer):
    email = serializers.EmailField(
        max_length=254, required=False, allow_null=True, allow_blank=True
    )
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    first_name = serializers.CharField(max_length=80, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=80, required=False, allow_blank=True)
    birth_date = serializers.DateField(required=False, allow_null=True)


class CustomerCreateInputSerializer(_ProfileInputSerializer):
    brand = serializers.SlugField(
        max_length=60, help_text="Slug of the brand that knows the customer; one of yours."
    )
    external_id = serializers.CharField(
        max_length=64, required=False, allow_null=True, allow_blank=True
    )
    password = serializers.CharField(
        max_length=4096,
        required=False,
        write_only=True,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text=(
            "Gives the customer a storefront login (their email and this password); it must "
            "meet the password policy."
        ),
    )


class CustomerUpdateInputSerializer(_ProfileInputSerializer):
    external_id = serializers.CharField(
        max_length=64, required=False, allow_null=True, allow_blank=True
    )


class MeUpdateInputSerializer(_ProfileInputSerializer):
    """What customers may change on their own profile."""

    current_password = serializers.CharField(
        max_length=4096,
        required=False,
        write_only=True,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="Your password: required to change your email address (your login).",
    )


class CustomerLabelOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="label.id")
    name = serializers.CharField(source="label.name")
    brand = serializers.SlugField(source="label.brand.slug", allow_null=True, default=None)
    assigned_at = serializers.DateTimeField()


class CustomerOutputSerializer(serializers.ModelSerializer):
    """A customer as staff see them: email, phone and birth date as their role allows."""

    email = PersonalDataField(EMAIL)
    phone = PersonalDataField(PHONE)
    birth_date = PersonalDataField(BIRTH_DATE)
    brands = serializers.SerializerMethodField(help_text="Slugs of your brands that know them.")

    class Meta:
        model = Customer
        fields = [
            "id",
            "email",
            "phone",
            "first_name",
            "last_name",
            "birth_date",
            "external_id",
            "brands",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_brands(self, customer) -> list[str]:
        return sorted(link.brand.slug for link in customer.visible_brand_links)


class CustomerDetailOutputSerializer(CustomerOutputSerializer):
    labels = CustomerLabelOutputSerializer(
        source="visible_label_assignments",
        many=True,
        read_only=True,
        help_text="The customer's labels that are global or of your brands.",
    )

    class Meta(CustomerOutputSerializer.Meta):
        fields = [*CustomerOutputSerializer.Meta.fields, "labels"]
        read_only_fields = fields


class MeOutputSerializer(serializers.ModelSerializer):
    brands = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "email",
            "phone",
            "first_name",
            "last_name",
            "birth_date",
            "brands",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
