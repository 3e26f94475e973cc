"""Campaigns in the admin: a form of real fields (brands picked from the user's brands, money and
number fields, the owner's rewards in a list, dates), saved through `campaign_save`; customers'
progress as a read-only list."""

from django import forms
from django.contrib import admin
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html

from brands.admin import BrandScopedAdminMixin
from brands.selectors import scope_to_user_brands
from campaigns.models import CampaignProgress, CrossBrandCampaign
from campaigns.services import CAMPAIGN_FIELDS, campaign_check, campaign_save
from core.errors import ApplicationError
from rewards.models import RewardTemplate

Req = CrossBrandCampaign.Requirement
Kind = CrossBrandCampaign.RewardKind
# The field each requirement or reward kind needs, and what the form says when it is empty.
NEEDED = {
    ("requirement", Req.EACH_BRAND): (
        "min_spend_per_brand",
        "Give the amount to spend at each brand.",
    ),
    ("requirement", Req.TOTAL): ("min_total_spend", "Give the total to spend across the brands."),
    ("reward_kind", Kind.POINTS): ("reward_points", "Give the number of points."),
    ("reward_kind", Kind.TEMPLATE): ("reward_template", "Pick the reward to give."),
    ("reward_kind", Kind.WALLET_CREDIT): ("reward_amount", "Give the wallet credit to give."),
}
UNUSED = {
    Req.EACH_BRAND: ["min_total_spend"],
    Req.TOTAL: ["min_spend_per_brand"],
    Kind.POINTS: ["reward_template", "reward_amount"],
    Kind.TEMPLATE: ["reward_points", "reward_amount"],
    Kind.WALLET_CREDIT: ["reward_points", "reward_template"],
}


class CampaignForm(forms.ModelForm):
    class Meta:
        model = CrossBrandCampaign
        fields = ["brand", *CAMPAIGN_FIELDS, "brands"]
        labels = {
            "brand": "Owner brand",
            "brands": "Participating brands",
            "min_spend_per_brand": "Spend at each brand",
            "min_total_spend": "Total spend",
            "min_brands": "Number of brands",
            "reward_points": "Points",
            "reward_template": "Reward",
            "reward_amount": "Wallet credit",
            "is_active": "Active",
        }

    def clean(self):
        cleaned = super().clean()
        for choice_field in ("requirement", "reward_kind"):
            choice = cleaned.get(choice_field)
            if not choice:
                continue
            needed, message = NEEDED[(choice_field, choice)]
            if cleaned.get(needed) in (None, "") and needed not in self.errors:
                self.add_error(needed, message)
            for unused in UNUSED[choice]:
                cleaned[unused] = None
        owner, brands = cleaned.get("brand"), cleaned.get("brands")
        if owner is None or brands is None:
            return cleaned
        candidate = CrossBrandCampaign(
            brand=owner,
            **{name: cleaned.get(name) for name in CAMPAIGN_FIELDS if name in cleaned},
        )
        participants = [*brands, owner] if owner not in brands else list(brands)
        try:
            campaign_check(campaign=candidate, brands=participants)
        except ApplicationError as error:
            for name, messages in error.fields.items():
                for message in messages:
                    self.add_error(name if name in self.fields else None, message)
        return cleaned


class CampaignProgressInline(admin.TabularInline):
    """The first customers by progress, read only; the full list is in Campaign progress."""

    model = CampaignProgress
    fields = ["customer", "total_spend", "brands_counted", "is_met", "completed_at", "reward"]
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0
    verbose_name_plural = "Progress (the 20 furthest customers)"

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("customer", "reward")
        ids = list(
            queryset.order_by("-is_met", "-total_spend", "pk").values_list("pk", flat=True)[:20]
        )
        return queryset.filter(pk__in=ids).order_by("-is_met", "-total_spend", "pk")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CrossBrandCampaign)
class CrossBrandCampaignAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    """Campaigns the user's brands run. Participating brands are picked among the user's
    brands; the owner always takes part."""

    form = CampaignForm
    brand_path = "brand"
    list_display = [
        "name",
        "brand",
        "starts_at",
        "ends_at",
        "requirement",
        "is_active",
        "customers",
        "completed",
    ]
    list_filter = ["is_active", "requirement", ("brand", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["brand"]
    search_fields = ["name", "description"]
    filter_horizontal = ["brands"]
    inlines = [CampaignProgressInline]
    fieldsets = [
        (None, {"fields": ["brand", "name", "description", "brands", "is_active"]}),
        ("Period", {"fields": ["starts_at", "ends_at"]}),
        (
            "Requirement",
            {
                "fields": ["requirement", "min_brands", "min_spend_per_brand", "min_total_spend"],
                "description": "Each brand: spend at least the amount at each of the number of "
                "brands. Total: spend at least the total across at least the number of brands. "
                "Only money paid counts (not wallet credit), less refunds.",
            },
        ),
        (
            "Reward",
            {
                "fields": ["reward_kind", "reward_points", "reward_template", "reward_amount"],
                "description": "Given once per customer by the owner brand: points in its "
                "programme, one of its rewards, or credit in its wallet.",
            },
        ),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                customer_count=Count("progress", distinct=True),
                completed_count=Count(
                    "progress", filter=Q(progress__reward__isnull=False), distinct=True
                ),
            )
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "reward_template":
            templates = RewardTemplate.objects.filter(is_active=True).select_related("brand")
            kwargs["queryset"] = scope_to_user_brands(templates, request.user, "brand")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        if obj is not None and "reward_template" in form_class.base_fields:
            field = form_class.base_fields["reward_template"]
            field.queryset = field.queryset.filter(brand=obj.brand)  # the owner's rewards
        return form_class

    @admin.display(description="customers", ordering="customer_count")
    def customers(self, obj) -> str:
        url = reverse("admin:campaigns_campaignprogress_changelist")
        return format_html(
            '<a href="{}?campaign__id__exact={}">{}</a>', url, obj.pk, obj.customer_count
        )

    @admin.display(description="rewarded", ordering="completed_count")
    def completed(self, obj) -> int:
        return obj.completed_count

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data.get(name) for name in CAMPAIGN_FIELDS}
        data["brands"] = list(form.cleaned_data["brands"])
        saved = campaign_save(
            campaign=obj if change else None, brand=form.cleaned_data["brand"], data=data
        )
        obj.pk = saved.pk

    def save_related(self, request, form, formsets, change):
        # `campaign_save` set the brands (with the owner); only the inlines are left.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


@admin.register(CampaignProgress)
class CampaignProgressAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    """Each customer's progress, derived from their orders: read only."""

    brand_path = "campaign__brand"
    list_display = [
        "customer",
        "campaign",
        "spend",
        "total_spend",
        "brands_counted",
        "is_met",
        "completed_at",
        "reward",
    ]
    list_filter = ["is_met", ("campaign", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["customer", "campaign", "reward"]
    search_fields = ["customer__first_name", "customer__last_name", "campaign__name"]
    ordering = ["campaign", "-is_met", "-total_spend", "pk"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("campaign__brands")

    @admin.display(description="spend per brand")
    def spend(self, obj) -> str:
        names = {str(b.pk): b.name for b in obj.campaign.brands.all()}
        return (
            ", ".join(
                f"{names.get(brand_id, brand_id)}: {amount}"
                for brand_id, amount in sorted(obj.spend_by_brand.items())
            )
            or "Nothing yet"
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
