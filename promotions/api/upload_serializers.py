"""The wire form of what POS devices upload: ticket batches and log batches."""

import re
from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.errors import ErrorSerializer, error_body, flatten_fields
from core.api.filters import MAX_ID
from promotions.models import PosLog, PosTicket
from promotions.services.calculator import canonical_json
from promotions.services.pos_uploads import (
    CONFLICT,
    MAX_RESULT_CHARS,
    MAX_TICKETS_PER_BATCH,
    REJECTED,
    VOUCHER_STATUSES,
    LogLine,
    TicketCustomer,
    TicketInput,
    TicketLine,
    TicketRejection,
    payload_hash,
    storable_text_problem,
)
from vouchers.codes import BLANK

MAX_LINES_PER_TICKET = 500
MAX_LOG_LINES_PER_BATCH = 100
MAX_LOG_MESSAGE_CHARS = 2000
MAX_LOG_CONTEXT_CHARS = 4096
MAX_VOUCHERS_PER_TICKET = 10
# V1.<code of at most 40>.<batch id of at most 15 digits>.<86 characters of signature> is 146.
MAX_VOUCHER_CHARS = 160
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
TICKET_ID = re.compile(r"^[\x21-\x7e]{1,64}\Z")
VOUCHER_PAYLOAD = re.compile(rf"^[\x21-\x7e]{{1,{MAX_VOUCHER_CHARS}}}\Z")


@extend_schema_field(
    {"type": "string", "format": "date-time", "example": "2026-03-06T12:30:05+01:00"}
)
class InstantField(serializers.Field):
    """An ISO 8601 date-time with its UTC offset (never a naive wall time), 2000 to 2100."""

    default_error_messages = {
        "invalid": "An ISO 8601 date-time with a UTC offset, e.g. 2026-03-06T12:30:05+01:00.",
        "range": "Between 2000 and 2100.",
    }

    def to_internal_value(self, data):
        try:
            parsed = parse_datetime(data) if isinstance(data, str) else None
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            self.fail("invalid")
        try:
            parsed = parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            self.fail("range")
        if not EARLIEST <= parsed < LATEST:
            self.fail("range")
        return parsed

    def to_representation(self, value):
        return value.isoformat()


# engine.js keeps integer line ids exact up to Number.MAX_SAFE_INTEGER.
MAX_SAFE_INTEGER = 2**53 - 1


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "maxLength": 64},
            {"type": "integer", "minimum": -MAX_SAFE_INTEGER, "maximum": MAX_SAFE_INTEGER},
        ],
        "nullable": True,
    }
)
class LineIdField(serializers.Field):
    """A basket line id as ENGINE.md has it (a string, an integer or null), kept exactly as
    sent, so the server's engine echoes what the device's echoed."""

    default_error_messages = {
        "invalid": "A string of at most 64 characters, a whole number or null.",
    }

    def to_internal_value(self, data):
        if isinstance(data, str) and len(data) <= 64:
            return data
        if type(data) is int and abs(data) <= MAX_SAFE_INTEGER:
            return data
        self.fail("invalid")

    def to_representation(self, value):
        return value


@extend_schema_field(
    {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_VOUCHER_CHARS,
        "pattern": f"^[\\u0021-\\u007e]{{1,{MAX_VOUCHER_CHARS}}}$",  # VOUCHER_PAYLOAD, ECMA form
        "example": "V1.SPRING-7KQ2M9XA4.12.<86 characters of base64url signature>",
    }
)
class VoucherPayloadField(serializers.Field):
    """A signed voucher as the till scanned it, `V1.<code>.<batch id>.<signature>`: a string
    of printable ASCII (no number, no spaces inside). Its form and signature are the check's
    business (a payload that fails it is stored and flagged, not refused)."""

    default_error_messages = {
        "invalid": "A signed voucher as scanned, V1.<code>.<batch id>.<signature>: a string of "
        f"printable ASCII without spaces, at most {MAX_VOUCHER_CHARS} characters.",
    }

    def to_internal_value(self, data):
        payload = data.strip(BLANK) if isinstance(data, str) else None
        if payload is None or not VOUCHER_PAYLOAD.fullmatch(payload):
            self.fail("invalid")
        return payload

    def to_representation(self, value):
        return value


class TicketLineSerializer(serializers.Serializer):
    line_id = LineIdField(
        required=False,
        allow_null=True,
        help_text="The line id the device's engine was given (and echoed); absent is null.",
    )
    product = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    quantity = serializers.IntegerField(min_value=1, max_value=10_000)
    unit_price = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        help_text='Decimal string in the brand\'s currency, e.g. "12.50".',
    )


class TicketCustomerSerializer(serializers.Serializer):
    """The customer facts the device priced with (it may be offline)."""

    id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    labels = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), max_length=100, default=list
    )
    tier = serializers.CharField(max_length=40, allow_null=True, default=None)
    is_new = serializers.BooleanField(default=False)
    signed_in = serializers.BooleanField(default=True)
    usage = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=10**9),
        default=dict,
        help_text='Uses of each promotion by this customer so far: {"<promotion id>": uses}.',
    )

    def validate_usage(self, value):
        if len(value) > 200:
            raise serializers.ValidationError("At most 200 promotions.")
        usage = {}
        for key, uses in value.items():
            if not key.isascii() or not key.isdigit() or not 0 < int(key) <= MAX_ID:
                raise serializers.ValidationError("Keys are promotion ids.")
            usage[int(key)] = uses
        return usage


class TicketInputSerializer(serializers.Serializer):
    ticket_id = serializers.RegexField(
        TICKET_ID,
        help_text="Generated by the device, unique per device (printable ASCII, 64 at most).",
    )
    local_time = InstantField(help_text="When the sale happened, with the device's UTC offset.")
    lines = TicketLineSerializer(many=True, min_length=1, max_length=MAX_LINES_PER_TICKET)
    customer = TicketCustomerSerializer(required=False, allow_null=True, default=None)
    codes = serializers.ListField(
        child=serializers.CharField(max_length=40), max_length=10, default=list
    )
    payment_method = serializers.CharField(
        max_length=40, allow_blank=True, allow_null=True, default=""
    )
    vouchers = serializers.ListField(
        child=VoucherPayloadField(),
        max_length=MAX_VOUCHERS_PER_TICKET,
        default=list,
        help_text="The signed voucher payloads the device accepted offline (engine.js "
        "verifyVoucher) and priced with; each is checked again here and redeemed.",
    )
    result = serializers.DictField(
        child=serializers.JSONField(),
        help_text="The engine's result as the device computed it (minor units, ENGINE.md).",
    )
    engine_version = serializers.CharField(max_length=32)
    bundle_hash = serializers.CharField(max_length=64)

    def validate_result(self, value):
        if len(canonical_json(value)) > MAX_RESULT_CHARS:
            raise serializers.ValidationError(f"At most {MAX_RESULT_CHARS} characters.")
        return value


class UploadUsageInputSerializer(serializers.Serializer):
    """The documented request: a batch of tickets."""

    tickets = TicketInputSerializer(many=True, min_length=1, max_length=MAX_TICKETS_PER_BATCH)


class UploadEnvelopeSerializer(serializers.Serializer):
    """The batch as parsed: its size is checked here, each ticket on its own afterwards."""

    tickets = serializers.ListField(
        child=serializers.JSONField(), min_length=1, max_length=MAX_TICKETS_PER_BATCH
    )


def ticket_parse(raw) -> TicketInput | TicketRejection:
    """One uploaded ticket, or its rejection in the error format."""
    ticket_id = raw.get("ticket_id") if isinstance(raw, dict) else None
    if not isinstance(ticket_id, str) or not TICKET_ID.fullmatch(ticket_id):
        ticket_id = None
    problem = storable_text_problem(raw)
    if problem:
        return TicketRejection(
            ticket_id=ticket_id, error=error_body("invalid_text", f"The ticket {problem}.")
        )
    serializer = TicketInputSerializer(data=raw)
    if not serializer.is_valid():
        fields = flatten_fields(serializer.errors)
        message = (
            fields["non_field_errors"][0]
            if list(fields) == ["non_field_errors"]
            else "Invalid input: " + ", ".join(sorted(fields)) + "."
        )
        return TicketRejection(
            ticket_id=ticket_id, error=error_body("validation_error", message, fields)
        )
    data = serializer.validated_data
    customer = data["customer"]
    return TicketInput(
        ticket_id=data["ticket_id"],
        payload_hash=payload_hash(raw),
        local_time=data["local_time"],
        lines=tuple(
            TicketLine(
                product_id=line["product"],
                quantity=line["quantity"],
                unit_price=line["unit_price"],
                line_id=line.get("line_id"),
            )
            for line in data["lines"]
        ),
        result=data["result"],
        engine_version=data["engine_version"],
        bundle_hash=data["bundle_hash"],
        customer=None
        if customer is None
        else TicketCustomer(
            id=customer["id"],
            label_ids=tuple(customer["labels"]),
            tier=customer["tier"],
            is_new=customer["is_new"],
            signed_in=customer["signed_in"],
            usage=customer["usage"],
        ),
        codes=tuple(data["codes"]),
        payment_method=data["payment_method"] or "",
        vouchers=tuple(data["vouchers"]),
    )


class TicketVoucherResultSerializer(serializers.Serializer):
    """What became of one uploaded voucher, in the order they were sent."""

    code = serializers.CharField(
        allow_null=True, help_text="The code of the payload, null when it has no signed form."
    )
    batch_id = serializers.IntegerField(allow_null=True)
    promotion_id = serializers.IntegerField(
        allow_null=True, help_text="The promotion of its batch in the ticket's bundle."
    )
    status = serializers.ChoiceField(
        choices=VOUCHER_STATUSES,
        help_text="redeemed (this sale holds the use); left usable as an order would leave "
        "it: not_applied (its promotion gave nothing in the device's result), "
        "one_per_promotion (another code of the promotion, the lowest id, counted); flagged: "
        "refused (no use left for this sale: an earlier upload or an order took it, it was "
        "voided, or it is another customer's), or why the server's check refused it "
        "(the promotion is not unlocked here): malformed, unknown_batch, bad_signature, "
        "not_started, expired, unknown_code (no such code at the brand), unchecked (the "
        "ticket's bundle is unknown).",
    )


class TicketResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the ticket in the batch.")
    ticket_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(
        choices=[*PosTicket.Status.values, CONFLICT, REJECTED],
        help_text="accepted, mismatch, unverifiable (all stored as sales), conflict (the id "
        "was used for another ticket) or rejected (nothing stored).",
    )
    duplicate = serializers.BooleanField(help_text="Already uploaded: the original answer.")
    overrun = serializers.BooleanField()
    overrun_promotion_ids = serializers.ListField(child=serializers.IntegerField())
    unverifiable_reason = serializers.CharField(allow_null=True)
    mismatches = serializers.IntegerField(help_text="Differing values (up to 50).")
    error = ErrorSerializer(allow_null=True)
    # Only in the answers of tickets that carried vouchers: other answers stay as they were.
    voucher_conflict = serializers.BooleanField(
        required=False,
        help_text="Present when the ticket carried vouchers: true when one of them is "
        "flagged (no use left for it, e.g. an earlier upload took it, or refused by the "
        "server's check). The sale is stored all the same.",
    )
    voucher_conflict_codes = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="The codes of the flagged vouchers (a payload without a signed form has none).",
    )
    vouchers = TicketVoucherResultSerializer(many=True, required=False)


class UploadCountsSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    mismatched = serializers.IntegerField()
    unverifiable = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    conflicts = serializers.IntegerField()
    rejected = serializers.IntegerField()
    overruns = serializers.IntegerField()


class UploadUsageOutputSerializer(serializers.Serializer):
    results = TicketResultSerializer(many=True)
    counts = UploadCountsSerializer()


class LogLineSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=PosLog.Level.choices)
    time = InstantField(help_text="By the device's clock, with its UTC offset.")
    message = serializers.CharField(max_length=MAX_LOG_MESSAGE_CHARS, trim_whitespace=False)
    context = serializers.DictField(child=serializers.JSONField(), default=dict)

    def validate_context(self, value):
        if len(canonical_json(value)) > MAX_LOG_CONTEXT_CHARS:
            raise serializers.ValidationError(
                f"At most {MAX_LOG_CONTEXT_CHARS} characters as JSON."
            )
        problem = storable_text_problem(value)
        if problem:
            raise serializers.ValidationError(f"The context {problem}.")
        return value

    def validate_message(self, value):
        problem = storable_text_problem(value)
        if problem:
            raise serializers.ValidationError(f"The message {problem}.")
        return value


class UploadLogsInputSerializer(serializers.Serializer):
    lines = LogLineSerializer(many=True, min_length=1, max_length=MAX_LOG_LINES_PER_BATCH)

    def validate_lines(self, value):
        return [
            LogLine(
                level=line["level"],
                logged_at=line["time"],
                message=line["message"],
                context=line["context"],
            )
            for line in value
        ]


class UploadLogsOutputSerializer(serializers.Serializer):
    stored = serializers.IntegerField()
