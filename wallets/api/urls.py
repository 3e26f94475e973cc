from django.urls import path

from wallets.api.views import (
    MyWalletListView,
    MyWalletTransactionListView,
    WalletAdjustmentCreateView,
    WalletListView,
)

urlpatterns = [
    path("wallet/me/", MyWalletListView.as_view(), name="wallet-me"),
    path(
        "wallet/me/transactions/",
        MyWalletTransactionListView.as_view(),
        name="wallet-me-transactions",
    ),
    path("wallets/", WalletListView.as_view(), name="wallets"),
    path(
        "wallets/<int:wallet_id>/adjustments/",
        WalletAdjustmentCreateView.as_view(),
        name="wallet-adjustments",
    ),
]
