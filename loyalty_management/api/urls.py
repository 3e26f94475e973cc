from django.urls import path

from loyalty_management.api.views import (
    BadgeDefinitionDetailView,
    BadgeDefinitionListView,
    LoyaltyAccountListView,
    LoyaltyAdjustmentApproveView,
    LoyaltyAdjustmentCreateView,
    LoyaltyAdjustmentListView,
    LoyaltyAdjustmentRejectView,
    MyLoyaltyTransactionListView,
    MyLoyaltyView,
)

urlpatterns = [
    path("loyalty/me/", MyLoyaltyView.as_view(), name="loyalty-me"),
    path(
        "loyalty/me/transactions/",
        MyLoyaltyTransactionListView.as_view(),
        name="loyalty-me-transactions",
    ),
    path("loyalty/accounts/", LoyaltyAccountListView.as_view(), name="loyalty-accounts"),
    path("loyalty/badges/", BadgeDefinitionListView.as_view(), name="loyalty-badges"),
    path(
        "loyalty/badges/<int:badge_id>/",
        BadgeDefinitionDetailView.as_view(),
        name="loyalty-badge",
    ),
    path(
        "loyalty/accounts/<int:account_id>/adjustments/",
        LoyaltyAdjustmentCreateView.as_view(),
        name="loyalty-account-adjustments",
    ),
    path("loyalty/adjustments/", LoyaltyAdjustmentListView.as_view(), name="loyalty-adjustments"),
    path(
        "loyalty/adjustments/<int:adjustment_id>/approve/",
        LoyaltyAdjustmentApproveView.as_view(),
        name="loyalty-adjustment-approve",
    ),
    path(
        "loyalty/adjustments/<int:adjustment_id>/reject/",
        LoyaltyAdjustmentRejectView.as_view(),
        name="loyalty-adjustment-reject",
    ),
]
