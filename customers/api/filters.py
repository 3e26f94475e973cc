import django_filters
from django.db.models import Q

from core.api.filters import IdFilter
from customers.models import Customer


class CustomerFilter(django_filters.FilterSet):
    email = django_filters.CharFilter(field_name="email", lookup_expr="iexact", max_length=254)
    phone = django_filters.CharFilter(field_name="phone", max_length=32)
    external_id = django_filters.CharFilter(field_name="external_id", max_length=64)
    brand = django_filters.CharFilter(
        field_name="brand_links__brand__slug", max_length=60, distinct=True, label="Brand slug"
    )
    label = IdFilter(
        field_name="label_assignments__label_id",
        distinct=True,
        label="Label id",
    )
    search = django_filters.CharFilter(
        method="filter_search", max_length=100, label="Search first name, last name, email"
    )

    class Meta:
        model = Customer
        fields = []

    def filter_search(self, queryset, name, value):
        q = Q()
        for term in value.split():
            q &= (
                Q(first_name__icontains=term)
                | Q(last_name__icontains=term)
                | Q(email__icontains=term)
            )
        return queryset.filter(q)
