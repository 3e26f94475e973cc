from rest_framework.routers import SimpleRouter

from rules.api.views import RuleFiringViewSet, RuleTriggerViewSet, RuleViewSet

router = SimpleRouter()
router.register("rule-triggers", RuleTriggerViewSet, basename="rule-trigger")
router.register("rule-firings", RuleFiringViewSet, basename="rule-firing")
router.register("rules", RuleViewSet, basename="rule")

urlpatterns = router.urls
