"""Reads for wallets: a customer's wallets and ledger, staff scoping."""

from decimal import Decimal

from django.db.models import QuerySet, Sum

from brands.selectors import scope_to_user_brands
from customers.models import Customer
from wallets.models import Wallet, WalletClawback, WalletTransaction


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


def wallet_credits_for_order(*, order_id: int, key_prefix: str) -> list[WalletTransaction]:
    """The credits written for an order under keys starting with `key_prefix`, oldest first."""
    return list(
        WalletTransaction.objects.filter(
            order_id=order_id,
            kind=WalletTransaction.Kind.CREDIT,
            idempotency_key__startswith=key_prefix,
        ).order_by("id")
    )


def wallet_clawed_back_total(*, order_id: int, cause: str) -> Decimal:
    """What the claw-back steps of an order asked back in all (taken or not recovered)."""
    total = WalletClawback.objects.filter(order_id=order_id, cause=cause).aggregate(s=Sum("owed"))
    return total["s"] or Decimal("0.00")
