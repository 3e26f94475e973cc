import django_filters

from core.api.filters import IdFilter, UtcIsoDateTimeFilter
from orders.models import Order


class OrderFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug", max_length=60, label="Brand slug")
    payment_status = django_filters.ChoiceFilter(choices=Order.PaymentStatus.choices)
    status = django_filters.ChoiceFilter(choices=Order.Status.choices)
    channel = django_filters.ChoiceFilter(choices=Order.Channel.choices)
    store = django_filters.CharFilter(field_name="store__code", max_length=40, label="Store code")
    customer = IdFilter(
        field_name="customer_id",
        label="Customer id",
    )
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = []
