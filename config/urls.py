from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from core.views import healthz

api_v1 = [
    path("", include("customers.api.urls")),
    path("", include("catalog.api.urls")),
    path("", include("orders.api.urls")),
    path("", include("labels.api.urls")),
    path("", include("notifications.api.urls")),
    path("", include("promotions.api.urls")),
    path("sync/", include("promotions.api.sync_urls")),
    path("", include("loyalty_management.api.urls")),
    path("", include("rules.api.urls")),
    path("", include("accounts.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("basket/", include("orders.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
]

handler400 = "core.views.handler_bad_request"
handler404 = "core.views.not_found"
handler500 = "core.views.handler_server_error"
