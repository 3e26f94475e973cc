"""Admin for labels. Global labels (no brand) are listed to every brand's staff; only
superusers change them. Assignments are made on the customer and product pages."""

from django.contrib import admin
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from brands.admin import (
    BrandListFilter,
    BrandScopedAdminMixin,
    BrandScopedInlineMixin,
    scoped_choices,
)
from brands.selectors import scope_to_user_brands
from labels.models import CustomerLabel, Label, ProductLabel


class LabelAssignmentInline(BrandScopedInlineMixin, admin.TabularInline):
    """The labels of a customer or product, on its page. Assignments go through the label
    services (the owning admin's `save_formset`); changing one is removing it and assigning
    another, so rows are never edited in place."""

    brand_path = "label__brand"
    include_global = True
    label_type: str
    fields = ["label", "assigned_by", "assigned_at"]
    readonly_fields = ["assigned_by", "assigned_at"]
    extra = 0
    verbose_name = "label"
    verbose_name_plural = "labels"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("label__brand", "assigned_by")

    def has_change_permission(self, request, obj=None):
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "label":
            kwargs["queryset"] = (
                scoped_choices(Label, request.user)
                .filter(type=self.label_type)
                .select_related("brand")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def _count(model, **filters) -> Coalesce:
    counts = (
        model.objects.filter(label=OuterRef("pk"), **filters)
        .order_by()
        .values("label")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counts), 0)


class GlobalLabelFilter(admin.SimpleListFilter):
    title = "scope"
    parameter_name = "scope"

    def lookups(self, request, model_admin):
        return [("global", "Global"), ("brand", "Brand")]

    def queryset(self, request, queryset):
        if self.value() == "global":
            return queryset.filter(brand__isnull=True)
        if self.value() == "brand":
            return queryset.filter(brand__isnull=False)
        return queryset


@admin.register(Label)
class LabelAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    brand_path = "brand"
    include_global = True
    list_display = ["name", "type", "brand", "description", "customer_count", "product_count"]
    list_filter = ["type", GlobalLabelFilter, BrandListFilter]
    search_fields = ["name", "description"]
    list_select_related = ["brand"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _customer_count=_count(CustomerLabel),
                _product_count=_count(ProductLabel),
            )
        )

    @admin.display(description="customers", ordering="_customer_count")
    def customer_count(self, obj) -> int:
        return obj._customer_count

    @admin.display(description="products", ordering="_product_count")
    def product_count(self, obj) -> int:
        return obj._product_count


class AssignmentAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    """A read-only list of assignments, to search who carries a label. Scoped by the brand of
    what carries the label (a global label is visible, but only on the user's customers)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CustomerLabel)
class CustomerLabelAdmin(AssignmentAdmin):
    brand_path = "customer__brand_links__brand"
    list_display = ["label", "customer", "assigned_by", "assigned_at"]
    list_filter = ["label__type", "assigned_at"]
    search_fields = ["label__name", "customer__email", "customer__last_name"]
    list_select_related = ["label__brand", "customer", "assigned_by"]
    raw_id_fields = ["customer"]

    def get_queryset(self, request):
        # The customer is one of the user's, and so is the label (or it is global).
        return scope_to_user_brands(
            super().get_queryset(request), request.user, "label__brand", include_global=True
        )


@admin.register(ProductLabel)
class ProductLabelAdmin(AssignmentAdmin):
    brand_path = "product__brand"
    list_display = ["label", "product", "assigned_by", "assigned_at"]
    list_filter = ["assigned_at"]
    search_fields = ["label__name", "product__sku", "product__name"]
    list_select_related = ["label__brand", "product", "assigned_by"]
    raw_id_fields = ["product"]
