import django_filters
from django.db.models import Q

from brands.models import Brand
from brands.selectors import scope_to_user_brands
from core.api.filters import IdFilter
from core.privacy import EMAIL, PHONE, Level, pii_level
from customers.models import Customer
from labels.models import Label


class CustomerFilter(django_filters.FilterSet):
    email = django_filters.CharFilter(method="filter_email", max_length=254)
    phone = django_filters.CharFilter(method="filter_phone", max_length=32)
    external_id = django_filters.CharFilter(field_name="external_id", max_length=64)
    brand = django_filters.CharFilter(
        method="filter_brand", max_length=60, label="Brand slug (one of your brands)"
    )
    label = IdFilter(method="filter_label", label="Label id (of your brands, or global)")
    search = django_filters.CharFilter(
        method="filter_search", max_length=100, label="Search first name, last name, email"
    )

    class Meta:
        model = Customer
        fields = []

    # A customer is shared by the brands that know them: filtering by another brand's slug or
    # label would tell who else shops there. Only the user's brands' values match anything, so
    # another brand's value finds nothing, as a value that does not exist.
    def filter_brand(self, queryset, name, value):
        brands = scope_to_user_brands(Brand.objects.filter(slug=value), self.request.user, "pk")
        return queryset.filter(brand_links__brand__in=brands).distinct()

    def filter_label(self, queryset, name, value):
        labels = scope_to_user_brands(
            Label.objects.filter(pk=value), self.request.user, "brand", include_global=True
        )
        return queryset.filter(label_assignments__label__in=labels).distinct()

    # Personal data the user's role hides cannot be filtered on either, and what it masks is
    # matched whole, never by part: a search must not rebuild what the page masks.
    def filter_email(self, queryset, name, value):
        if pii_level(self.request.user, EMAIL) is Level.HIDDEN:
            return queryset.none()
        return queryset.filter(email__iexact=value)

    def filter_phone(self, queryset, name, value):
        if pii_level(self.request.user, PHONE) is Level.HIDDEN:
            return queryset.none()
        return queryset.filter(phone=value)

    def filter_search(self, queryset, name, value):
        email_level = pii_level(self.request.user, EMAIL)
        q = Q()
        for term in value.split():
            by_email = Q()
            if email_level is Level.FULL:
                by_email = Q(email__icontains=term)
            elif email_level is Level.MASKED:
                by_email = Q(email__iexact=term)
            q &= Q(first_name__icontains=term) | Q(last_name__icontains=term) | by_email
        return queryset.filter(q)
