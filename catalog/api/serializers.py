"""Wire format of the catalog (read only)."""

from rest_framework import serializers

from catalog.models import Category, Product


class CategoryOutputSerializer(serializers.ModelSerializer):
    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Category
        fields = ["id", "brand", "parent", "name", "slug"]
        read_only_fields = fields


class ProductLabelOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="label.id")
    name = serializers.CharField(source="label.name")


class ProductOutputSerializer(serializers.ModelSerializer):
    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    currency = serializers.CharField(source="brand.currency", read_only=True)
    labels = ProductLabelOutputSerializer(source="label_assignments", many=True, read_only=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "brand",
            "sku",
            "name",
            "category",
            "price",
            "currency",
            "is_active",
            "labels",
        ]
        read_only_fields = fields
