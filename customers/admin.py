"""Admin for customers: their details, the brands that know them and their labels.

Customers are global; brand staff see the customers known to their brands. Writes go through
`customers.services` and `labels.services`.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch

from brands.admin import (
    NOT_YOUR_BRAND,
    BrandListFilter,
    BrandScopedAdminMixin,
    BrandScopedInlineMixin,
    scoped_choices,
)
from brands.models import Brand
from brands.selectors import brand_ids_for_user, scope_to_user_brands
from core.errors import ApplicationError
from customers.models import Customer, CustomerBrand
from customers.services import (
    customer_create,
    customer_link_brand,
    customer_login_email_check,
    customer_update,
)
from labels.admin import LabelAssignmentInline
from labels.models import CustomerLabel, Label
from labels.services import label_assign_customer, label_unassign_customer

EDITABLE_FIELDS = ["first_name", "last_name", "email", "phone", "birth_date", "external_id"]


class CustomerBrandInline(BrandScopedInlineMixin, admin.TabularInline):
    """The brands that know the customer. A link is added, never edited nor removed."""

    model = CustomerBrand
    brand_path = "brand"
    fields = ["brand", "first_seen_at"]
    readonly_fields = ["first_seen_at"]
    extra = 0
    can_delete = False
    verbose_name = "known to brand"
    verbose_name_plural = "known to brands"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("brand")

    def has_change_permission(self, request, obj=None):
        return False


class CustomerLabelInline(LabelAssignmentInline):
    model = CustomerLabel
    label_type = Label.Type.CUSTOMER


class CustomerLabelFilter(admin.SimpleListFilter):
    title = "label"
    parameter_name = "label"

    def lookups(self, request, model_admin):
        labels = scoped_choices(Label, request.user).filter(type=Label.Type.CUSTOMER)
        return [(str(label.pk), str(label)) for label in labels.select_related("brand")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(label_assignments__label=self.value()).distinct()
        return queryset


class CustomerForm(forms.ModelForm):
    def clean_email(self):
        email = self.cleaned_data.get("email")
        if email and self.instance.user_id is not None:
            try:
                customer_login_email_check(email=email)
            except ApplicationError as error:
                raise forms.ValidationError(error.message) from None
        return email


@admin.register(Customer)
class CustomerAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    form = CustomerForm
    brand_path = "brand_links__brand"
    list_display = ["__str__", "email", "phone", "brand_names", "label_names", "created_at"]
    list_filter = [BrandListFilter, CustomerLabelFilter, "created_at"]
    search_fields = ["email", "phone", "first_name", "last_name", "external_id"]
    readonly_fields = ["user", "created_at", "updated_at"]
    fields = [*EDITABLE_FIELDS, "user", "created_at", "updated_at"]
    inlines = [CustomerBrandInline, CustomerLabelInline]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        user = request.user
        links = scope_to_user_brands(CustomerBrand.objects.all(), user, "brand")
        assignments = scope_to_user_brands(
            CustomerLabel.objects.all(), user, "label__brand", include_global=True
        )
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch("brand_links", queryset=links.select_related("brand"), to_attr="_links"),
                Prefetch(
                    "label_assignments",
                    queryset=assignments.select_related("label__brand"),
                    to_attr="_labels",
                ),
            )
        )

    @admin.display(description="brands")
    def brand_names(self, obj) -> str:
        return ", ".join(sorted(link.brand.name for link in obj._links))

    @admin.display(description="labels")
    def label_names(self, obj) -> str:
        return ", ".join(sorted(assignment.label.name for assignment in obj._labels))

    def save_model(self, request, obj, form, change):
        if not self.user_may_change_object(request, obj):
            raise PermissionDenied(NOT_YOUR_BRAND)
        values = {name: form.cleaned_data.get(name) for name in EDITABLE_FIELDS}
        if change:
            changed = {name: values[name] for name in form.changed_data if name in values}
            customer_update(customer=obj, **changed)
            return
        created = customer_create(brand=None, **values)
        for field in Customer._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding = False
        obj._state.db = created._state.db

    def save_formset(self, request, form, formset, change):
        customer = form.instance
        instances = formset.save(commit=False)
        if formset.model is CustomerLabel:
            for assignment in formset.deleted_objects:
                label_unassign_customer(
                    label=assignment.label, customer=customer, actor=request.user
                )
            for assignment in instances:
                try:
                    label_assign_customer(
                        label=assignment.label, customer=customer, actor=request.user
                    )
                except ApplicationError as error:
                    self.message_user(request, error.message, messages.ERROR)
        elif formset.model is CustomerBrand:
            for link in instances:
                customer_link_brand(customer=customer, brand=link.brand)
        else:
            formset.save()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        brand_ids = brand_ids_for_user(request.user)
        if change or brand_ids is None:
            return
        customer = form.instance
        if not CustomerBrand.objects.filter(customer=customer, brand_id__in=brand_ids).exists():
            # A customer created by brand staff is known to their brands unless they chose one.
            for brand in Brand.objects.filter(pk__in=brand_ids):
                customer_link_brand(customer=customer, brand=brand)
