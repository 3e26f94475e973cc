from django.urls import path

from vouchers.api.views import (
    VoucherBatchCodeListView,
    VoucherBatchCsvView,
    VoucherBatchDetailView,
    VoucherBatchDistributeView,
    VoucherBatchListView,
    VoucherBatchPdfView,
    VoucherBatchVoidView,
    VoucherBatchXlsxView,
    VoucherCodeDetailView,
    VoucherCodeLookupView,
    VoucherCodePngView,
    VoucherCodeSvgView,
    VoucherCodeVoidView,
)

urlpatterns = [
    path("vouchers/batches/", VoucherBatchListView.as_view(), name="voucher-batches"),
    path(
        "vouchers/batches/<int:batch_id>/",
        VoucherBatchDetailView.as_view(),
        name="voucher-batch",
    ),
    path(
        "vouchers/batches/<int:batch_id>/void/",
        VoucherBatchVoidView.as_view(),
        name="voucher-batch-void",
    ),
    path(
        "vouchers/batches/<int:batch_id>/distribute/",
        VoucherBatchDistributeView.as_view(),
        name="voucher-batch-distribute",
    ),
    path(
        "vouchers/batches/<int:batch_id>/codes/",
        VoucherBatchCodeListView.as_view(),
        name="voucher-batch-codes",
    ),
    path(
        "vouchers/batches/<int:batch_id>/export.csv",
        VoucherBatchCsvView.as_view(),
        name="voucher-batch-csv",
    ),
    path(
        "vouchers/batches/<int:batch_id>/export.xlsx",
        VoucherBatchXlsxView.as_view(),
        name="voucher-batch-xlsx",
    ),
    path(
        "vouchers/batches/<int:batch_id>/sheet.pdf",
        VoucherBatchPdfView.as_view(),
        name="voucher-batch-pdf",
    ),
    path("vouchers/codes/", VoucherCodeLookupView.as_view(), name="voucher-codes"),
    path("vouchers/codes/<int:code_id>/", VoucherCodeDetailView.as_view(), name="voucher-code"),
    path(
        "vouchers/codes/<int:code_id>/void/",
        VoucherCodeVoidView.as_view(),
        name="voucher-code-void",
    ),
    path(
        "vouchers/codes/<int:code_id>/qr.png", VoucherCodePngView.as_view(), name="voucher-code-png"
    ),
    path(
        "vouchers/codes/<int:code_id>/qr.svg", VoucherCodeSvgView.as_view(), name="voucher-code-svg"
    ),
]
