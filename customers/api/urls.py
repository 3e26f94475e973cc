from django.urls import path
from rest_framework.routers import SimpleRouter

from customers.api.views import CustomerViewSet, MeView

router = SimpleRouter()
router.register("customers", CustomerViewSet, basename="customer")

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    *router.urls,
]
