from django.urls import path

from promotions.api.sync_views import (
    SyncActivePromotionsView,
    SyncBulkGetView,
    SyncEngineView,
    SyncPromotionView,
    SyncVersionView,
)
from promotions.api.upload_views import UploadLogsView, UploadUsageView

urlpatterns = [
    path("version/", SyncVersionView.as_view(), name="sync-version"),
    path("active_promotions/", SyncActivePromotionsView.as_view(), name="sync-active-promotions"),
    path("promotions/<int:promotion_id>/", SyncPromotionView.as_view(), name="sync-promotion"),
    path("promotions/bulk_get/", SyncBulkGetView.as_view(), name="sync-bulk-get"),
    path("engine/", SyncEngineView.as_view(), name="sync-engine"),
    path("upload_usage/", UploadUsageView.as_view(), name="sync-upload-usage"),
    path("upload_logs/", UploadLogsView.as_view(), name="sync-upload-logs"),
]
