import django_filters

from labels.models import Label


class LabelFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(choices=Label.Type.choices)
    brand = django_filters.CharFilter(field_name="brand__slug", max_length=60, label="Brand slug")
    is_global = django_filters.BooleanFilter(
        field_name="brand", lookup_expr="isnull", label="Only global (true) or brand (false) labels"
    )
    name = django_filters.CharFilter(field_name="name", lookup_expr="iexact", max_length=80)
    search = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", max_length=80, label="Search names"
    )

    class Meta:
        model = Label
        fields = []
