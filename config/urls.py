from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

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
    path("", include("wallets.api.urls")),
    path("", include("rewards.api.urls")),
    path("", include("campaigns.api.urls")),
    path("", include("vouchers.api.urls")),
    path("", include("experiments.api.urls")),
]

# Redoc styles its page from script (styled-components) and runs its search in a worker made
# from a blob: inline styles and blob workers, on this page only.
REDOC_POLICY = {"style-src": [UNSAFE_INLINE], "worker-src": [SELF, "blob:"]}
redoc_view = csp_update(REDOC_POLICY)(
    csp_update(REDOC_POLICY, REPORT_ONLY=True)(
        SpectacularRedocView.as_view(url_name="schema", template_name="api_docs/redoc.html")
    )
)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("basket/", include("orders.urls")),
    path("account/", include("orders.account_urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Assets served by this app (drf-spectacular-sidecar) and no inline script: offline and CSP.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="schema", template_name="api_docs/swagger_ui.html"
        ),
        name="swagger-ui",
    ),
    path("api/redoc/", redoc_view, name="redoc"),
]

handler400 = "core.views.handler_bad_request"
handler404 = "core.views.not_found"
handler500 = "core.views.handler_server_error"
