"""The storefront basket page (server-rendered, works without JavaScript)."""

from django.contrib.auth.views import LogoutView
from django.urls import path, reverse_lazy

from orders import views

app_name = "basket"

urlpatterns = [
    path("", views.basket_page, name="basket"),
    path("add/", views.basket_add, name="add"),
    path("lines/<int:product_id>/", views.basket_line_update, name="line-update"),
    path("lines/<int:product_id>/remove/", views.basket_line_remove, name="line-remove"),
    path("codes/", views.basket_code_add, name="code-add"),
    path("codes/remove/", views.basket_code_remove, name="code-remove"),
    path("context/", views.basket_context, name="context"),
    path("payment-method/", views.basket_payment_method, name="payment-method"),
    path("place/", views.basket_place, name="place"),
    path("orders/<int:order_id>/", views.order_confirmation, name="confirmation"),
    path("login/", views.BasketLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(next_page=reverse_lazy("basket:basket")), name="logout"),
]
