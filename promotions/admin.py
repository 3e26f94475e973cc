"""Promotions in the admin: validated forms, status actions, versions. Scoped to staff brands."""

import json

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from brands.admin import (
    BrandListFilter,
    BrandScopedAdminMixin,
    ScopedListFilter,
    StoreListFilter,
)
from brands.models import Brand, PosDevice, Store
from brands.selectors import scope_to_user_brands
from core.admin import ReadOnlyAdminMixin
from core.errors import ApplicationError
from labels.models import Label
from orders.models import Order
from promotions.models import PosLog, PosTicket, Promotion, PromotionUsage, PromotionVersion
from promotions.selectors import promotion_usage_counts
from promotions.services.lifecycle import (
    LIVE_STATUSES,
    promotion_delete,
    promotion_record_version,
    promotion_set_status,
)
from promotions.services.validator import RELATIONS, STRUCTURAL_CODES, promotion_validate

T = Promotion.Type

# Example parameters per type, shown next to the params field.
PARAM_EXAMPLES: dict[str, dict] = {
    T.PERCENT_DISCOUNT: {"percent": "12.5"},
    T.AMOUNT_DISCOUNT: {"amount": "1.00", "mode": "per_unit or per_order"},
    T.BOGO: {"buy_quantity": 2, "get_quantity": 1, "percent": "100", "get_scope": None},
    T.COMBO: {
        "price": "9.90",
        "groups": [
            {"name": "Main", "categories": [1], "quantity": 1},
            {"name": "Drink", "products": [7, 8], "quantity": 1},
        ],
    },
    T.FREE_ITEM: {"gift_product": 12, "gift_quantity": 1, "trigger_quantity": 2},
    T.HAPPY_HOUR: {"percent": "20"},
    T.CASHBACK: {"percent": "5", "cap": "10.00"},
    T.PAYMENT_DISCOUNT: {"payment_methods": ["card_x"], "percent": "5"},
    T.PACKAGE: {"price": "20.00", "items": [{"product": 1, "quantity": 1}, {"product": 3}]},
    T.MIX_MATCH: {"quantity": 3, "price": "10.00"},
    T.UPSELL: {"trigger_quantity": 1, "target_product": 9, "target_quantity": 1, "price": "1.00"},
    T.THRESHOLD: {
        "tiers": [
            {"min_subtotal": "50.00", "amount": "5.00"},
            {"min_subtotal": "100.00", "amount": "15.00"},
        ]
    },
    T.CROSS_BRAND: {
        "brands": [1, 2],
        "period_start": "2026-01-01",
        "period_end": "2026-03-31",
        "spend_per_brand": "50.00",
        "min_brands": 2,
        "reward": {"type": "points", "value": 500},
    },
}


def _params_help() -> str:
    rows = format_html_join(
        "",
        "<li><b>{}</b>: <code>{}</code></li>",
        ((label, json.dumps(PARAM_EXAMPLES[value])) for value, label in T.choices),
    )
    return format_html(
        "Type-specific parameters. Money and percentages as decimal strings, products and "
        "categories by id. Examples:<ul>{}</ul>",
        rows,
    )


class PromotionForm(forms.ModelForm):
    """Runs the validator on the form's data, relations included, and puts each issue on its
    field. A draft is saved with issues (they are listed as warnings after saving); a live
    promotion is not, and rows of another brand never are."""

    class Meta:
        model = Promotion
        exclude: list[str] = []
        widgets = {"params": forms.Textarea(attrs={"rows": 8, "cols": 80})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "params" in self.fields:
            self.fields["params"].help_text = _params_help()

    def clean(self):
        cleaned = super().clean()
        if self.errors or cleaned.get("brand") is None:
            return cleaned
        candidate = self.instance
        concrete = {field.name for field in Promotion._meta.concrete_fields}
        for name, value in cleaned.items():
            if name in concrete:
                setattr(candidate, name, value)
        relations = {
            name: [row.pk for row in cleaned.get(name) or ()]
            for name in RELATIONS
            if name in self.fields
        }
        status = cleaned.get("status", candidate.status)
        issues = promotion_validate(promotion=candidate, relations=relations)
        self.draft_issues = []
        for issue in issues:
            if status not in LIVE_STATUSES and issue.code not in STRUCTURAL_CODES:
                self.draft_issues.append(issue)
                continue
            field = issue.field.split(".")[0]
            message = f"{issue.message} ({issue.code}" + (
                f", {issue.field})" if field != issue.field else ")"
            )
            self.add_error(field if field in self.fields else None, message)
        return cleaned


def _preview_config(request, obj: Promotion | None) -> dict:
    """What the preview panel of the change form needs besides the form itself: the user's
    brands (slug for the API, currency, time zones, stores) and the sample customer's choices."""
    user = request.user
    brands = scope_to_user_brands(Brand.objects.order_by("name"), user, "pk")
    stores = scope_to_user_brands(Store.objects.order_by("name"), user, "brand")
    labels = scope_to_user_brands(
        Label.objects.filter(type=Label.Type.CUSTOMER).order_by("name"),
        user,
        "brand",
        include_global=True,
    )
    brand_stores: dict[int, list[dict]] = {}
    for store in stores:
        brand_stores.setdefault(store.brand_id, []).append(
            {"code": store.code, "name": store.name, "time_zone": store.time_zone}
        )
    return {
        "preview_url": reverse("promotion-preview"),
        "products_url": reverse("product-list"),
        "promotion_id": obj.pk if obj is not None else None,
        "brand_id": obj.brand_id if obj is not None else None,
        "status": obj.status if obj is not None else None,
        "brands": [
            {
                "id": brand.pk,
                "slug": brand.slug,
                "name": brand.name,
                "currency": brand.currency,
                "time_zone": brand.time_zone,
                "stores": brand_stores.get(brand.pk, []),
            }
            for brand in brands
        ],
        "channels": [{"value": value, "label": label} for value, label in Order.Channel.choices],
        "customer_labels": [
            {"id": label.pk, "name": label.name, "brand_id": label.brand_id} for label in labels
        ],
    }


class PromotionVersionInline(admin.TabularInline):
    model = PromotionVersion
    extra = 0
    can_delete = False
    fields = ["version", "compiled_hash", "created_at", "created_by"]
    readonly_fields = fields
    ordering = ["-version"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Promotion)
class PromotionAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    form = PromotionForm
    brand_path = "brand"
    list_display = [
        "name",
        "brand",
        "type",
        "status",
        "priority",
        "stacking",
        "starts_at",
        "ends_at",
        "version",
    ]
    list_filter = ["status", "type", "stacking", BrandListFilter]
    list_select_related = ["brand"]
    search_fields = ["name", "code", "description"]
    ordering = ["-priority", "id"]
    readonly_fields = ["version", "compiled_hash", "compiled_view", "usage_view"]
    filter_horizontal = RELATIONS
    inlines = [PromotionVersionInline]
    actions = ["activate", "pause", "end"]
    fieldsets = [
        (None, {"fields": ["brand", "name", "description", "type", "status", "priority"]}),
        ("Stacking", {"fields": ["stacking", "target", "cashback_to"]}),
        ("When", {"fields": ["starts_at", "ends_at", "days_of_week", "time_windows"]}),
        (
            "Where and who",
            {
                "fields": [
                    "stores",
                    "channels",
                    "customer_labels",
                    "excluded_customer_labels",
                    "customer_tiers",
                    "new_customers_only",
                    "signed_in_only",
                    "code",
                ]
            },
        ),
        (
            "Limits",
            {
                "fields": [
                    "max_applications_per_order",
                    "max_uses_total",
                    "max_uses_per_customer",
                    "budget",
                    "max_discount_per_order",
                    "min_eligible_subtotal",
                    "usage_view",
                ]
            },
        ),
        (
            "Scope",
            {
                "fields": [
                    "all_products",
                    "products",
                    "categories",
                    "product_labels",
                    "excluded_products",
                    "excluded_categories",
                    "excluded_product_labels",
                ]
            },
        ),
        ("Parameters", {"fields": ["params"]}),
        (
            "Compiled",
            {
                "classes": ["collapse"],
                "fields": [
                    "version",
                    "compiled_hash",
                    "compiled_view",
                ],
            },
        ),
    ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # The preview panel (promotions/templates/admin/promotions/promotion/change_form.html).
        context["promotion_preview"] = _preview_config(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        # Only drafts; a promotion that went live is ended, so orders keep their history.
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or obj.status == Promotion.Status.DRAFT)

    def delete_model(self, request, obj):
        promotion_delete(promotion_id=obj.pk)

    def delete_queryset(self, request, queryset):
        for promotion in queryset:
            try:
                promotion_delete(promotion_id=promotion.pk)
            except ApplicationError as error:
                messages.error(request, f"{promotion.name}: {error.message}")

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            # Status moves through the actions, which check the allowed transitions.
            fields += ["status", "brand"]
        return fields

    @admin.display(description="Used")
    def usage_view(self, obj: Promotion) -> str:
        if obj.pk is None:
            return "Not used yet."
        uses, given = promotion_usage_counts(promotion_id=obj.pk)
        of_uses = "" if obj.max_uses_total is None else f" of {obj.max_uses_total}"
        of_budget = "" if obj.budget is None else f" of a {obj.budget} budget"
        ledger = reverse("admin:promotions_promotionusage_changelist")
        return format_html(
            '{} uses{}, {} given{} (<a href="{}?promotion__id__exact={}">usage ledger</a>)',
            uses,
            of_uses,
            given,
            of_budget,
            ledger,
            obj.pk,
        )

    @admin.display(description="Compiled form")
    def compiled_view(self, obj: Promotion) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.compiled, indent=2, sort_keys=True))

    def save_model(self, request, obj, form, change):
        obj.code = obj.code.strip().upper()
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        with transaction.atomic():
            super().save_related(request, form, formsets, change)
            promotion_record_version(promotion=form.instance, actor=request.user)
        for issue in getattr(form, "draft_issues", ()):
            messages.warning(request, f"Before activating: {issue.field}: {issue.message}")

    def _move(self, request, queryset, status: str) -> None:
        moved = 0
        for promotion in queryset:
            try:
                promotion_set_status(promotion_id=promotion.pk, status=status, actor=request.user)
                moved += 1
            except ApplicationError as error:
                details = "; ".join(
                    f"{field}: {', '.join(errors)}" for field, errors in error.fields.items()
                )
                messages.error(request, f"{promotion.name}: {error.message} {details}".strip())
        if moved:
            messages.success(request, f"{moved} promotion(s) now {status}.")

    @admin.action(description="Activate the selected promotions", permissions=["change"])
    def activate(self, request, queryset):
        self._move(request, queryset, Promotion.Status.ACTIVE)

    @admin.action(description="Pause the selected promotions", permissions=["change"])
    def pause(self, request, queryset):
        self._move(request, queryset, Promotion.Status.PAUSED)

    @admin.action(description="End the selected promotions", permissions=["change"])
    def end(self, request, queryset):
        self._move(request, queryset, Promotion.Status.ENDED)


# --- What POS devices upload: tickets and logs, read only -----------------------------------


class PosDeviceListFilter(ScopedListFilter):
    """Filter by one of the user's POS devices."""

    title = "device"
    parameter_name = "device"

    def lookups(self, request, model_admin):
        devices = scope_to_user_brands(
            PosDevice.objects.select_related("store__brand"), request.user, "store__brand"
        )
        return [(str(device.pk), str(device)) for device in devices]

    def filter(self, request, queryset, value: str):
        return queryset.filter(device=value)


def _json_block(value) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True))


@admin.register(PosTicket)
class PosTicketAdmin(ReadOnlyAdminMixin, BrandScopedAdminMixin, admin.ModelAdmin):
    """Tickets priced offline; a mismatch shows the device's and the server's results."""

    brand_path = "store__brand"
    list_display = [
        "ticket_id",
        "status",
        "overrun",
        "voucher_conflict",
        "total",
        "currency",
        "device",
        "store",
        "local_time",
        "received_at",
    ]
    list_filter = [
        "status",
        "overrun",
        "voucher_conflict",
        "unverifiable_reason",
        PosDeviceListFilter,
        StoreListFilter,
        BrandListFilter,
        "received_at",
    ]
    list_select_related = ["device__store__brand", "store__brand"]
    search_fields = ["=ticket_id", "bundle_hash"]
    date_hierarchy = "received_at"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "ticket_id",
                    "device",
                    "store",
                    "customer",
                    "local_time",
                    "received_at",
                    "status",
                    "unverifiable_reason",
                    "overrun",
                    "overrun_promotion_ids",
                    "voucher_conflict",
                    "voucher_conflict_codes",
                    "engine_version",
                    "bundle_hash",
                    "payload_hash",
                    ("subtotal", "discount_total", "total", "currency"),
                ]
            },
        ),
        ("Difference (device against server)", {"fields": ["diff_view"]}),
        ("Results", {"fields": ["device_result_view", "server_result_view"]}),
        ("Inputs", {"classes": ["collapse"], "fields": ["basket_view", "context_view"]}),
    ]
    readonly_fields = [
        "diff_view",
        "device_result_view",
        "server_result_view",
        "basket_view",
        "context_view",
    ]

    @admin.display(description="Difference")
    def diff_view(self, obj: PosTicket) -> str:
        if not obj.diff:
            return "None."
        return format_html(
            "<table><tr><th>path</th><th>device</th><th>server</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        entry["path"],
                        json.dumps(entry["device"]) if "device" in entry else "(missing)",
                        json.dumps(entry["server"]) if "server" in entry else "(missing)",
                    )
                    for entry in obj.diff
                ),
            ),
        )

    @admin.display(description="Device result")
    def device_result_view(self, obj: PosTicket) -> str:
        return _json_block(obj.device_result)

    @admin.display(description="Server result")
    def server_result_view(self, obj: PosTicket) -> str:
        if obj.server_result is None:
            return "Not computed (unverifiable)."
        return _json_block(obj.server_result)

    @admin.display(description="Basket")
    def basket_view(self, obj: PosTicket) -> str:
        return _json_block(obj.basket)

    @admin.display(description="Context")
    def context_view(self, obj: PosTicket) -> str:
        return _json_block(obj.context)


@admin.register(PosLog)
class PosLogAdmin(ReadOnlyAdminMixin, BrandScopedAdminMixin, admin.ModelAdmin):
    """Device log lines, kept `POS_LOG_RETENTION_DAYS` days; search the message."""

    brand_path = "store__brand"
    list_display = ["logged_at", "level", "short_message", "device", "store", "received_at"]
    list_filter = ["level", PosDeviceListFilter, StoreListFilter, BrandListFilter, "logged_at"]
    list_select_related = ["device__store__brand", "store__brand"]
    search_fields = ["message"]
    date_hierarchy = "logged_at"
    fields = ["device", "store", "level", "logged_at", "received_at", "message", "context_view"]
    readonly_fields = fields

    @admin.display(description="message")
    def short_message(self, obj: PosLog) -> str:
        return obj.message if len(obj.message) <= 120 else obj.message[:119] + "…"

    @admin.display(description="Context")
    def context_view(self, obj: PosLog) -> str:
        return _json_block(obj.context)


@admin.register(PromotionUsage)
class PromotionUsageAdmin(ReadOnlyAdminMixin, BrandScopedAdminMixin, admin.ModelAdmin):
    """The usage ledger: reservations, commits and releases of online orders, offline POS
    uses (an overrun took a promotion past a limit). Append-only: never changed here."""

    brand_path = "promotion__brand"
    list_display = [
        "created_at",
        "kind",
        "promotion",
        "uses",
        "amount",
        "source",
        "order",
        "customer",
        "overrun",
    ]
    list_filter = ["kind", "overrun", BrandListFilter, "created_at"]
    list_select_related = ["promotion", "customer", "order"]
    search_fields = ["=source", "promotion__name"]
    date_hierarchy = "created_at"
    fields = [
        "promotion",
        "kind",
        "uses",
        "amount",
        "source",
        "order",
        "customer",
        "overrun",
        "created_at",
    ]
    readonly_fields = fields
    show_full_result_count = False
