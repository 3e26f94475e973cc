from django.urls import path
from rest_framework.routers import SimpleRouter

from orders.api.views import OrderViewSet, QuoteView

router = SimpleRouter()
router.register("orders", OrderViewSet, basename="order")

urlpatterns = [
    path("pricing/quote/", QuoteView.as_view(), name="pricing-quote"),
    *router.urls,
]
