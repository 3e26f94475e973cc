"""Admin for orders. Orders are placed by `orders.services.placement` (API, POS); here staff
read them and move their payment status with actions that call
`orders.services.payment.order_set_payment_status`, the only way that status changes."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm

from brands.admin import BrandListFilter, BrandScopedAdminMixin, StoreListFilter
from core.errors import ApplicationError
from loyalty_management.selectors import order_cashback_points
from orders.models import Order, OrderLine, PaymentStatusChange
from orders.services.payment import order_set_payment_status

PS = Order.PaymentStatus


class OrderActionForm(ActionForm):
    refund_amount = forms.DecimalField(
        required=False,
        min_value=0,
        max_digits=14,
        decimal_places=2,
        label="Refund amount",
        help_text="For a partial refund; empty refunds what remains.",
    )


class OrderLineInline(admin.TabularInline):
    """The lines as they were priced when the order was placed; never edited here."""

    model = OrderLine
    fields = ["sku", "name", "product", "quantity", "unit_price", "line_discount", "line_total"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")

    @admin.display(description="total")
    def line_total(self, obj):
        return obj.total

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PaymentStatusChangeInline(admin.TabularInline):
    """The audit of payment status changes."""

    model = PaymentStatusChange
    fields = ["created_at", "from_status", "to_status", "amount", "actor", "device", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "payment status change"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor", "device__store__brand")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    brand_path = "brand"
    list_display = [
        "__str__",
        "created_at",
        "brand",
        "store",
        "channel",
        "customer",
        "status",
        "payment_status",
        "total",
        "currency",
    ]
    list_filter = [
        "payment_status",
        "status",
        "channel",
        BrandListFilter,
        StoreListFilter,
        "created_at",
    ]
    search_fields = ["=id", "idempotency_key", "customer__email", "customer__last_name"]
    list_select_related = ["brand", "store__brand", "customer"]
    date_hierarchy = "created_at"
    fieldsets = [
        (None, {"fields": ["brand", "store", "channel", "customer", "status", "created_at"]}),
        (
            "Payment",
            {
                "fields": [
                    "payment_status",
                    "payment_method",
                    "paid_at",
                    "wallet_amount",
                    "amount_due",
                    "refunded_amount",
                ]
            },
        ),
        ("Totals", {"fields": ["currency", "subtotal", "discount_total", "total"]}),
        ("Cashback", {"fields": ["cashback_total", "cashback_points"]}),
        ("Idempotency", {"fields": ["idempotency_key"], "classes": ["collapse"]}),
    ]
    readonly_fields = [
        "brand",
        "store",
        "channel",
        "customer",
        "status",
        "created_at",
        "payment_status",
        "payment_method",
        "paid_at",
        "wallet_amount",
        "amount_due",
        "refunded_amount",
        "currency",
        "subtotal",
        "discount_total",
        "total",
        "cashback_total",
        "cashback_points",
        "idempotency_key",
    ]
    inlines = [OrderLineInline, PaymentStatusChangeInline]
    action_form = OrderActionForm
    actions = ["mark_paid", "mark_failed", "mark_cancelled", "refund"]

    @admin.display(description="cashback points")
    def cashback_points(self, obj):
        points = order_cashback_points(order_id=obj.pk)
        if not points.credited:
            return "None credited yet." if obj.cashback_total > 0 else "None."
        if points.reversed:
            return f"{points.credited} points credited, {points.reversed} taken back by refunds."
        return f"{points.credited} points credited."

    def has_add_permission(self, request):
        # Orders are placed through the order service (storefront, POS); not typed in here.
        return False

    def has_delete_permission(self, request, obj=None):
        # An order is cancelled, not deleted; only superusers clean up.
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def _set_payment_status(self, request, queryset, to_status: str, **kwargs) -> None:
        changed = 0
        for order_id in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                order_set_payment_status(
                    order_id=order_id,
                    to_status=to_status,
                    actor=request.user,
                    note="admin",
                    **kwargs,
                )
            except ApplicationError as error:
                self.message_user(request, f"Order {order_id}: {error.message}", messages.ERROR)
            else:
                changed += 1
        if changed:
            label = PS(to_status).label.lower()
            self.message_user(request, f"{changed} order(s) {label}.", messages.SUCCESS)

    @admin.action(description="Mark selected orders as paid", permissions=["change"])
    def mark_paid(self, request, queryset):
        self._set_payment_status(request, queryset, PS.PAID)

    @admin.action(description="Mark selected orders as payment failed", permissions=["change"])
    def mark_failed(self, request, queryset):
        self._set_payment_status(request, queryset, PS.FAILED)

    @admin.action(description="Cancel selected orders", permissions=["change"])
    def mark_cancelled(self, request, queryset):
        self._set_payment_status(request, queryset, PS.CANCELLED)

    @admin.action(
        description="Refund selected orders (the amount below, or in full)",
        permissions=["change"],
    )
    def refund(self, request, queryset):
        form = self.action_form(request.POST)
        form.fields["action"].choices = self.get_action_choices(request)
        if not form.is_valid():
            self.message_user(request, "Enter a valid refund amount.", messages.ERROR)
            return
        amount = form.cleaned_data.get("refund_amount")
        if amount is None:
            self._set_payment_status(request, queryset, PS.REFUNDED)
        else:
            self._set_payment_status(request, queryset, PS.PARTIALLY_REFUNDED, refund_amount=amount)


@admin.register(PaymentStatusChange)
class PaymentStatusChangeAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    """The payment audit trail, read-only."""

    brand_path = "order__brand"
    list_display = ["created_at", "order", "from_status", "to_status", "amount", "actor", "note"]
    list_filter = ["to_status", "from_status", "created_at"]
    search_fields = ["=order__id", "note", "actor__username"]
    list_select_related = ["order", "actor"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
