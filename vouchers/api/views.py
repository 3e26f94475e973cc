"""Vouchers for staff: their brands' batches of generated codes (create, void, the codes, the
downloads) and single codes (look one up, see its uses, void it, its QR code).

Every view counts under the `vouchers` throttle scope. A batch or code of a brand the user does
not work for answers exactly as one that does not exist (404)."""

import django_filters
from django.http import HttpResponse, StreamingHttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from brands.selectors import brand_ids_for_user, scope_to_user_brands
from core.api.errors import PAGE_NOT_FOUND, ErrorSerializer
from core.api.filters import IdFilter
from core.api.inputs import parse_input
from core.api.permissions import IsStaff, StaffModelPermissions, role_permission
from core.api.schema import THROTTLED
from core.errors import ApplicationError, NotFoundError
from customers.models import Customer
from orders.api.serializers import IDEMPOTENCY_KEY_PATTERN
from promotions.models import Promotion
from vouchers import selectors
from vouchers.api.serializers import (
    VoucherBatchDetailOutputSerializer,
    VoucherBatchInputSerializer,
    VoucherBatchOutputSerializer,
    VoucherCodeDetailOutputSerializer,
    VoucherCodeOutputSerializer,
    VoucherDistributeInputSerializer,
    VoucherDistributeOutputSerializer,
)
from vouchers.distribution import voucher_batch_distribution_request
from vouchers.downloads import CSV, PDF, PNG, SVG, XLSX, reveals_personal_data, written_file
from vouchers.models import VoucherBatch, VoucherCode
from vouchers.services import (
    voucher_batch_create,
    voucher_batch_create_once,
    voucher_batch_void,
    voucher_code_void,
)

BATCH_IDEMPOTENCY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Up to 128 printable ASCII characters. A replay returns the first batch with 200; the "
        "same key for another request is 409 `idempotency_key_reused`."
    ),
)
SCOPE = "vouchers"
TAGS = ["vouchers"]
ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}
NOT_FOUND = {404: ErrorSerializer}
# The latest uses a code's detail shows (a code of many uses has its count besides).
REDEMPTIONS_SHOWN = 100

BATCH_EXAMPLE = {
    "id": 7,
    "brand": "burger-town",
    "promotion": 31,
    "promotion_name": "Ten percent off",
    "name": "Spring mailing",
    "prefix": "SPRING-",
    "length": 8,
    "quantity": 10000,
    "uses_per_code": 1,
    "customer": None,
    "customer_email": None,
    "valid_from": "2026-04-01T00:00:00Z",
    "valid_until": "2026-06-30T23:59:59Z",
    "offline": False,
    "status": "ready",
    "generated": 10000,
    "progress_percent": 100,
    "error": "",
    "voided_at": None,
    "created_at": "2026-03-20T09:12:00Z",
    "updated_at": "2026-03-20T09:12:04Z",
}
CODE_EXAMPLE = {
    "id": 90412,
    "code": "SPRING-7KQ2M9XPD",
    "brand": "burger-town",
    "batch": 7,
    "batch_name": "Spring mailing",
    "promotion": 31,
    "customer": 42,
    "customer_email": "j***@example.com",
    "max_uses": 1,
    "uses": 1,
    "redeemed": 1,
    "status": "redeemed",
    "assigned_at": "2026-03-21T08:00:00Z",
    "valid_from": "2026-04-01T00:00:00Z",
    "valid_until": "2026-06-30T23:59:59Z",
    "batch_voided_at": None,
}
REDEMPTION_EXAMPLE = {
    "id": 3301,
    "source": "order:1203",
    "order": 1203,
    "customer": 42,
    "customer_email": "j***@example.com",
    "store": "downtown",
    "channel": "web",
    "status": "redeemed",
    "used_at": "2026-04-02T12:30:00Z",
    "redeemed_at": "2026-04-02T12:31:10Z",
    "released_at": None,
}


CanVoidBatches = role_permission(
    "vouchers.change_voucherbatch", message="Your role may not void voucher batches."
)
CanDistributeBatches = role_permission(
    "vouchers.change_voucherbatch", message="Your role may not send voucher codes."
)
CanViewBatchCodes = role_permission(
    "vouchers.view_voucherbatch",
    "vouchers.view_vouchercode",
    message="Your role may not see the codes of voucher batches.",
)
CanViewCodes = role_permission(
    "vouchers.view_vouchercode", message="Your role may not look voucher codes up."
)
CanViewCodeUses = role_permission(
    "vouchers.view_vouchercode",
    "vouchers.view_voucherredemption",
    message="Your role may not see voucher codes and their uses.",
)
CanVoidCodes = role_permission(
    "vouchers.change_vouchercode", message="Your role may not void voucher codes."
)


def _batch_for_staff(user, batch_id: int) -> VoucherBatch:
    batch = selectors.batches_for_staff(user=user).filter(pk=batch_id).first()
    if batch is None:
        raise NotFoundError("No such voucher batch.", code="voucher_batch_not_found")
    return batch


def _code_for_staff(user, code_id: int) -> VoucherCode:
    code = (
        selectors.codes_for_staff(user=user)
        .select_related("brand", "batch__promotion")
        .filter(pk=code_id)
        .first()
    )
    if code is None:
        raise NotFoundError("No such voucher code.", code="voucher_code_not_found")
    return code


def _batch_detail(batch: VoucherBatch, request) -> dict:
    counts = selectors.batch_status_counts(batch_id=batch.pk)
    return VoucherBatchDetailOutputSerializer(
        batch, context={"request": request, "code_counts": counts}
    ).data


# --- Batches ------------------------------------------------------------------------------------


class BatchFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug")
    promotion = IdFilter(field_name="promotion_id")
    status = django_filters.MultipleChoiceFilter(choices=VoucherBatch.Status.choices)

    class Meta:
        model = VoucherBatch
        fields = ["brand", "promotion", "status"]


class VoucherBatchListView(generics.ListAPIView):
    """Staff: the voucher batches of their brands, newest first; create one (its codes are
    generated in the background: `status` and `progress_percent` say how far it got)."""

    permission_classes = [IsStaff & StaffModelPermissions]
    throttle_scope = SCOPE
    serializer_class = VoucherBatchOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = BatchFilter
    queryset = VoucherBatch.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return VoucherBatch.objects.none()
        return selectors.batches_for_staff(user=self.request.user)

    @extend_schema(
        tags=TAGS,
        responses={200: VoucherBatchOutputSerializer(many=True), **ERRORS, 404: PAGE_NOT_FOUND},
        examples=[
            OpenApiExample(
                "Batches",
                response_only=True,
                value={"count": 1, "next": None, "previous": None, "results": [BATCH_EXAMPLE]},
            )
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=TAGS,
        request=VoucherBatchInputSerializer,
        parameters=[BATCH_IDEMPOTENCY_PARAMETER],
        responses={
            201: VoucherBatchOutputSerializer,
            200: VoucherBatchOutputSerializer,
            **ERRORS,
            409: ErrorSerializer,
        },
        examples=[
            OpenApiExample(
                "Ten thousand single-use codes",
                request_only=True,
                value={
                    "promotion": 31,
                    "name": "Spring mailing",
                    "quantity": 10000,
                    "prefix": "SPRING-",
                    "length": 8,
                    "valid_from": "2026-04-01T00:00:00Z",
                    "valid_until": "2026-06-30T23:59:59Z",
                },
            ),
            OpenApiExample(
                "One customer's code, for a till offline",
                request_only=True,
                value={
                    "promotion": 31,
                    "name": "Apology to order 1203",
                    "quantity": 1,
                    "uses_per_code": 1,
                    "customer": 42,
                    "offline": True,
                },
            ),
            OpenApiExample(
                "Created, generating",
                response_only=True,
                status_codes=["201"],
                value={**BATCH_EXAMPLE, "status": "pending", "generated": 0, "progress_percent": 0},
            ),
        ],
    )
    def post(self, request):
        data = parse_input(VoucherBatchInputSerializer, request.data)
        promotion = (
            scope_to_user_brands(Promotion.objects.all(), request.user, "brand")
            .filter(pk=data.pop("promotion"))
            .first()
        )
        if promotion is None:
            message = "Unknown promotion, or not one of your brands'."
            raise ApplicationError(
                message, code="unknown_promotion", fields={"promotion": [message]}
            )
        customer_id = data.pop("customer", None)
        customer = None
        if customer_id is not None:
            customer = Customer.objects.filter(
                pk=customer_id, brand_links__brand_id=promotion.brand_id
            ).first()
            if customer is None:
                message = "Not a customer of the promotion's brand."
                raise ApplicationError(
                    message, code="invalid_voucher_batch", fields={"customer": [message]}
                )
        key = request.headers.get("Idempotency-Key")
        if key is None:
            batch, created = (
                voucher_batch_create(
                    promotion=promotion, customer=customer, actor=request.user, **data
                ),
                True,
            )
        else:
            if not IDEMPOTENCY_KEY_PATTERN.match(key):
                raise ApplicationError(
                    "The Idempotency-Key is up to 128 printable ASCII characters.",
                    code="invalid_idempotency_key",
                    fields={"Idempotency-Key": ["Up to 128 printable ASCII characters."]},
                )
            batch, created = voucher_batch_create_once(
                promotion=promotion,
                idempotency_key=key,
                customer=customer,
                actor=request.user,
                **data,
            )
        # Generation may have run already (it starts once the batch is committed).
        batch = selectors.batches_for_staff(user=request.user).get(pk=batch.pk)
        return Response(
            VoucherBatchOutputSerializer(batch, context={"request": request}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class VoucherBatchDetailView(APIView):
    """Staff: one voucher batch of their brands, with how many of its codes are in each state."""

    permission_classes = [IsStaff & StaffModelPermissions]
    throttle_scope = SCOPE
    queryset = VoucherBatch.objects.none()

    @extend_schema(
        tags=TAGS,
        responses={200: VoucherBatchDetailOutputSerializer, **ERRORS, **NOT_FOUND},
        examples=[
            OpenApiExample(
                "Half used",
                response_only=True,
                value={
                    **BATCH_EXAMPLE,
                    "code_counts": {
                        "available": 4820,
                        "reserved": 12,
                        "redeemed": 5168,
                        "expired": 0,
                        "voided": 0,
                    },
                },
            )
        ],
    )
    def get(self, request, batch_id: int):
        return Response(_batch_detail(_batch_for_staff(request.user, batch_id), request))


class VoucherBatchVoidView(APIView):
    """Staff: void a batch of their brands: none of its codes can be used any more (a use
    already held by an order stays with it). Voiding it again changes nothing."""

    permission_classes = [IsStaff & CanVoidBatches]
    throttle_scope = SCOPE

    @extend_schema(
        tags=TAGS,
        request=None,
        responses={200: VoucherBatchDetailOutputSerializer, **ERRORS, **NOT_FOUND},
    )
    def post(self, request, batch_id: int):
        batch = _batch_for_staff(request.user, batch_id)
        voucher_batch_void(batch_id=batch.pk, actor=request.user)
        return Response(_batch_detail(_batch_for_staff(request.user, batch.pk), request))


class VoucherBatchDistributeView(APIView):
    """Staff: send one distinct code of the batch to each customer of a customer label, through
    the notification service, in the background (`vouchers.distribute_batch`). Asking again
    never gives a customer a second code nor sends twice. Answers 202 once it is owed to a
    worker; a label or batch that cannot be used is a 400 with a plain sentence."""

    permission_classes = [IsStaff & CanDistributeBatches]
    throttle_scope = SCOPE

    @extend_schema(
        tags=TAGS,
        request=VoucherDistributeInputSerializer,
        responses={202: VoucherDistributeOutputSerializer, **ERRORS, **NOT_FOUND},
        examples=[
            OpenApiExample("To the newsletter", request_only=True, value={"label": 12}),
            OpenApiExample(
                "Owed to a worker",
                response_only=True,
                status_codes=["202"],
                value={"batch": 7, "label": 12, "status": "sending"},
            ),
        ],
    )
    def post(self, request, batch_id: int):
        data = parse_input(VoucherDistributeInputSerializer, request.data)
        batch = _batch_for_staff(request.user, batch_id)
        voucher_batch_distribution_request(
            batch_id=batch.pk, label_id=data["label"], actor=request.user
        )
        return Response(
            {"batch": batch.pk, "label": data["label"], "status": "sending"},
            status=status.HTTP_202_ACCEPTED,
        )


class CodeFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=VoucherCode.Status.choices)

    class Meta:
        model = VoucherCode
        fields = ["status"]


class VoucherBatchCodeListView(generics.ListAPIView):
    """Staff: the codes of one batch of their brands, in the order they were made."""

    permission_classes = [IsStaff & CanViewBatchCodes]
    throttle_scope = SCOPE
    serializer_class = VoucherCodeOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = CodeFilter
    queryset = VoucherCode.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return VoucherCode.objects.none()
        batch = _batch_for_staff(self.request.user, self.kwargs["batch_id"])
        return (
            selectors.codes_for_staff(user=self.request.user)
            .select_related("brand")
            .filter(batch_id=batch.pk)
        )

    @extend_schema(
        tags=TAGS,
        responses={200: VoucherCodeOutputSerializer(many=True), **ERRORS, **NOT_FOUND},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


# --- Codes --------------------------------------------------------------------------------------


class CodeLookupFilter(django_filters.FilterSet):
    code = django_filters.CharFilter(
        method="filter_code",
        required=True,
        max_length=300,
        help_text=(
            "The code as entered (any case, spaces around it) or the payload of its QR code."
        ),
    )

    class Meta:
        model = VoucherCode
        fields = ["code"]

    def filter_code(self, queryset, name, value):
        return queryset.filter(code=selectors.entered_code(value))


class VoucherCodeLookupView(generics.ListAPIView):
    """Staff: look a code up in their brands (the same code may exist at two brands)."""

    permission_classes = [IsStaff & CanViewCodes]
    throttle_scope = SCOPE
    serializer_class = VoucherCodeOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = CodeLookupFilter
    queryset = VoucherCode.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return VoucherCode.objects.none()
        return (
            selectors.codes_for_staff(user=self.request.user)
            .select_related("brand")
            .order_by("brand_id", "pk")
        )

    @extend_schema(
        tags=TAGS,
        responses={200: VoucherCodeOutputSerializer(many=True), **ERRORS, 404: PAGE_NOT_FOUND},
        examples=[
            OpenApiExample(
                "Found",
                response_only=True,
                value={"count": 1, "next": None, "previous": None, "results": [CODE_EXAMPLE]},
            )
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class VoucherCodeDetailView(APIView):
    """Staff: one code of their brands with its latest uses; the customer's email as their role
    may see it."""

    permission_classes = [IsStaff & CanViewCodeUses]
    throttle_scope = SCOPE

    @extend_schema(
        tags=TAGS,
        responses={200: VoucherCodeDetailOutputSerializer, **ERRORS, **NOT_FOUND},
        examples=[
            OpenApiExample(
                "Used once, online",
                response_only=True,
                value={**CODE_EXAMPLE, "redemption_count": 1, "redemptions": [REDEMPTION_EXAMPLE]},
            )
        ],
    )
    def get(self, request, code_id: int):
        code = _code_for_staff(request.user, code_id)
        redemptions = selectors.code_redemptions(code_id=code.pk)
        context = {
            "request": request,
            "redemptions": list(redemptions[:REDEMPTIONS_SHOWN]),
            "redemption_count": redemptions.count(),
        }
        return Response(VoucherCodeDetailOutputSerializer(code, context=context).data)


class VoucherCodeVoidView(APIView):
    """Staff: void one code of their brands. A redeemed, expired or voided code stays as it is;
    a use already held by an order stays with it."""

    permission_classes = [IsStaff & CanVoidCodes]
    throttle_scope = SCOPE

    @extend_schema(
        tags=TAGS,
        request=None,
        responses={200: VoucherCodeOutputSerializer, **ERRORS, **NOT_FOUND},
    )
    def post(self, request, code_id: int):
        code = voucher_code_void(code_id=code_id, brand_ids=brand_ids_for_user(request.user))
        code = _code_for_staff(request.user, code.pk)
        return Response(VoucherCodeOutputSerializer(code, context={"request": request}).data)


# --- Downloads ----------------------------------------------------------------------------------


class FileRenderer(BaseRenderer):
    """Names a download's media type (for the schema); the view answers with the file itself,
    and with its errors in JSON."""

    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


def file_renderer(media_type: str, format: str) -> type[FileRenderer]:
    attributes = {"media_type": media_type, "format": format}
    return type(f"{format.capitalize()}Renderer", (FileRenderer,), attributes)


JSON = "application/json"


def download_schema(media_type: str, description: str, *, errors=(401, 403, 404), **extra):
    return extend_schema(
        tags=TAGS,
        responses={
            (200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description=description),
            **{(code, JSON): ErrorSerializer for code in errors},
            (429, JSON): THROTTLED,
        },
        **extra,
    )


class DownloadView(APIView):
    """A file whatever the client says it accepts, or an error in JSON."""

    throttle_scope = SCOPE

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response):  # an error: files are plain Django responses
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSON
        return super().finalize_response(request, response, *args, **kwargs)


def _attachment(response: HttpResponse, filename: str, *, inline: bool = False) -> HttpResponse:
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


class VoucherBatchCsvView(DownloadView):
    """Staff: the batch's codes as CSV (UTF-8), one line per code. Customers' emails are in it
    only for roles that see them in full."""

    permission_classes = [IsStaff & CanViewBatchCodes]
    renderer_classes = [file_renderer(CSV, "csv")]

    @download_schema(CSV, "The codes, one per line.", operation_id="v1_vouchers_batches_export_csv")
    def get(self, request, batch_id: int):
        from vouchers.exports import batch_csv_rows

        batch = _batch_for_staff(request.user, batch_id)
        rows = batch_csv_rows(batch, reveal_personal=reveals_personal_data(request.user))
        response = StreamingHttpResponse(rows, content_type=f"{CSV}; charset=utf-8")
        return _attachment(response, f"voucher-batch-{batch.pk}.csv")


class VoucherBatchXlsxView(DownloadView):
    """Staff: the batch's codes as an Excel workbook. Customers' emails are in it only for
    roles that see them in full. A batch of more codes than a worksheet's rows is 400
    `batch_too_large_for_xlsx`."""

    permission_classes = [IsStaff & CanViewBatchCodes]
    renderer_classes = [file_renderer(XLSX, "xlsx")]

    @download_schema(
        XLSX,
        "The codes as a workbook.",
        errors=(400, 401, 403, 404),
        operation_id="v1_vouchers_batches_export_xlsx",
    )
    def get(self, request, batch_id: int):
        from vouchers.exports import batch_xlsx

        batch = _batch_for_staff(request.user, batch_id)
        reveal = reveals_personal_data(request.user)
        response = written_file(
            lambda out: batch_xlsx(batch, out, reveal_personal=reveal), content_type=XLSX
        )
        return _attachment(response, f"voucher-batch-{batch.pk}.xlsx")


class VoucherBatchPdfView(DownloadView):
    """Staff: a printable A4 sheet of the batch's codes with their QR codes. Refused with a 400:
    a batch too large to print (`batch_too_large_for_pdf`), one not fully generated yet
    (`batch_not_ready`) or voided (`batch_voided`)."""

    permission_classes = [IsStaff & CanViewBatchCodes]
    renderer_classes = [file_renderer(PDF, "pdf")]

    @download_schema(
        PDF,
        "A sheet of the codes to print.",
        errors=(400, 401, 403, 404),
        operation_id="v1_vouchers_batches_sheet_pdf",
    )
    def get(self, request, batch_id: int):
        from vouchers.exports import batch_pdf

        batch = _batch_for_staff(request.user, batch_id)
        response = written_file(lambda out: batch_pdf(batch, out), content_type=PDF)
        return _attachment(response, f"voucher-batch-{batch.pk}.pdf")


class VoucherCodePngView(DownloadView):
    """Staff: the code's QR code as a PNG image (an offline batch's carries its signature)."""

    permission_classes = [IsStaff & CanViewCodes]
    renderer_classes = [file_renderer(PNG, "png")]

    @download_schema(PNG, "The QR code.", operation_id="v1_vouchers_codes_qr_png")
    def get(self, request, code_id: int):
        from vouchers.exports import qr_png

        code = _code_for_staff(request.user, code_id)
        response = HttpResponse(qr_png(code), content_type=PNG)
        return _attachment(response, f"voucher-{code.code}.png", inline=True)


class VoucherCodeSvgView(DownloadView):
    """Staff: the code's QR code as an SVG image (an offline batch's carries its signature)."""

    permission_classes = [IsStaff & CanViewCodes]
    renderer_classes = [file_renderer(SVG, "svg")]

    @download_schema(SVG, "The QR code.", operation_id="v1_vouchers_codes_qr_svg")
    def get(self, request, code_id: int):
        from vouchers.exports import qr_svg

        code = _code_for_staff(request.user, code_id)
        response = HttpResponse(qr_svg(code), content_type=SVG)
        return _attachment(response, f"voucher-{code.code}.svg", inline=True)
