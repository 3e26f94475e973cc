"""Admin for the catalog: each brand's category tree and products, with product labels."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch
from django.forms.models import BaseInlineFormSet

from brands.admin import (
    BrandListFilter,
    BrandScopedAdminMixin,
)
from brands.selectors import scope_to_user_brands
from catalog.models import Category, Product
from core.errors import ApplicationError
from labels.admin import LabelAssignmentInline
from labels.models import Label, ProductLabel
from labels.services import label_assign_product, label_unassign_product


@admin.register(Category)
class CategoryAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    brand_path = "brand"
    list_display = ["name", "slug", "parent", "brand", "product_count"]
    list_filter = [BrandListFilter]
    search_fields = ["name", "slug"]
    list_select_related = ["brand", "parent"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_product_count=Count("products"))

    @admin.display(description="products", ordering="_product_count")
    def product_count(self, obj) -> int:
        return obj._product_count


class ProductLabelFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        product = self.instance
        for form in self.forms:
            label = form.cleaned_data.get("label") if hasattr(form, "cleaned_data") else None
            if label is None or form.cleaned_data.get("DELETE"):
                continue
            if label.brand_id is not None and label.brand_id != product.brand_id:
                form.add_error("label", ValidationError("This label belongs to another brand."))


class ProductLabelInline(LabelAssignmentInline):
    model = ProductLabel
    formset = ProductLabelFormSet
    label_type = Label.Type.PRODUCT


@admin.register(Product)
class ProductAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    brand_path = "brand"
    list_display = ["name", "sku", "brand", "category", "price", "is_active", "label_names"]
    list_filter = [BrandListFilter, "is_active", ("category", admin.RelatedOnlyFieldListFilter)]
    list_editable = ["is_active"]
    search_fields = ["name", "sku"]
    list_select_related = ["brand", "category"]
    fields = ["brand", "sku", "name", "category", "price", "is_active", "created_at"]
    readonly_fields = ["created_at"]
    inlines = [ProductLabelInline]

    def get_queryset(self, request):
        assignments = scope_to_user_brands(
            ProductLabel.objects.all(), request.user, "label__brand", include_global=True
        )
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch(
                    "label_assignments",
                    queryset=assignments.select_related("label"),
                    to_attr="_labels",
                )
            )
        )

    @admin.display(description="labels")
    def label_names(self, obj) -> str:
        return ", ".join(sorted(assignment.label.name for assignment in obj._labels))

    def save_formset(self, request, form, formset, change):
        if formset.model is not ProductLabel:
            formset.save()
            return
        product = form.instance
        instances = formset.save(commit=False)
        for assignment in formset.deleted_objects:
            label_unassign_product(label=assignment.label, product=product, actor=request.user)
        for assignment in instances:
            try:
                label_assign_product(label=assignment.label, product=product, actor=request.user)
            except ApplicationError as error:
                self.message_user(request, error.message, messages.ERROR)
