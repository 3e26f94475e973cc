"""Admin for rewards: the templates staff define (real fields, the product picked by search, the
fields a kind does not use refused in plain sentences), and the rewards issued: a read-only,
filterable list searched by code, whose "Add" is the form staff issue a template with, and an
action that cancels the selected rewards still ready to use.

Nothing here writes a reward directly: issuing goes through `reward_issue_template`, cancelling
through `reward_cancel`, and templates through `reward_template_save`.
"""

import uuid

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from brands.admin import BrandScopedAdminMixin, register_brand_scoped_choices
from brands.selectors import brand_ids_for_user
from core import privacy
from core.admin import PersonalDataAdminMixin
from core.errors import ApplicationError
from rewards.lifecycle import (
    VALUE_FIELDS,
    reward_cancel,
    reward_issue_template,
    reward_template_errors,
    reward_template_save,
)
from rewards.models import CustomerReward, RewardTemplate

register_brand_scoped_choices("rewards.rewardtemplate", "brand")

CANCEL_PERMISSION = "rewards.change_customerreward"


class RewardTemplateForm(forms.ModelForm):
    class Meta:
        model = RewardTemplate
        fields = [
            "brand",
            "name",
            "description",
            "kind",
            "amount",
            "percentage",
            "product",
            "points",
            "minimum_order",
            "valid_days",
            "trigger",
            "is_active",
        ]
        help_texts = {
            "valid_days": "Days a discount or free-product code stays valid after it is issued.",
            "trigger": "Birthday: every customer of the brand gets it on their birthday, once "
            "a year. Otherwise staff, a rule or a campaign issue it.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "product" in self.fields:
            self.fields["product"].queryset = self.fields["product"].queryset.filter(is_active=True)

    def clean(self):
        cleaned = super().clean()
        if "kind" in self.errors:
            return cleaned
        values = {name: cleaned.get(name) for name in (*VALUE_FIELDS, "kind", "minimum_order")}
        errors = reward_template_errors(brand=cleaned.get("brand"), values=values)
        for name, message in errors.items():
            if name not in self.errors:
                self.add_error(name, message)
        name, brand = cleaned.get("name"), cleaned.get("brand")
        if name and brand is not None:
            duplicate = RewardTemplate.objects.filter(brand=brand, name=name)
            if self.instance.pk:
                duplicate = duplicate.exclude(pk=self.instance.pk)
            if duplicate.exists():
                self.add_error("name", "The brand already has a reward with this name.")
        return cleaned

    def validate_unique(self):
        pass  # the name is checked in clean() with a plain sentence


@admin.register(RewardTemplate)
class RewardTemplateAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    form = RewardTemplateForm
    list_display = ["name", "brand", "kind", "trigger", "valid_days", "is_active", "issued_link"]
    list_filter = ["is_active", "trigger", "kind", ("brand", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["brand", "product"]
    search_fields = ["name", "description"]
    autocomplete_fields = ["product"]
    fieldsets = [
        (None, {"fields": ["brand", "name", "description", "is_active"]}),
        (
            "What it gives",
            {
                "fields": ["kind", "amount", "percentage", "product", "points", "minimum_order"],
                "description": "Fill in only what the kind uses: an amount for a discount or "
                "wallet credit, a percentage, the product made free, or points. A minimum "
                "order applies to codes only.",
            },
        ),
        ("When", {"fields": ["trigger", "valid_days"]}),
    ]

    @admin.display(description="issued")
    def issued_link(self, obj) -> str:
        url = reverse("admin:rewards_customerreward_changelist") + f"?template__id__exact={obj.pk}"
        return format_html('<a href="{}">Issued rewards</a>', url)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.issued.exists():
            return False  # rewards were issued from it: deactivate it instead
        return super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return ["brand"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        data = {
            name: form.cleaned_data[name]
            for name in RewardTemplateForm.Meta.fields
            if name in form.cleaned_data and name != "brand"
        }
        if change:
            saved = reward_template_save(template=obj, data=data)
        else:
            saved = reward_template_save(brand=form.cleaned_data["brand"], data=data)
        obj.pk = saved.pk


class RewardIssueForm(forms.ModelForm):
    """Staff issue a template: an active template of their brands, a customer of its brand, a
    reason."""

    class Meta:
        model = CustomerReward
        fields = ["template", "customer", "reason"]
        help_texts = {"reason": "Required; why the customer gets it, kept on the reward."}
        labels = {"template": "Reward"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "template" in self.fields:
            field = self.fields["template"]
            field.required = True
            field.queryset = field.queryset.filter(is_active=True).select_related("brand")
            field.label_from_instance = lambda t: f"{t.name} ({t.brand})"
        if "reason" in self.fields:
            self.fields["reason"].required = True

    def clean(self):
        cleaned = super().clean()
        template, customer = cleaned.get("template"), cleaned.get("customer")
        if template is not None:
            self.instance.brand = template.brand  # what the brand scoping checks
        if (
            template is not None
            and customer is not None
            and not customer.brand_links.filter(brand_id=template.brand_id).exists()
        ):
            self.add_error("customer", "This customer is not known to the reward's brand.")
        return cleaned

    def validate_unique(self):
        pass  # the service gives the reward its own key


@admin.register(CustomerReward)
class CustomerRewardAdmin(PersonalDataAdminMixin, BrandScopedAdminMixin, admin.ModelAdmin):
    """Rewards issued: a read-only list; "Add" is the form staff issue a template with."""

    form = RewardIssueForm
    personal_data = {"reason": privacy.TEXT}
    list_display = [
        "created_at",
        "name",
        "customer",
        "brand",
        "kind",
        "status",
        "code",
        "valid_until",
        "source",
    ]
    list_filter = [
        "status",
        "kind",
        "source",
        "created_at",
        ("brand", admin.RelatedOnlyFieldListFilter),
        ("template", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["customer", "brand"]
    search_fields = ["=code", "customer__last_name", "customer__first_name", "name"]
    autocomplete_fields = ["customer"]
    date_hierarchy = "created_at"
    actions = ["cancel_selected"]
    readonly = [
        "name",
        "customer",
        "brand",
        "template",
        "source",
        "kind",
        "amount",
        "percentage",
        "product",
        "points",
        "minimum_order",
        "code",
        "status",
        "valid_until",
        "used_at",
        "order",
        "discount",
        "loyalty_transaction",
        "wallet_transaction",
        "reason",
        "expiry_notified_at",
        "created_at",
    ]

    def get_list_display(self, request):
        level = privacy.pii_level(request.user, privacy.EMAIL)

        @admin.display(description="customer email")
        def customer_email(obj):
            shown = privacy.shown_value(privacy.EMAIL, level, obj.customer.email)
            return shown or self.get_empty_value_display()

        names = list(super().get_list_display(request))
        return [*names[:3], customer_email, *names[3:]]

    def get_fields(self, request, obj=None):
        return self.readonly if obj is not None else ["template", "customer", "reason"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return super().get_readonly_fields(request, obj) + [
            name for name in self.readonly if name != "reason"
        ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "template" and "queryset" not in kwargs:
            kwargs["queryset"] = RewardTemplate.objects.filter(is_active=True)
            brand_ids = brand_ids_for_user(request.user)
            if brand_ids is not None:
                kwargs["queryset"] = kwargs["queryset"].filter(brand_id__in=brand_ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # a reward is cancelled, never deleted

    def has_cancel_permission(self, request) -> bool:
        return request.user.has_perm(CANCEL_PERMISSION)

    def save_model(self, request, obj, form, change):
        try:
            reward, _ = reward_issue_template(
                template=obj.template,
                customer=obj.customer,
                idempotency_key=f"staff:{obj.template.brand_id}:admin-{uuid.uuid4().hex}",
                source=CustomerReward.Source.STAFF,
                reason=obj.reason,
                actor=request.user,
            )
        except ApplicationError as error:
            request.reward_issue_error = error.message  # the admin is shared: not on self
            return
        obj.pk = reward.pk
        obj.code = reward.code

    def response_add(self, request, obj, post_url_continue=None):
        error = getattr(request, "reward_issue_error", None)
        if error:
            self.message_user(request, error, messages.ERROR)
        else:
            code = f" Its code is {obj.code}." if obj.code else ""
            self.message_user(
                request,
                f"The reward {obj.template.name} was issued to {obj.customer}; the customer is "
                f"told.{code}",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:rewards_customerreward_changelist"))

    @admin.action(description="Cancel the selected rewards", permissions=["cancel"])
    def cancel_selected(self, request, queryset):
        cancelled = skipped = 0
        brand_ids = brand_ids_for_user(request.user)
        for reward_id in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                reward_cancel(reward_id=reward_id, brand_ids=brand_ids, actor=request.user)
            except ApplicationError:
                skipped += 1
            else:
                cancelled += 1
        text = f"{cancelled} reward{'s' if cancelled != 1 else ''} cancelled."
        if skipped == 1:
            text += " 1 reward was already used or expired and was left as it was."
        elif skipped:
            text += f" {skipped} rewards were already used or expired and were left as they were."
        self.message_user(request, text, messages.SUCCESS if cancelled else messages.WARNING)
