"""Admin for loyalty: programs with their tiers; accounts with their ledger and tier history
(read-only) and a manual adjustment form; the ledger itself, read-only and filterable; badge
definitions, and the badges customers hold (read-only, with a form to award one); the points
catalogue (categories and items) and the approval queue of redemption requests (bulk approve,
bulk reject with a reason asked on an intermediate page, mark physical items as sent).

Nobody adds, changes or deletes a ledger row here: an adjustment goes through
`account_adjust`, which writes a new row with its reason and author.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from brands.admin import BrandScopedAdminMixin, register_brand_scoped_choices
from brands.roles import adjustment_limit_for
from brands.selectors import brand_ids_for_user
from core.admin import ReadOnlyInlineMixin
from core.errors import ApplicationError
from loyalty_management.models import (
    BadgeDefinition,
    CustomerBadge,
    LoyaltyAccount,
    LoyaltyAdjustment,
    LoyaltyProgram,
    LoyaltyTierPeriod,
    LoyaltyTransaction,
    RedemptionCategory,
    RedemptionItem,
    RedemptionRequest,
    Tier,
)
from loyalty_management.services.badges import (
    badge_award_by_staff,
    badge_definition_check,
    badge_definition_save,
)
from loyalty_management.services.catalogue import CODE_KINDS, KIND_FIELDS, KIND_VALUE_FIELDS
from loyalty_management.services.ledger import (
    MAX_ADJUSTMENT,
    account_adjust,
    account_adjustment_decide,
)
from loyalty_management.services.redemptions import redemption_fulfil, redemptions_decide

ADJUST_PERMISSION = "loyalty_management.add_loyaltytransaction"
APPROVE_PERMISSION = "loyalty_management.approve_loyaltyadjustment"


class TierInline(admin.TabularInline):
    model = Tier
    extra = 0
    fields = ["position", "name", "threshold", "multiplier", "benefits"]


@admin.register(LoyaltyProgram)
class LoyaltyProgramAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    brand_path = "brand"
    list_display = [
        "name",
        "brand",
        "is_active",
        "points_per_unit",
        "unit_amount",
        "pending_days",
        "expiry_policy",
        "expiry_days",
    ]
    list_filter = ["is_active", "expiry_policy"]
    list_select_related = ["brand"]
    search_fields = ["name", "brand__name"]
    inlines = [TierInline]
    fieldsets = [
        (None, {"fields": ["brand", "name", "is_active"]}),
        ("Earning", {"fields": ["points_per_unit", "unit_amount", "minimum_order_amount"]}),
        ("Cashback", {"fields": ["cashback_points_per_unit"]}),
        ("Pending and expiry", {"fields": ["pending_days", "expiry_policy", "expiry_days"]}),
        ("Tiers", {"fields": ["tier_basis", "tier_window_months"]}),
    ]

    def has_delete_permission(self, request, obj=None):
        return False  # accounts and their ledger refer to it: deactivate it instead


class TransactionInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = LoyaltyTransaction
    fields = ["created_at", "kind", "points", "order", "reason", "actor", "multiplier"]
    readonly_fields = fields
    ordering = ["-created_at", "-id"]
    show_change_link = True


class AdjustmentInline(ReadOnlyInlineMixin, admin.TabularInline):
    """Manual adjustments of the account, pending ones included."""

    model = LoyaltyAdjustment
    fields = ["created_at", "points", "reason", "status", "requested_by", "decided_by"]
    readonly_fields = fields
    ordering = ["-created_at", "-id"]
    show_change_link = True
    verbose_name_plural = "manual adjustments"


class TierPeriodInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = LoyaltyTierPeriod
    fields = ["tier", "started_at", "ended_at", "reason"]
    readonly_fields = fields


class AdjustmentForm(forms.Form):
    points = forms.IntegerField(
        min_value=-MAX_ADJUSTMENT,
        max_value=MAX_ADJUSTMENT,
        help_text="Positive to credit, negative to debit (the account may go negative).",
    )
    reason = forms.CharField(max_length=255, help_text="Required; kept on the ledger row.")


@admin.register(LoyaltyAccount)
class LoyaltyAccountAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    brand_path = "program__brand"
    list_display = [
        "id",
        "customer",
        "program",
        "available_points",
        "pending_points",
        "lifetime_points",
        "tier",
    ]
    # Choices from the user's accounts only: a plain "tier" filter listed every brand's tiers.
    list_filter = [
        ("program", admin.RelatedOnlyFieldListFilter),
        ("tier", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["customer", "program", "tier"]
    search_fields = ["customer__email", "customer__external_id", "customer__last_name"]
    fields = [
        "customer",
        "program",
        "available_points",
        "pending_points",
        "lifetime_points",
        "tier",
        "created_at",
        "adjust_link",
    ]
    readonly_fields = fields
    inlines = [TierPeriodInline, AdjustmentInline, TransactionInline]

    def has_add_permission(self, request):
        return False  # created on first need by the ledger

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="adjustment")
    def adjust_link(self, obj) -> str:
        url = reverse("admin:loyalty_management_loyaltyaccount_adjust", args=[obj.pk])
        return format_html('<a class="button" href="{}">Adjust points</a>', url)

    def get_urls(self):
        return [
            path(
                "<int:account_id>/adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name="loyalty_management_loyaltyaccount_adjust",
            ),
            *super().get_urls(),
        ]

    def adjust_view(self, request, account_id: int):
        if not request.user.has_perm(ADJUST_PERMISSION):
            raise PermissionDenied
        account = get_object_or_404(self.get_queryset(request), pk=account_id)
        if not self.user_may_change_object(request, account):
            raise Http404
        form = AdjustmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                adjustment = account_adjust(
                    account_id=account.pk,
                    points=form.cleaned_data["points"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except ApplicationError as error:
                form.add_error(None, error.message)
                for field, errors in error.fields.items():
                    for message in errors:
                        form.add_error(field if field in form.fields else None, message)
            else:
                if adjustment.status == LoyaltyAdjustment.Status.PENDING:
                    self.message_user(
                        request,
                        f"The adjustment of {adjustment.points:+d} points is above your limits: "
                        "it waits for a brand admin's approval.",
                        messages.WARNING,
                    )
                else:
                    self.message_user(
                        request, f"Adjusted by {adjustment.points:+d} points.", messages.SUCCESS
                    )
                change_url = reverse(
                    "admin:loyalty_management_loyaltyaccount_change", args=[account.pk]
                )
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": "Adjust points",
            "opts": self.model._meta,
            "account": account,
            "form": form,
            "limit": adjustment_limit_for(request.user),
        }
        return TemplateResponse(
            request, "admin/loyalty_management/loyaltyaccount/adjust.html", context
        )


@admin.register(LoyaltyTransaction)
class LoyaltyTransactionAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    """The ledger: listed and viewed only."""

    brand_path = "account__program__brand"
    list_display = ["id", "created_at", "kind", "points", "account", "order", "reason", "actor"]
    list_filter = ["kind", "created_at", ("account__program", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["account__customer", "account__program", "order", "actor"]
    search_fields = ["=order__id", "account__customer__email", "idempotency_key", "reason"]
    date_hierarchy = "created_at"
    fields = [
        "account",
        "kind",
        "points",
        "order",
        "idempotency_key",
        "reason",
        "actor",
        "multiplier",
        "rule",
        "created_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LoyaltyAdjustment)
class LoyaltyAdjustmentAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    """Manual adjustments: listed and viewed; pending ones approved or rejected by brand admins
    (through `account_adjustment_decide`), never edited."""

    brand_path = "account__program__brand"
    list_display = [
        "id",
        "created_at",
        "account",
        "points",
        "reason",
        "status",
        "requested_by",
        "decided_by",
    ]
    list_filter = ["status", "created_at"]
    list_select_related = ["account__customer", "account__program", "requested_by", "decided_by"]
    search_fields = ["=account__id", "account__customer__email", "reason"]
    fields = [
        "account",
        "points",
        "reason",
        "status",
        "requested_by",
        "created_at",
        "decided_by",
        "decided_at",
        "transaction",
    ]
    readonly_fields = fields
    actions = ["approve", "reject"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_approve_permission(self, request) -> bool:
        return request.user.has_perm(APPROVE_PERMISSION)

    def _decide(self, request, queryset, *, approve: bool) -> None:
        decided = 0
        for adjustment in queryset.filter(status=LoyaltyAdjustment.Status.PENDING):
            try:
                account_adjustment_decide(
                    adjustment_id=adjustment.pk, approve=approve, actor=request.user
                )
            except ApplicationError as error:
                self.message_user(request, f"{adjustment}: {error.message}", messages.ERROR)
            else:
                decided += 1
        verb = "approved" if approve else "rejected"
        self.message_user(request, f"{decided} adjustment(s) {verb}.", messages.SUCCESS)

    @admin.action(description="Approve the selected pending adjustments", permissions=["approve"])
    def approve(self, request, queryset):
        self._decide(request, queryset, approve=True)

    @admin.action(description="Reject the selected pending adjustments", permissions=["approve"])
    def reject(self, request, queryset):
        self._decide(request, queryset, approve=False)


# --- Badges -------------------------------------------------------------------------------------

register_brand_scoped_choices("loyalty_management.tier", "program__brand")
register_brand_scoped_choices("loyalty_management.badgedefinition", "brand")


class BadgeDefinitionForm(forms.ModelForm):
    class Meta:
        model = BadgeDefinition
        fields = [
            "brand",
            "name",
            "description",
            "icon",
            "kind",
            "order_count",
            "store_count",
            "spend_amount",
            "tier",
            "is_active",
        ]
        labels = {
            "order_count": "Paid orders",
            "store_count": "Different stores",
            "spend_amount": "Lifetime spend",
        }

    def clean(self):
        cleaned = super().clean()
        brand, kind = cleaned.get("brand"), cleaned.get("kind")
        if brand is None or not kind:
            return cleaned
        try:
            cleaned.update(badge_definition_check(brand=brand, kind=kind, values=cleaned))
        except ApplicationError as error:
            for field, errors in error.fields.items():
                for message in errors:
                    self.add_error(field if field in self.fields else None, message)
        return cleaned


@admin.register(BadgeDefinition)
class BadgeDefinitionAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    """Badges of the user's brands. Only the threshold of the badge's kind is kept; a badge
    customers hold is deactivated, never deleted."""

    form = BadgeDefinitionForm
    brand_path = "brand"
    list_display = ["name", "brand", "kind", "threshold", "is_active", "holders"]
    list_filter = ["is_active", "kind", ("brand", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["brand", "tier"]
    search_fields = ["name", "description"]
    fieldsets = [
        (None, {"fields": ["brand", "name", "description", "icon", "is_active"]}),
        (
            "How it is earned",
            {
                "fields": ["kind", "order_count", "spend_amount", "store_count", "tier"],
                "description": "Fill in the one threshold the kind needs; a manual badge "
                "needs none (a rule or staff award it).",
            },
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(holder_count=Count("awards"))

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # one by one, so held badges are kept
        return actions

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.awards.exists():
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="threshold")
    def threshold(self, obj) -> str:
        if obj.kind == BadgeDefinition.Kind.ORDER_COUNT:
            return f"{obj.order_count} paid orders"
        if obj.kind == BadgeDefinition.Kind.STORE_COUNT:
            return f"{obj.store_count} different stores"
        if obj.kind == BadgeDefinition.Kind.LIFETIME_SPEND:
            return f"{obj.spend_amount} spent"
        if obj.kind == BadgeDefinition.Kind.TIER:
            return f"Tier {obj.tier}"
        return "Awarded by hand"

    @admin.display(description="customers holding it", ordering="holder_count")
    def holders(self, obj) -> int:
        return obj.holder_count

    def save_model(self, request, obj, form, change):
        badge_definition_save(badge=obj, data={})


class CustomerBadgeAwardForm(forms.ModelForm):
    """Staff award a badge: a customer of the badge's brand, once."""

    class Meta:
        model = CustomerBadge
        fields = ["badge", "customer", "note"]
        help_texts = {"note": "Optional; why the customer gets it."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "badge" in self.fields:
            self.fields["badge"].queryset = self.fields["badge"].queryset.filter(is_active=True)

    def clean(self):
        cleaned = super().clean()
        badge, customer = cleaned.get("badge"), cleaned.get("customer")
        if badge is None or customer is None:
            return cleaned
        if not customer.brand_links.filter(brand_id=badge.brand_id).exists():
            self.add_error("customer", "This customer is not known to the badge's brand.")
        elif CustomerBadge.objects.filter(badge=badge, customer=customer).exists():
            self.add_error("customer", "This customer already has this badge.")
        return cleaned

    def validate_unique(self):
        pass  # checked in clean() with a plain sentence


@admin.register(CustomerBadge)
class CustomerBadgeAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    """Badges customers hold: a read-only list; "Add" is the form staff award a badge with."""

    form = CustomerBadgeAwardForm
    brand_path = "badge__brand"
    list_display = ["awarded_at", "badge", "customer", "source", "order", "awarded_by"]
    list_filter = [
        "source",
        "awarded_at",
        ("badge", admin.RelatedOnlyFieldListFilter),
        ("badge__brand", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["badge", "customer", "order", "awarded_by"]
    search_fields = ["customer__email", "customer__last_name", "badge__name", "=order__id"]
    autocomplete_fields = ["customer"]
    date_hierarchy = "awarded_at"
    readonly = ["badge", "customer", "awarded_at", "source", "order", "rule", "awarded_by", "note"]

    def get_fields(self, request, obj=None):
        return self.readonly if obj is not None else ["badge", "customer", "note"]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly if obj is not None else []

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # a badge is never taken back

    def save_model(self, request, obj, form, change):
        award, _ = badge_award_by_staff(
            badge=obj.badge, customer=obj.customer, actor=request.user, note=obj.note
        )
        obj.pk = award.pk

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(
            request, f"The badge {obj.badge} was awarded; the customer is told.", messages.SUCCESS
        )
        return HttpResponseRedirect(reverse("admin:loyalty_management_customerbadge_changelist"))


# --- Points catalogue and redemptions ----------------------------------------------------------

register_brand_scoped_choices("loyalty_management.redemptioncategory", "brand")


@admin.register(RedemptionCategory)
class RedemptionCategoryAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    brand_path = "brand"
    list_display = ["name", "brand", "position", "is_active"]
    list_filter = ["is_active", ("brand", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name"]
    fields = ["brand", "name", "description", "position", "is_active"]


class RedemptionItemForm(forms.ModelForm):
    image_url = forms.URLField(
        required=False, assume_scheme="https", help_text="Optional picture shown in the catalogue."
    )

    class Meta:
        model = RedemptionItem
        fields = [
            "brand",
            "category",
            "name",
            "description",
            "image_url",
            "points_cost",
            "kind",
            "wallet_amount",
            "discount_amount",
            "discount_percentage",
            "product",
            "code_valid_days",
            "stock",
            "limit_per_customer",
            "limit_per_period",
            "period_days",
            "minimum_tier",
            "valid_from",
            "valid_until",
            "auto_approve",
            "is_active",
        ]

    def clean(self):
        cleaned = super().clean()
        brand, kind = cleaned.get("brand"), cleaned.get("kind")
        category, tier = cleaned.get("category"), cleaned.get("minimum_tier")
        if brand is not None and category is not None and category.brand_id != brand.pk:
            self.add_error("category", "Pick a category of this brand's catalogue.")
        if brand is not None and tier is not None and tier.program.brand_id != brand.pk:
            self.add_error("minimum_tier", "Pick a tier of this brand's loyalty programme.")
        product = cleaned.get("product")
        if brand is not None and product is not None and product.brand_id != brand.pk:
            self.add_error("product", "Pick a product of this brand.")
        own = KIND_FIELDS.get(kind)
        for field in KIND_VALUE_FIELDS:
            if own is None or field != own[0]:
                cleaned[field] = None
                setattr(self.instance, field, None)
        if own is not None and not cleaned.get(own[0]) and own[0] not in self.errors:
            self.add_error(own[0], own[1])
        if kind in CODE_KINDS:
            if not cleaned.get("code_valid_days") and "code_valid_days" not in self.errors:
                self.add_error("code_valid_days", "Give the days the code stays valid.")
        else:
            cleaned["code_valid_days"] = None
            self.instance.code_valid_days = None
        return cleaned


@admin.register(RedemptionItem)
class RedemptionItemAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    """The points catalogue. Stock typed here replaces the count of units left; requests move
    it one at a time."""

    form = RedemptionItemForm
    brand_path = "brand"
    list_display = ["name", "brand", "category", "points_cost", "kind", "stock", "is_active"]
    list_filter = ["is_active", "kind", ("brand", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["brand", "category"]
    search_fields = ["name", "description"]
    autocomplete_fields = ["category", "product"]
    fieldsets = [
        (None, {"fields": ["brand", "category", "name", "description", "image_url"]}),
        (
            "What it costs and gives",
            {
                "fields": [
                    "points_cost",
                    "kind",
                    "wallet_amount",
                    "discount_amount",
                    "discount_percentage",
                    "product",
                    "code_valid_days",
                ],
                "description": "Wallet credit needs the amount; a discount code its amount, a "
                "percentage code its percentage, a free product code its product, and every "
                "code the days it stays valid (the customer gets a single-use code on approval)."
                " A physical item is sent by hand once approved.",
            },
        ),
        (
            "Who may redeem it, and when",
            {
                "fields": [
                    "stock",
                    "limit_per_customer",
                    "limit_per_period",
                    "period_days",
                    "minimum_tier",
                    "valid_from",
                    "valid_until",
                    "auto_approve",
                    "is_active",
                ]
            },
        ),
    ]


class RejectionForm(forms.Form):
    reason = forms.CharField(
        max_length=255, help_text="The customer reads this reason.", widget=forms.TextInput
    )


@admin.register(RedemptionRequest)
class RedemptionRequestAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    """The approval queue: requests are only decided here (approved, or rejected with a reason,
    through the services), never edited."""

    brand_path = "brand"
    list_display = [
        "id",
        "created_at",
        "customer",
        "item",
        "points",
        "status",
        "fulfilment_status",
        "decided_by",
    ]
    list_filter = ["status", "fulfilment_status", ("brand", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["customer", "item", "decided_by"]
    search_fields = ["=id", "customer__email", "item__name"]
    fields = [
        "brand",
        "customer",
        "item",
        "points",
        "status",
        "reason",
        "created_at",
        "decided_by",
        "decided_at",
        "fulfilment_status",
        "fulfilment_note",
        "fulfilled_at",
        "reward",
    ]
    readonly_fields = fields
    actions = ["approve", "reject", "mark_sent"]
    reject_template = "admin/loyalty_management/redemptionrequest/reject.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Deciding (the list actions) needs the change permission; the page itself is read-only.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False

    def _brand_ids(self, request):
        return brand_ids_for_user(request.user)

    @admin.action(description="Approve the selected requests", permissions=["change"])
    def approve(self, request, queryset):
        results = redemptions_decide(
            request_ids=list(queryset.order_by("pk").values_list("pk", flat=True)),
            approve=True,
            reason="",
            actor=request.user,
            brand_ids=self._brand_ids(request),
        )
        self._report(request, results, "approved")

    @admin.action(
        description="Reject the selected requests (asks for a reason)", permissions=["change"]
    )
    def reject(self, request, queryset):
        requests = list(queryset.select_related("item", "customer").order_by("pk"))
        form = RejectionForm(request.POST if "confirmed" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": "Reject redemption requests",
                "opts": self.model._meta,
                "requests": requests,
                "form": form,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, self.reject_template, context)
        results = redemptions_decide(
            request_ids=[r.pk for r in requests],
            approve=False,
            reason=form.cleaned_data["reason"],
            actor=request.user,
            brand_ids=self._brand_ids(request),
        )
        self._report(request, results, "rejected")
        return None

    @admin.action(description="Mark the selected physical items as sent", permissions=["change"])
    def mark_sent(self, request, queryset):
        sent = 0
        for redemption in queryset.order_by("pk"):
            try:
                redemption_fulfil(
                    request_id=redemption.pk,
                    actor=request.user,
                    fulfilment_status=RedemptionRequest.Fulfilment.SENT,
                    note=redemption.fulfilment_note,
                    brand_ids=self._brand_ids(request),
                )
            except ApplicationError as error:
                self.message_user(
                    request, f"Request {redemption.pk}: {error.message}", messages.ERROR
                )
            else:
                sent += 1
        self.message_user(request, f"{sent} request(s) marked as sent.", messages.SUCCESS)

    def _report(self, request, results: list[dict], verb: str) -> None:
        done = [row for row in results if row["code"] is None]
        for row in results:
            if row["code"] is not None:
                self.message_user(request, f"Request {row['id']}: {row['message']}", messages.ERROR)
        self.message_user(request, f"{len(done)} request(s) {verb}.", messages.SUCCESS)
