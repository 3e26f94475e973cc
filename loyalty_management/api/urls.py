from django.urls import path

from loyalty_management.api.views import (
    BadgeDefinitionDetailView,
    BadgeDefinitionListView,
    LoyaltyAccountListView,
    LoyaltyAdjustmentApproveView,
    LoyaltyAdjustmentCreateView,
    LoyaltyAdjustmentListView,
    LoyaltyAdjustmentRejectView,
    MyCatalogueView,
    MyLoyaltyTransactionListView,
    MyLoyaltyView,
    MyRedemptionCancelView,
    MyRedemptionListView,
    RedemptionApproveView,
    RedemptionBulkDecideView,
    RedemptionCategoryListView,
    RedemptionFulfilView,
    RedemptionItemDetailView,
    RedemptionItemListView,
    RedemptionListView,
    RedemptionRejectView,
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
    path("loyalty/me/catalogue/", MyCatalogueView.as_view(), name="loyalty-me-catalogue"),
    path("loyalty/me/redemptions/", MyRedemptionListView.as_view(), name="loyalty-me-redemptions"),
    path(
        "loyalty/me/redemptions/<int:redemption_id>/cancel/",
        MyRedemptionCancelView.as_view(),
        name="loyalty-me-redemption-cancel",
    ),
    path("loyalty/redemptions/", RedemptionListView.as_view(), name="loyalty-redemptions"),
    path(
        "loyalty/redemptions/decide/",
        RedemptionBulkDecideView.as_view(),
        name="loyalty-redemptions-decide",
    ),
    path(
        "loyalty/redemptions/<int:redemption_id>/approve/",
        RedemptionApproveView.as_view(),
        name="loyalty-redemption-approve",
    ),
    path(
        "loyalty/redemptions/<int:redemption_id>/reject/",
        RedemptionRejectView.as_view(),
        name="loyalty-redemption-reject",
    ),
    path(
        "loyalty/redemptions/<int:redemption_id>/fulfil/",
        RedemptionFulfilView.as_view(),
        name="loyalty-redemption-fulfil",
    ),
    path(
        "loyalty/redemption-categories/",
        RedemptionCategoryListView.as_view(),
        name="loyalty-redemption-categories",
    ),
    path(
        "loyalty/redemption-items/",
        RedemptionItemListView.as_view(),
        name="loyalty-redemption-items",
    ),
    path(
        "loyalty/redemption-items/<int:item_id>/",
        RedemptionItemDetailView.as_view(),
        name="loyalty-redemption-item",
    ),
]
