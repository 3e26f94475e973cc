"""Admin for customers: their details, the brands that know them and their labels.

Customers are global; brand staff see the customers known to their brands. Writes go through
`customers.services` and `labels.services`.
"""

import json
import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Prefetch
from django.http import HttpResponse
from django.template.response import TemplateResponse

from brands.admin import (
    NOT_YOUR_BRAND,
    BrandListFilter,
    BrandScopedAdminMixin,
    BrandScopedInlineMixin,
    ScopedListFilter,
    scoped_choices,
)
from brands.models import Brand
from brands.selectors import brand_ids_for_user, scope_to_user_brands
from core import privacy
from core.admin import PersonalDataAdminMixin, ReadOnlyAdminMixin
from core.errors import ApplicationError
from customers.gdpr import customer_erase, customer_export, customer_may_be_erased_by
from customers.models import Customer, CustomerBrand, PersonalDataAudit
from customers.services import (
    customer_create,
    customer_email_change_check,
    customer_link_brand,
    customer_login_email_check,
    customer_update,
)
from labels.admin import LabelAssignmentInline
from labels.models import CustomerLabel, Label
from labels.services import label_assign_customer, label_unassign_customer

CHOSEN_BRAND_FIELD = re.compile(r"brand_links-\d+-brand")
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


class CustomerLabelFilter(ScopedListFilter):
    title = "label"
    parameter_name = "label"

    def lookups(self, request, model_admin):
        labels = scoped_choices(Label, request.user).filter(type=Label.Type.CUSTOMER)
        return [(str(label.pk), str(label)) for label in labels.select_related("brand")]

    def filter(self, request, queryset, value: str):
        return queryset.filter(label_assignments__label=value).distinct()


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
class CustomerAdmin(PersonalDataAdminMixin, BrandScopedAdminMixin, admin.ModelAdmin):
    form = CustomerForm
    brand_path = "brand_links__brand"
    personal_data = {
        "email": privacy.EMAIL,
        "phone": privacy.PHONE,
        "birth_date": privacy.BIRTH_DATE,
        "user": privacy.TEXT,  # the storefront login is named by the email
    }
    list_display = ["__str__", "email", "phone", "brand_names", "label_names", "created_at"]
    list_filter = [BrandListFilter, CustomerLabelFilter, "created_at"]
    search_fields = ["email", "phone", "first_name", "last_name", "external_id"]
    readonly_fields = ["user", "created_at", "updated_at"]
    fields = [*EDITABLE_FIELDS, "user", "created_at", "updated_at"]
    inlines = [CustomerBrandInline, CustomerLabelInline]
    date_hierarchy = "created_at"
    actions = ["export_personal_data", "erase_personal_data"]
    erase_template = "admin/customers/customer/erase_confirmation.html"

    def has_export_permission(self, request) -> bool:
        return request.user.has_perm("customers.export_customer")

    def has_erase_permission(self, request) -> bool:
        return request.user.has_perm("customers.erase_customer")

    @admin.action(description="Export the personal data (one customer)", permissions=["export"])
    def export_personal_data(self, request, queryset):
        customers = list(queryset[:2])
        if len(customers) != 1:
            self.message_user(request, "Select exactly one customer to export.", messages.ERROR)
            return None
        customer = customers[0]
        document = customer_export(customer=customer, actor=request.user, via="admin")
        response = HttpResponse(
            json.dumps(document, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
            content_type="application/json; charset=utf-8",
        )
        filename = f"customer-{customer.pk}-export.json"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @admin.action(
        description="Erase the personal data of the selected customers", permissions=["erase"]
    )
    def erase_personal_data(self, request, queryset):
        customers = list(queryset.order_by("pk"))
        refused = [
            c for c in customers if not customer_may_be_erased_by(customer=c, actor=request.user)
        ]
        if refused:
            self.message_user(
                request,
                f"{len(refused)} of the selected customers are also known to other brands; "
                "an administrator of every brand must erase their data. Nothing was erased.",
                messages.ERROR,
            )
            return None
        if request.POST.get("confirmed") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Erase personal data",
                "opts": self.model._meta,
                "customers": customers,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, self.erase_template, context)
        erased = sum(
            customer_erase(customer=customer, actor=request.user, via="admin")
            for customer in customers
        )
        self.message_user(
            request,
            f"Personal data of {erased} customer(s) erased; orders and points are kept.",
            messages.SUCCESS,
        )
        return None

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

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        if obj is not None:

            class CustomerChangeForm(form_class):
                def clean_email(self):
                    email = super().clean_email()
                    try:
                        customer_email_change_check(
                            customer=self.instance, email=email, actor=request.user
                        )
                    except ApplicationError as error:
                        raise forms.ValidationError(error.message) from None
                    return email

            CustomerChangeForm.__name__ = form_class.__name__
            return CustomerChangeForm
        visible = self.get_queryset(request)

        class CustomerAddForm(form_class):
            """A new customer whose email or external id another brand's customer has is
            linked to that customer (`customer_create`), so only the user's own customers
            are a conflict here: the form says nothing of other brands' customers."""

            def _get_validation_exclusions(self):
                return {*super()._get_validation_exclusions(), "email", "external_id"}

            def clean(self):
                cleaned = super().clean()
                email = (cleaned.get("email") or "").strip()
                if email and visible.filter(email__iexact=email).exists():
                    self.add_error("email", "A customer with this email address exists already.")
                external_id = cleaned.get("external_id")
                if external_id and visible.filter(external_id=external_id).exists():
                    self.add_error(
                        "external_id", "A customer with this external id exists already."
                    )
                return cleaned

        CustomerAddForm.__name__ = form_class.__name__
        return CustomerAddForm

    def save_model(self, request, obj, form, change):
        if not self.user_may_change_object(request, obj):
            raise PermissionDenied(NOT_YOUR_BRAND)
        values = {name: form.cleaned_data.get(name) for name in EDITABLE_FIELDS}
        if change:
            changed = {name: values[name] for name in form.changed_data if name in values}
            customer_update(customer=obj, actor=request.user, **changed)
            return
        brand = self._brand_of_new_customer(request)
        created = customer_create(brand=brand, **values)
        for field in Customer._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding = False
        obj._state.db = created._state.db

    def _brand_of_new_customer(self, request) -> Brand | None:
        """Brand staff create a customer for a brand (the first one they chose in the "known to
        brands" rows, else their first), so an existing customer of another brand is linked
        rather than refused. Superusers see every customer: the form refused those."""
        brand_ids = brand_ids_for_user(request.user)
        if brand_ids is None:
            return None
        chosen = [
            int(value)
            for key, value in request.POST.items()
            if CHOSEN_BRAND_FIELD.fullmatch(key) and value.isdigit() and int(value) in brand_ids
        ]
        request._customer_brands_chosen = bool(chosen)
        return Brand.objects.filter(pk__in=chosen or brand_ids).order_by("pk").first()

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
        if not getattr(request, "_customer_brands_chosen", False):
            # A customer created by brand staff is known to their brands unless they chose one.
            for brand in Brand.objects.filter(pk__in=brand_ids):
                customer_link_brand(customer=customer, brand=brand)


@admin.register(PersonalDataAudit)
class PersonalDataAuditAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who exported or erased whose personal data. Staff see the records of their brands'
    customers; superusers see all."""

    list_display = ["created_at", "action", "customer_number", "actor_name", "via"]
    list_filter = ["action", "via"]
    search_fields = ["=customer_number", "actor_name"]
    fields = ["created_at", "action", "customer_number", "actor_name", "via"]
    readonly_fields = fields

    def get_queryset(self, request):
        return scope_to_user_brands(
            super().get_queryset(request), request.user, "customer__brand_links__brand"
        ).distinct()
