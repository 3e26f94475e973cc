import django_filters
from django.db.models import Q

from catalog.models import Category, Product
from catalog.selectors import category_descendant_ids
from core.api.filters import IdFilter


class CategoryFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug", max_length=60, label="Brand slug")
    parent = IdFilter(field_name="parent_id")
    slug = django_filters.CharFilter(field_name="slug", max_length=80)

    class Meta:
        model = Category
        fields = []


class ProductFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug", max_length=60, label="Brand slug")
    category = IdFilter(
        method="filter_category",
        label="Category id; products of its subcategories are included",
    )
    sku = django_filters.CharFilter(field_name="sku", max_length=64)
    is_active = django_filters.BooleanFilter(field_name="is_active")
    min_price = django_filters.NumberFilter(
        field_name="price", lookup_expr="gte", max_digits=14, decimal_places=2
    )
    max_price = django_filters.NumberFilter(
        field_name="price", lookup_expr="lte", max_digits=14, decimal_places=2
    )
    search = django_filters.CharFilter(
        method="filter_search", max_length=100, label="Search name and SKU"
    )

    class Meta:
        model = Product
        fields = []

    def filter_category(self, queryset, name, value):
        category = Category.objects.filter(pk=value).values_list("brand_id", flat=True)
        brand_id = category.first()
        if brand_id is None:
            return queryset.none()
        ids = category_descendant_ids(brand_id=brand_id, category_ids=[value])
        return queryset.filter(category_id__in=ids)

    def filter_search(self, queryset, name, value):
        q = Q()
        for term in value.split():
            q &= Q(name__icontains=term) | Q(sku__icontains=term)
        return queryset.filter(q)
