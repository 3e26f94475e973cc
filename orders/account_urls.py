"""The storefront account page (server-rendered, works without JavaScript)."""

from django.urls import path

from orders import account_views

app_name = "account"

urlpatterns = [
    path("", account_views.account_page, name="account"),
    path("redeem/", account_views.account_redeem, name="redeem"),
    path(
        "redemptions/<int:redemption_id>/cancel/",
        account_views.account_redemption_cancel,
        name="redemption-cancel",
    ),
]
