"""What POS devices upload after working offline: priced tickets and log lines."""

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ErrorSerializer
from core.api.inputs import parse_input
from core.api.parsers import ItemwiseJSONParser
from core.api.permissions import IsPosDevice
from core.api.throttling import throttle_take
from promotions.api.upload_serializers import (
    UploadEnvelopeSerializer,
    UploadLogsInputSerializer,
    UploadLogsOutputSerializer,
    UploadUsageInputSerializer,
    UploadUsageOutputSerializer,
    ticket_parse,
)
from promotions.services.pos_uploads import pos_logs_record, pos_tickets_upload

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}


class UploadUsageView(APIView):
    """Upload tickets priced offline: each is re-verified and stored once.

    Per ticket, all or nothing: `accepted` (the server's calculator gave the same result),
    `mismatch` (stored with the difference, flagged in the admin), `unverifiable` (unknown bundle
    hash or engine version; stored as a sale and flagged), `conflict` (the id was already used
    for another ticket) or `rejected` (invalid; nothing stored). A ticket sent again returns its
    first answer with `duplicate: true`. Counts are for this request.
    """

    permission_classes = [IsPosDevice]
    throttle_scope = "pos_upload"
    # A ticket with text the database cannot store is rejected alone, not the whole batch.
    parser_classes = [ItemwiseJSONParser, FormParser, MultiPartParser]

    @extend_schema(
        tags=["sync"],
        operation_id="sync_upload_usage",
        request=UploadUsageInputSerializer,
        responses={200: UploadUsageOutputSerializer, **ERRORS},
    )
    def post(self, request):
        envelope = parse_input(UploadEnvelopeSerializer, request.data)
        tickets = [ticket_parse(raw) for raw in envelope["tickets"]]
        return Response(pos_tickets_upload(device=request.auth, tickets=tickets))


class UploadLogsView(APIView):
    """Upload device log lines (at most 100 per request, and a quota of lines per minute)."""

    permission_classes = [IsPosDevice]
    throttle_scope = "pos_upload"

    @extend_schema(
        tags=["sync"],
        operation_id="sync_upload_logs",
        request=UploadLogsInputSerializer,
        responses={
            200: UploadLogsOutputSerializer,
            **ERRORS,
            429: OpenApiResponse(
                ErrorSerializer, description="Over the device's lines per minute; see Retry-After."
            ),
        },
    )
    def post(self, request):
        data = parse_input(UploadLogsInputSerializer, request.data)
        throttle_take(
            request,
            scope="pos_log_lines",
            rate=f"{settings.POS_LOG_LINES_PER_MINUTE}/min",
            cost=len(data["lines"]),
            message="At most {limit} log lines per minute per device; retry in {wait} s.",
        )
        stored = pos_logs_record(device=request.auth, lines=data["lines"])
        return Response({"stored": stored})
