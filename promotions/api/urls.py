from django.urls import path
from rest_framework.routers import SimpleRouter

from promotions.api.views import PromotionPreviewView, PromotionValidateView, PromotionViewSet

router = SimpleRouter()
router.register("promotions", PromotionViewSet, basename="promotion")

urlpatterns = [
    path("promotions/validate/", PromotionValidateView.as_view(), name="promotion-validate"),
    path("promotions/preview/", PromotionPreviewView.as_view(), name="promotion-preview"),
    *router.urls,
]
