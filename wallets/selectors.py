"""Reads for wallets: a customer's wallets and ledger, staff scoping."""

from django.db.models import QuerySet

from brands.selectors import scope_to_user_brands
from customers.models import Customer
from wallets.models import Wallet, WalletTransaction


def wallets_for_customer(*, customer: Customer, brand_id: int | None = None) -> QuerySet[Wallet]:
    queryset = Wallet.objects.filter(customer=customer).select_related("brand")
    if brand_id is not None:
        queryset = queryset.filter(brand_id=brand_id)
    return queryset.order_by("brand__name", "id")


def wallet_for_customer(*, customer: Customer, brand_id: int) -> Wallet | None:
    """The customer's wallet at the brand, if they have one with money in it."""
    return Wallet.objects.filter(customer=customer, brand_id=brand_id, balance__gt=0).first()


def transactions_for_customer(
    *, customer: Customer, brand_id: int | None = None
) -> QuerySet[WalletTransaction]:
    queryset = WalletTransaction.objects.filter(wallet__customer=customer).select_related(
        "wallet__brand"
    )
    if brand_id is not None:
        queryset = queryset.filter(wallet__brand_id=brand_id)
    return queryset.order_by("-created_at", "-id")


def wallets_for_staff(*, user) -> QuerySet[Wallet]:
    queryset = Wallet.objects.select_related("customer", "brand")
    return scope_to_user_brands(queryset, user, "brand").order_by("-id")
