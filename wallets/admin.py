"""Admin for wallets: each wallet with its ledger (read-only) and an "Adjust wallet" form; the
ledger itself, read-only and filterable.

Nobody adds, changes or deletes a ledger row here: an adjustment goes through `wallet_adjust`,
which writes a new row with its reason and author.
"""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from brands.admin import BrandScopedAdminMixin
from brands.roles import wallet_adjustment_limit_for
from core.admin import ReadOnlyInlineMixin
from core.errors import ApplicationError
from wallets.models import Wallet, WalletClawback, WalletTransaction
from wallets.services import MAX_AMOUNT, wallet_adjust

ADJUST_PERMISSION = "wallets.add_wallettransaction"


class WalletTransactionInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = WalletTransaction
    fields = ["created_at", "kind", "amount", "balance_after", "order", "reason", "actor"]
    readonly_fields = fields
    ordering = ["-created_at", "-id"]


class WalletClawbackInline(ReadOnlyInlineMixin, admin.TabularInline):
    """Credit taken back (the cashback of refunded orders): what was owed, what the wallet
    held, and what the customer had already spent (not recovered)."""

    model = WalletClawback
    fields = ["created_at", "order", "cause", "owed", "taken", "not_recovered", "reason"]
    readonly_fields = fields
    ordering = ["-created_at", "-id"]
    verbose_name = "credit taken back"
    verbose_name_plural = "credit taken back"


class WalletAdjustmentForm(forms.Form):
    DIRECTIONS = [("credit", "Credit (add to the wallet)"), ("debit", "Debit (take from it)")]

    direction = forms.ChoiceField(choices=DIRECTIONS, widget=forms.RadioSelect, initial="credit")
    amount = forms.DecimalField(
        min_value=Decimal("0.01"),
        max_value=MAX_AMOUNT,
        max_digits=14,
        decimal_places=2,
        help_text="In the wallet's currency. A debit never takes the wallet below zero.",
    )
    reason = forms.CharField(max_length=255, help_text="Required; kept on the ledger row.")

    def signed_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        return -amount if self.cleaned_data["direction"] == "debit" else amount


@admin.register(Wallet)
class WalletAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    list_display = ["id", "customer", "brand", "balance", "currency", "updated_at"]
    list_filter = [("brand", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["customer", "brand"]
    search_fields = ["customer__email", "customer__external_id", "customer__last_name"]
    fields = ["customer", "brand", "currency", "balance", "created_at", "updated_at", "adjust_link"]
    readonly_fields = fields
    inlines = [WalletTransactionInline, WalletClawbackInline]

    def has_add_permission(self, request):
        return False  # opened on first credit by the wallet services

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="adjustment")
    def adjust_link(self, obj) -> str:
        url = reverse("admin:wallets_wallet_adjust", args=[obj.pk])
        return format_html('<a class="button" href="{}">Adjust wallet</a>', url)

    def get_urls(self):
        return [
            path(
                "<int:wallet_id>/adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name="wallets_wallet_adjust",
            ),
            *super().get_urls(),
        ]

    def adjust_view(self, request, wallet_id: int):
        if not request.user.has_perm(ADJUST_PERMISSION):
            raise PermissionDenied
        wallet = get_object_or_404(self.get_queryset(request), pk=wallet_id)
        if not self.user_may_change_object(request, wallet):
            raise Http404
        form = WalletAdjustmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                write = wallet_adjust(
                    wallet_id=wallet.pk,
                    amount=form.signed_amount(),
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except ApplicationError as error:
                form.add_error(None, error.message)
            else:
                row = write.transaction
                self.message_user(
                    request,
                    f"Wallet adjusted by {row.amount:+} {wallet.currency}; "
                    f"the balance is now {row.balance_after} {wallet.currency}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:wallets_wallet_change", args=[wallet.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Adjust wallet",
            "opts": self.model._meta,
            "wallet": wallet,
            "form": form,
            "limit": wallet_adjustment_limit_for(request.user),
        }
        return TemplateResponse(request, "admin/wallets/wallet/adjust.html", context)


@admin.register(WalletTransaction)
class WalletTransactionAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    """The ledger: listed and viewed only."""

    brand_path = "wallet__brand"
    list_display = ["id", "created_at", "kind", "amount", "balance_after", "wallet", "order"]
    list_filter = ["kind", "created_at", ("wallet__brand", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["wallet", "order"]
    search_fields = ["=order__id", "wallet__customer__email", "idempotency_key", "reason"]
    date_hierarchy = "created_at"
    fields = [
        "wallet",
        "kind",
        "amount",
        "balance_after",
        "order",
        "reason",
        "actor",
        "idempotency_key",
        "created_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
