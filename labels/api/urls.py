from rest_framework.routers import SimpleRouter

from labels.api.views import LabelViewSet

router = SimpleRouter()
router.register("labels", LabelViewSet, basename="label")

urlpatterns = router.urls
