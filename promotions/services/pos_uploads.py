"""What POS devices upload after pricing offline: tickets (re-verified) and log lines.

A ticket is stored once per (device, ticket id), in its own transaction: the server rebuilds the
engine's basket (categories and labels from the catalog) and context (the ticket's local time
in the store's time zone, the customer facts the device used), prices it with the Python
calculator against the exact promotions of the store's release the device named
(`bundle_release_promotions`), and compares the canonical JSON of both results. Every promotion
the device applied is recorded in the usage ledger (`usage_record_offline`); a limit overrun is
flagged on the ticket, never refused: the sale happened.

A ticket may carry the signed vouchers the till accepted offline. Each is checked again with the
till's rule (`offline_voucher_check`) against the same release at the ticket's time; the
promotions of the valid ones go into the server's context (so the price matches the till's) and
their codes are redeemed for the sale (`voucher_record_offline`, in code id order). A code that
had no use left for it (another upload or an order took it first), or a voucher that fails the
check (and so unlocks nothing here), flags the ticket (`voucher_conflict`), never refuses it.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from brands.models import PosDevice
from catalog.models import Product
from core.errors import ApplicationError
from core.money import from_minor, to_minor
from core.retention import purge_in_batches
from core.text import unstorable_value
from customers.models import Customer
from experiments.services import exposures_record
from labels.selectors import product_label_ids
from promotions.models import PosLog, PosTicket, Promotion
from promotions.selectors import bundle_release_promotions
from promotions.services.calculator import ENGINE_VERSION, calculate, canonical_json
from promotions.services.engine_input import engine_context
from promotions.services.usage import usage_record_offline
from vouchers.codes import VALID as VOUCHER_VALID
from vouchers.codes import offline_voucher_check
from vouchers.redemption import voucher_record_offline
from vouchers.selectors import brand_code_ids

MAX_TICKETS_PER_BATCH = 200
MAX_RESULT_CHARS = 256 * 1024
MAX_DIFF_ENTRIES = 50
# Device totals are stored in a MoneyField (12 digits before the point).
MAX_MINOR_TOTAL = 10**14 - 1
USAGE_SOURCE = "pos-ticket"

UNKNOWN_BUNDLE = "unknown_bundle"
ENGINE_VERSION_UNKNOWN = "engine_version"

REJECTED = "rejected"
CONFLICT = "conflict"
COUNT_KEYS = (
    "accepted",
    "mismatched",
    "unverifiable",
    "duplicates",
    "conflicts",
    "rejected",
    "overruns",
)
# What became of an uploaded voucher. Not flagged: redeemed for the sale, or left unused as an
# order leaves it (its promotion gave nothing in the device's result, or another code of the
# same promotion counted: the lowest code id, as in `orders.services.pricing`). Flagged:
# refused by `voucher_record_offline` (no use left: an earlier upload or an order took it, it was
# voided or expired, or it is another customer's), or why the server's check refused it
# (`vouchers.codes` statuses other than valid; a valid signature of a code the brand does not
# have; an unknown bundle).
VOUCHER_REDEEMED = "redeemed"
VOUCHER_NOT_APPLIED = "not_applied"
VOUCHER_ONE_PER_PROMOTION = "one_per_promotion"
VOUCHER_REFUSED = "refused"
VOUCHER_UNKNOWN_CODE = "unknown_code"
VOUCHER_UNCHECKED = "unchecked"
VOUCHER_UNFLAGGED = frozenset({VOUCHER_REDEEMED, VOUCHER_NOT_APPLIED, VOUCHER_ONE_PER_PROMOTION})
VOUCHER_STATUSES = (
    VOUCHER_REDEEMED,
    VOUCHER_NOT_APPLIED,
    VOUCHER_ONE_PER_PROMOTION,
    VOUCHER_REFUSED,
    "malformed",
    "unknown_batch",
    "bad_signature",
    "not_started",
    "expired",
    VOUCHER_UNKNOWN_CODE,
    VOUCHER_UNCHECKED,
)
_COUNT_OF_STATUS = {
    PosTicket.Status.ACCEPTED: "accepted",
    PosTicket.Status.MISMATCH: "mismatched",
    PosTicket.Status.UNVERIFIABLE: "unverifiable",
}


@dataclass(frozen=True)
class TicketLine:
    product_id: int
    quantity: int
    unit_price: Decimal
    line_id: str | int | None = None  # as the device's engine had it (ENGINE.md)


@dataclass(frozen=True)
class TicketCustomer:
    id: int
    label_ids: tuple[int, ...] = ()
    tier: str | None = None
    is_new: bool = False
    signed_in: bool = True
    usage: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TicketInput:
    """One parsed ticket; `payload_hash` identifies its exact upload for replays."""

    ticket_id: str
    payload_hash: str
    local_time: datetime
    lines: tuple[TicketLine, ...]
    result: dict
    engine_version: str
    bundle_hash: str
    customer: TicketCustomer | None = None
    codes: tuple[str, ...] = ()
    payment_method: str = ""
    vouchers: tuple[str, ...] = ()  # signed payloads the device accepted


@dataclass(frozen=True)
class TicketRejection:
    """A ticket refused before it reached the service (shape errors); nothing is stored."""

    ticket_id: str | None
    error: dict  # {"code", "message", "fields"}


def payload_hash(raw: Any) -> str:
    """SHA-256 of the canonical JSON of an uploaded ticket as received."""
    return hashlib.sha256(canonical_json(raw).encode("ascii")).hexdigest()


def result_diff(device: Any, server: Any, *, limit: int = MAX_DIFF_ENTRIES) -> list[dict]:
    """The leaves where two results differ: `{"path", "device", "server"}`, a side missing
    when the key or item is absent there. At most `limit` entries, in path order."""
    entries: list[dict] = []
    _diff(device, server, "", entries, limit)
    return entries


_MISSING = object()


def _diff(device: Any, server: Any, path: str, entries: list[dict], limit: int) -> None:
    if len(entries) >= limit:
        return
    if isinstance(device, dict) and isinstance(server, dict):
        for key in sorted(set(device) | set(server)):
            child = f"{path}.{key}" if path else str(key)
            _diff(device.get(key, _MISSING), server.get(key, _MISSING), child, entries, limit)
        return
    if isinstance(device, list) and isinstance(server, list):
        for index in range(max(len(device), len(server))):
            _diff(
                device[index] if index < len(device) else _MISSING,
                server[index] if index < len(server) else _MISSING,
                f"{path}.{index}" if path else str(index),
                entries,
                limit,
            )
        return
    both = device is not _MISSING and server is not _MISSING
    if both and canonical_json(device) == canonical_json(server):
        return
    entry: dict[str, Any] = {"path": path or "$"}
    if device is not _MISSING:
        entry["device"] = device
    if server is not _MISSING:
        entry["server"] = server
    entries.append(entry)


def storable_text_problem(value: Any) -> str | None:
    """Why `value` cannot be stored as JSON in PostgreSQL (a NUL character or an unpaired
    surrogate in a key or a string, an infinite number; see `core.text`), as the end of a
    sentence, or None."""
    problem = unstorable_value(value)
    if problem is None:
        return None
    path, message = problem
    return f"has a value that cannot be stored{f' at {path}' if path else ''}: {message}"


# --- tickets --------------------------------------------------------------------------------


def pos_tickets_upload(*, device: PosDevice, tickets: Sequence[TicketInput | TicketRejection]):
    """Store a batch of tickets, each in its own transaction, and answer per ticket.

    Not atomic as a whole: a ticket commits or is rejected on its own, so one bad ticket never
    holds back the others and a retried batch only adds what is missing.
    """
    store = device.store
    currency = store.brand.currency
    results = []
    counts = dict.fromkeys(COUNT_KEYS, 0)
    # Replays are answered from one query; new tickets each go through their transaction.
    stored = _stored_rows(
        device=device,
        ticket_ids=[t.ticket_id for t in tickets if isinstance(t, TicketInput)],
    )
    for index, ticket in enumerate(tickets):
        if isinstance(ticket, TicketRejection):
            answer = _rejection(ticket.ticket_id, ticket.error)
        elif ticket.ticket_id in stored:
            answer = _replay_answer(ticket, stored[ticket.ticket_id])
        else:
            try:
                answer = pos_ticket_upload(device=device, ticket=ticket, currency=currency)
            except ApplicationError as error:
                answer = _rejection(
                    ticket.ticket_id,
                    {"code": error.code, "message": error.message, "fields": error.fields},
                )
        results.append({"index": index, **answer})
        if answer["duplicate"]:
            counts["duplicates"] += 1
        elif answer["status"] == REJECTED:
            counts["rejected"] += 1
        elif answer["status"] == CONFLICT:
            counts["conflicts"] += 1
        else:
            counts[_COUNT_OF_STATUS[answer["status"]]] += 1
            counts["overruns"] += answer["overrun"]
    return {"results": results, "counts": counts}


def _rejection(ticket_id: str | None, error: dict) -> dict:
    return _answer(ticket_id=ticket_id, status=REJECTED, error=error)


def _answer(
    *,
    ticket_id: str | None,
    status: str,
    duplicate: bool = False,
    overrun_promotion_ids: Sequence[int] = (),
    unverifiable_reason: str | None = None,
    mismatches: int = 0,
    error: dict | None = None,
    vouchers: Sequence[dict] | None = None,
) -> dict:
    answer = {
        "ticket_id": ticket_id,
        "status": status,
        "duplicate": duplicate,
        "overrun": bool(overrun_promotion_ids),
        "overrun_promotion_ids": list(overrun_promotion_ids),
        "unverifiable_reason": unverifiable_reason,
        "mismatches": mismatches,
        "error": error,
    }
    if vouchers is not None:
        # Only for a ticket that carried vouchers, so the other answers keep their shape.
        flagged = [v for v in vouchers if v["status"] not in VOUCHER_UNFLAGGED]
        answer.update(
            voucher_conflict=bool(flagged),
            # A payload without a signed form has no code: it is flagged without one.
            voucher_conflict_codes=sorted({v["code"] for v in flagged if v["code"]}),
            vouchers=list(vouchers),
        )
    return answer


@transaction.atomic
def pos_ticket_upload(*, device: PosDevice, ticket: TicketInput, currency: str) -> dict:
    """Store one ticket with its verification and usage, or return the stored answer.

    The same ticket again (same device, id and payload) returns the first answer marked
    `duplicate` and changes nothing; the same id with another payload is a `conflict`.
    Concurrent uploads of one ticket meet at the unique (device, ticket_id) constraint.
    Raises `ApplicationError` (nothing stored) when the ticket names unknown rows.
    """
    stored = _stored_answer(device=device, ticket=ticket)
    if stored is not None:
        return stored
    try:
        with transaction.atomic():
            return _ticket_store(device=device, ticket=ticket, currency=currency)
    except IntegrityError:
        stored = _stored_answer(device=device, ticket=ticket)
        if stored is None:
            raise
        return stored


def _stored_rows(*, device: PosDevice, ticket_ids: Sequence[str]) -> dict[str, dict]:
    if not ticket_ids:
        return {}
    return {
        row["ticket_id"]: row
        for row in PosTicket.objects.filter(device=device, ticket_id__in=ticket_ids).values(
            "ticket_id", "payload_hash", "response"
        )
    }


def _stored_answer(*, device: PosDevice, ticket: TicketInput) -> dict | None:
    row = _stored_rows(device=device, ticket_ids=[ticket.ticket_id]).get(ticket.ticket_id)
    return None if row is None else _replay_answer(ticket, row)


def _replay_answer(ticket: TicketInput, row: dict) -> dict:
    """The stored answer marked duplicate, or a conflict when the content differs."""
    if row["payload_hash"] != ticket.payload_hash:
        return _answer(
            ticket_id=ticket.ticket_id,
            status=CONFLICT,
            error={
                "code": "ticket_conflict",
                "message": "This ticket id was already uploaded with other content.",
                "fields": {"ticket_id": ["Already used by another ticket of this device."]},
            },
        )
    return {**row["response"], "duplicate": True}


def _device_totals(result: dict) -> tuple[int, int, int]:
    totals = []
    for key in ("subtotal", "discount_total", "total"):
        value = result.get(key)
        if type(value) is not int or not 0 <= value <= MAX_MINOR_TOTAL:
            raise ApplicationError(
                f"The device result's {key} must be an integer of minor units.",
                code="invalid_result",
                fields={f"result.{key}": [f"An integer from 0 to {MAX_MINOR_TOTAL}."]},
            )
        totals.append(value)
    return totals[0], totals[1], totals[2]


def _device_applied(result: dict) -> dict[int, int]:
    """Promotion id -> amount the device applied (discounts and cashback), validated."""
    applied: dict[int, int] = {}
    for key in ("applied", "cashback"):
        entries = result.get(key, [])
        if not isinstance(entries, list):
            raise ApplicationError(
                f"The device result's {key} must be a list.",
                code="invalid_result",
                fields={f"result.{key}": ["A list."]},
            )
        for position, entry in enumerate(entries):
            promotion_id = entry.get("promotion_id") if isinstance(entry, dict) else None
            amount = entry.get("amount") if isinstance(entry, dict) else None
            if (
                type(promotion_id) is not int
                or type(amount) is not int
                or not 0 < promotion_id < 2**63
                or not 0 <= amount <= MAX_MINOR_TOTAL
            ):
                raise ApplicationError(
                    f"Each entry of the device result's {key} needs a promotion_id and an "
                    "amount in minor units.",
                    code="invalid_result",
                    fields={f"result.{key}.{position}": ["{promotion_id, amount} integers."]},
                )
            applied[promotion_id] = applied.get(promotion_id, 0) + amount
    return applied


def _engine_basket(*, ticket: TicketInput, currency: str, brand_id: int) -> list[dict]:
    product_ids = {line.product_id for line in ticket.lines}
    categories = dict(
        Product.objects.filter(brand_id=brand_id, pk__in=product_ids).values_list(
            "pk", "category_id"
        )
    )
    labels = product_label_ids(product_ids=product_ids)
    missing = {
        f"lines.{index}.product": ["No such product in this brand."]
        for index, line in enumerate(ticket.lines)
        if line.product_id not in categories
    }
    if missing:
        raise ApplicationError("Unknown products.", code="unknown_product", fields=missing)
    lines = []
    for index, line in enumerate(ticket.lines):
        try:
            unit_price = to_minor(line.unit_price, currency)
        except ApplicationError as error:
            error.fields = {f"lines.{index}.unit_price": [error.message]}
            raise
        lines.append(
            {
                "line_id": line.line_id,
                "product_id": line.product_id,
                "category_id": categories[line.product_id],
                "label_ids": sorted(labels.get(line.product_id, ())),
                "quantity": line.quantity,
                "unit_price": unit_price,
            }
        )
    return lines


def _customer_known(*, customer_id: int, brand_id: int) -> None:
    if not Customer.objects.filter(pk=customer_id, brand_links__brand_id=brand_id).exists():
        raise ApplicationError(
            "Unknown customer.",
            code="unknown_customer",
            fields={"customer.id": ["No such customer in this brand."]},
        )


def _ticket_store(*, device: PosDevice, ticket: TicketInput, currency: str) -> dict:
    store = device.store
    brand_id = store.brand_id
    result = ticket.result
    subtotal, discount_total, total = _device_totals(result)
    applied = _device_applied(result)
    customer = ticket.customer
    if customer is not None:
        _customer_known(customer_id=customer.id, brand_id=brand_id)
    basket = {"lines": _engine_basket(ticket=ticket, currency=currency, brand_id=brand_id)}
    now = int(ticket.local_time.timestamp())
    verifiable = ticket.engine_version == ENGINE_VERSION
    promotions = None
    if verifiable or ticket.vouchers:
        # A ticket of another engine is not priced, but its vouchers are still checked.
        promotions = bundle_release_promotions(store_id=store.pk, bundle_hash=ticket.bundle_hash)
    checks = [
        offline_voucher_check(payload=payload, promotions=promotions, now=now)
        if promotions is not None
        # Without the release nothing can be checked; the answer still names the code.
        else {
            **offline_voucher_check(payload=payload, promotions=[], now=now),
            "status": VOUCHER_UNCHECKED,
        }
        for payload in ticket.vouchers
    ]
    context = engine_context(
        at=ticket.local_time,
        time_zone=store.time_zone,
        channel="pos",
        store_id=store.pk,
        customer_id=customer and customer.id,
        customer_label_ids=customer.label_ids if customer else (),
        tier=customer and customer.tier,
        is_new_customer=bool(customer and customer.is_new),
        signed_in=bool(customer and customer.signed_in),
        payment_method=ticket.payment_method,
        codes=ticket.codes,
        customer_usage=customer.usage if customer else None,
        # Only what passed the check: a forged voucher never unlocks its promotion here.
        vouchers=[c["promotion_id"] for c in checks if c["status"] == VOUCHER_VALID],
    )

    server_result = None
    diff: list[dict] = []
    reason = ""
    if not verifiable:
        status, reason = PosTicket.Status.UNVERIFIABLE, ENGINE_VERSION_UNKNOWN
    elif promotions is None:
        status, reason = PosTicket.Status.UNVERIFIABLE, UNKNOWN_BUNDLE
    else:
        try:
            server_result = calculate(
                basket=basket,
                context=context,
                promotions=promotions,
                bundle_hash=ticket.bundle_hash,
            )
        except ValueError as error:
            raise ApplicationError(
                f"The basket cannot be priced: {error}.", code="invalid_basket"
            ) from None
        if canonical_json(result) == canonical_json(server_result):
            status = PosTicket.Status.ACCEPTED
        else:
            status = PosTicket.Status.MISMATCH
            diff = result_diff(result, server_result)

    ticket_row = PosTicket.objects.create(
        device=device,
        store=store,
        ticket_id=ticket.ticket_id,
        payload_hash=ticket.payload_hash,
        local_time=ticket.local_time,
        status=status,
        unverifiable_reason=reason,
        engine_version=ticket.engine_version,
        bundle_hash=ticket.bundle_hash,
        customer_id=customer and customer.id,
        currency=currency,
        subtotal=from_minor(subtotal, currency),
        discount_total=from_minor(discount_total, currency),
        total=from_minor(total, currency),
        basket=basket,
        context=context,
        device_result=result,
        server_result=server_result,
        diff=diff,
        response={},
    )
    overruns = _usage_record(
        ticket_row=ticket_row,
        applied=applied,
        brand_id=brand_id,
        customer_id=customer and customer.id,
        currency=currency,
    )
    vouchers = (
        _vouchers_record(
            ticket_row=ticket_row,
            checks=checks,
            applied=applied,
            brand_id=brand_id,
            customer_id=customer and customer.id,
        )
        if checks
        else None
    )
    if promotions is not None and customer is not None:
        # A sale priced offline under a running experiment exposes its customer, with the
        # variant the till assigned (the same rule as the server's).
        exposures_record(
            promotions=promotions,
            customer_id=customer.id,
            label_ids=customer.label_ids,
            tier=customer.tier,
            at=ticket.local_time,
        )
    answer = _answer(
        ticket_id=ticket.ticket_id,
        status=status,
        overrun_promotion_ids=overruns,
        unverifiable_reason=reason or None,
        mismatches=len(diff),
        vouchers=vouchers,
    )
    ticket_row.overrun = bool(overruns)
    ticket_row.overrun_promotion_ids = overruns
    ticket_row.voucher_conflict = bool(answer.get("voucher_conflict"))
    ticket_row.voucher_conflict_codes = answer.get("voucher_conflict_codes", [])
    ticket_row.response = answer
    ticket_row.save(
        update_fields=[
            "overrun",
            "overrun_promotion_ids",
            "voucher_conflict",
            "voucher_conflict_codes",
            "response",
        ]
    )
    return answer


def _vouchers_record(
    *,
    ticket_row: PosTicket,
    checks: list[dict],
    applied: dict[int, int],
    brand_id: int,
    customer_id: int | None,
) -> list[dict]:
    """Redeem for this sale the codes that counted: valid, of a promotion the device applied,
    the lowest code id of its promotion. One query finds them, then each is recorded in code id
    order (concurrent tickets take code rows in the same order; usage rows were taken before, as
    order placement does). What became of each voucher, in upload order; the same code twice in
    a ticket is one use."""
    eligible = [c["status"] == VOUCHER_VALID and c["promotion_id"] in applied for c in checks]
    wanted = sorted({c["code"] for c, ok in zip(checks, eligible, strict=True) if ok})
    found = brand_code_ids(brand_id=brand_id, codes=wanted)
    code_ids = [
        found.get((c["code"], c["batch_id"])) if ok else None
        for c, ok in zip(checks, eligible, strict=True)
    ]
    counted: dict[int, int] = {}  # promotion id -> the code id that counts
    for check, code_id in zip(checks, code_ids, strict=True):
        if code_id is not None:
            promotion_id = check["promotion_id"]
            counted[promotion_id] = min(code_id, counted.get(promotion_id, code_id))
    redeemed = {
        code_id: voucher_record_offline(
            code_id=code_id,
            ticket_id=ticket_row.pk,
            customer_id=customer_id,
            store_id=ticket_row.store_id,
            used_at=ticket_row.local_time,
        )
        for code_id in sorted(counted.values())
    }
    outcomes = []
    for check, code_id in zip(checks, code_ids, strict=True):
        status = check["status"]
        if status != VOUCHER_VALID:
            pass
        elif check["promotion_id"] not in applied:
            status = VOUCHER_NOT_APPLIED
        elif code_id is None:
            status = VOUCHER_UNKNOWN_CODE
        elif code_id not in redeemed:
            status = VOUCHER_ONE_PER_PROMOTION
        else:
            status = VOUCHER_REDEEMED if redeemed[code_id] else VOUCHER_REFUSED
        outcomes.append(
            {
                "code": check["code"],
                "batch_id": check["batch_id"],
                "promotion_id": check["promotion_id"],
                "status": status,
            }
        )
    return outcomes


def _usage_record(
    *,
    ticket_row: PosTicket,
    applied: dict[int, int],
    brand_id: int,
    customer_id: int | None,
    currency: str,
) -> list[int]:
    """Record one offline use per promotion of the brand the device applied (in id order, so
    concurrent tickets lock the usage rows in the same order); the ids that overran a limit."""
    known = Promotion.objects.filter(brand_id=brand_id, pk__in=applied).values_list("pk", flat=True)
    overruns = []
    for promotion_id in sorted(known):
        overran = usage_record_offline(
            promotion_id=promotion_id,
            customer_id=customer_id,
            amount=from_minor(applied[promotion_id], currency),
            uses=1,
            source=f"{USAGE_SOURCE}:{ticket_row.pk}",
        )
        if overran:
            overruns.append(promotion_id)
    return overruns


# --- logs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogLine:
    level: str
    logged_at: datetime
    message: str
    context: dict = field(default_factory=dict)


@transaction.atomic
def pos_logs_record(*, device: PosDevice, lines: Sequence[LogLine]) -> int:
    """Store a batch of the device's log lines (the view has charged them to its quota)."""
    rows = PosLog.objects.bulk_create(
        PosLog(
            device=device,
            store_id=device.store_id,
            level=line.level,
            logged_at=line.logged_at,
            message=line.message,
            context=line.context,
        )
        for line in lines
    )
    return len(rows)


def pos_logs_purge(*, now: datetime | None = None, chunk: int = 5000) -> int:
    """Delete the log lines received more than `POS_LOG_RETENTION_DAYS` ago, in chunks so a
    large backlog never holds one long transaction. Safe to run again: it only deletes."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.POS_LOG_RETENTION_DAYS)
    return purge_in_batches(PosLog.objects.filter(received_at__lt=cutoff), batch_size=chunk)
