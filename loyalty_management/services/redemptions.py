"""Spending points on the catalogue: the one way a redemption request moves.

`redemption_request` locks the customer's account, checks the item is within reach, reserves a
unit of stock with a conditional update (`stock > 0`) and holds the points on the ledger
(`held`). Approval keeps the points and fulfils wallet credit and codes (a discount, a percentage
or a product free, issued as the customer's reward) at once (a physical item waits for staff to
send it); rejection, cancellation and expiry give the points back (`released`) and the
unit back to stock. Locks are taken request, account, item, in that order everywhere, and every
step checks the request's status under its row lock, so a duplicate call changes nothing.
"""

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from brands.models import Brand
from core.errors import ApplicationError, ConflictError, NotFoundError
from customers.models import Customer
from loyalty_management.lock_objects import account_lock
from loyalty_management.models import RedemptionItem, RedemptionRequest
from loyalty_management.selectors import (
    program_for_brand,
    redemption_refusal,
    redemptions_used,
)
from loyalty_management.services.catalogue import CODE_KINDS
from loyalty_management.services.ledger import (
    account_get_or_create,
    ledger_hold,
    ledger_hold_release,
)
from notifications.services import NotificationService
from rewards.models import CustomerReward
from rewards.services import RewardSpec, reward_issue
from wallets.services import wallet_credit

logger = logging.getLogger(__name__)

Status = RedemptionRequest.Status
REQUESTED_EVENT = "loyalty.redemption.requested"
APPROVED_EVENT = "loyalty.redemption.approved"
REJECTED_EVENT = "loyalty.redemption.rejected"
CLOSED = (Status.REJECTED, Status.CANCELLED, Status.EXPIRED)
SWEEP_BATCH = 500


def _notify(event: str, request: RedemptionRequest, **extra) -> None:
    NotificationService.send_notification(
        event=event,
        payload={
            "redemption_id": request.pk,
            "item": request.item.name,
            "points": request.points,
            "status": request.status,
            **extra,
        },
        customer=request.customer,
        brand=request.brand,
    )


@transaction.atomic
def redemption_request(
    *,
    customer: Customer,
    brand: Brand,
    item_id: int,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> tuple[RedemptionRequest, bool]:
    """The customer spends points on the item. Returns the request and whether it was made now
    (a replay of `idempotency_key` returns the first request; the same key for another item is
    refused with `idempotency_key_reused`). Refused, changing nothing, when the item is out of
    reach: `not_available`, `not_valid_now`, `tier_too_low`, `limit_reached`, `out_of_stock`,
    `insufficient_points` (or `loyalty_account_negative`)."""
    now = now or timezone.now()
    item = RedemptionItem.objects.filter(brand=brand, pk=item_id).select_related("category").first()
    if item is None:
        raise NotFoundError("No such item in the catalogue.", code="not_found")
    program = program_for_brand(brand_id=brand.pk)
    if program is None:
        raise ConflictError("This brand has no loyalty programme.", code="no_loyalty_program")
    account = account_lock(account_id=account_get_or_create(customer=customer, program=program).pk)
    if idempotency_key:
        first = RedemptionRequest.objects.filter(
            customer=customer, idempotency_key=idempotency_key
        ).first()
        if first is not None:
            if first.item_id != item.pk or first.brand_id != brand.pk:
                raise ConflictError(
                    "This Idempotency-Key was already used for another request.",
                    code="idempotency_key_reused",
                )
            return first, False
    used_total, used_in_period = redemptions_used(item=item, customer_id=customer.pk, now=now)
    refusal = redemption_refusal(
        item=item,
        points=account.available_points,
        tier=account.tier,
        used_total=used_total,
        used_in_period=used_in_period,
        now=now,
        check_stock=False,
    )
    if refusal is not None:
        raise ConflictError(refusal.message, code=refusal.code)
    reserved = False
    if item.stock is not None:
        reserved = bool(
            RedemptionItem.objects.filter(pk=item.pk, stock__gt=0).update(stock=F("stock") - 1)
        )
        if not reserved:
            raise ConflictError("This item is out of stock.", code="out_of_stock")
    hold = ledger_hold(
        account_id=account.pk,
        points=item.points_cost,
        idempotency_key=f"redemption:hold:{uuid.uuid4().hex}",
        reason=f"Held for {item.name}.",
    ).transaction
    request = RedemptionRequest.objects.create(
        brand=brand,
        item=item,
        customer=customer,
        account=account,
        points=item.points_cost,
        idempotency_key=idempotency_key or None,
        hold=hold,
        stock_reserved=reserved,
    )
    _notify(REQUESTED_EVENT, request)
    if item.auto_approve:
        _approve(request, actor=None, now=now)
    return request, True


def _request_lock(request_id: int, brand_ids=None) -> RedemptionRequest:
    requests = RedemptionRequest.objects.select_for_update(of=("self",)).select_related(
        "item", "customer", "brand"
    )
    if brand_ids is not None:
        requests = requests.filter(brand_id__in=brand_ids)
    request = requests.filter(pk=request_id).first()
    if request is None:
        raise NotFoundError("No such redemption request.", code="not_found")
    return request


def _not_pending(request: RedemptionRequest) -> ConflictError:
    return ConflictError(
        f"This request is already {request.get_status_display().lower()}.",
        code="redemption_not_pending",
    )


def _approve(request: RedemptionRequest, *, actor, now: datetime) -> None:
    """Approve a locked, requested request: the held points are spent, wallet credit is
    credited at once and a discount or free product code issued at once (`reward_issue`, keyed
    by the request; the request is then fulfilled), a physical item waits to be sent."""
    request.status = Status.APPROVED
    request.decided_by = actor
    request.decided_at = now
    item = request.item
    if item.kind == RedemptionItem.Kind.WALLET_CREDIT:
        request.wallet_transaction = wallet_credit(
            customer=request.customer,
            brand=request.brand,
            amount=item.wallet_amount,
            idempotency_key=f"redemption:{request.pk}",
            reason=f"Redeemed {request.points} points for {item.name}.",
        ).transaction
        request.status = Status.FULFILLED
        request.fulfilled_at = now
    elif item.kind in CODE_KINDS:
        request.reward, _ = reward_issue(
            customer=request.customer,
            brand=request.brand,
            spec=RewardSpec(
                name=item.name,
                kind=item.kind,
                amount=item.discount_amount,
                percentage=item.discount_percentage,
                product_id=item.product_id,
                valid_days=item.code_valid_days,
            ),
            idempotency_key=f"redemption:{request.pk}",
            source=CustomerReward.Source.REDEMPTION,
            reason=f"Redeemed {request.points} points for {item.name}.",
            now=now,
        )
        request.status = Status.FULFILLED
        request.fulfilled_at = now
    else:
        request.fulfilment_status = RedemptionRequest.Fulfilment.TO_SEND
    request.save(
        update_fields=[
            "status",
            "decided_by",
            "decided_at",
            "wallet_transaction",
            "reward",
            "fulfilled_at",
            "fulfilment_status",
            "updated_at",
        ]
    )
    _notify(APPROVED_EVENT, request)


def _release(request: RedemptionRequest, *, status: str, reason: str = "", actor=None) -> None:
    """Close a locked, requested request: give the points and the reserved unit back."""
    account_lock(account_id=request.account_id)
    request.release = ledger_hold_release(
        hold=request.hold,
        idempotency_key=f"redemption:release:{request.pk}",
        reason=reason or f"{request.item.name}: {status}.",
    ).transaction
    if request.stock_reserved:
        RedemptionItem.objects.filter(pk=request.item_id, stock__isnull=False).update(
            stock=F("stock") + 1
        )
    request.status = status
    request.reason = reason
    request.decided_by = actor
    request.decided_at = timezone.now()
    request.save(
        update_fields=["release", "status", "reason", "decided_by", "decided_at", "updated_at"]
    )


@transaction.atomic
def redemption_approve(
    *, request_id: int, actor, brand_ids=None, now: datetime | None = None
) -> tuple[RedemptionRequest, bool]:
    """Staff approve a waiting request. Returns it and whether it was approved now (approving
    it again changes nothing); a closed request is refused with `redemption_not_pending`."""
    request = _request_lock(request_id, brand_ids)
    if request.status in (Status.APPROVED, Status.FULFILLED):
        return request, False
    if request.status != Status.REQUESTED:
        raise _not_pending(request)
    _approve(request, actor=actor, now=now or timezone.now())
    return request, True


def _reason_checked(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(
            "A reason is required.", code="reason_required", fields={"reason": ["Required."]}
        )
    return reason[:255]


@transaction.atomic
def redemption_reject(
    *, request_id: int, actor, reason: str, brand_ids=None
) -> tuple[RedemptionRequest, bool]:
    """Staff reject a waiting request with a reason: the points and the unit go back. Returns
    it and whether it was rejected now (rejecting it again changes nothing)."""
    reason = _reason_checked(reason)
    request = _request_lock(request_id, brand_ids)
    if request.status == Status.REJECTED:
        return request, False
    if request.status != Status.REQUESTED:
        raise _not_pending(request)
    _release(request, status=Status.REJECTED, reason=reason, actor=actor)
    _notify(REJECTED_EVENT, request, reason=reason)
    return request, True


@transaction.atomic
def redemption_cancel(*, request_id: int, customer: Customer) -> tuple[RedemptionRequest, bool]:
    """The customer withdraws a request still waiting for approval; the points go back."""
    request = _request_lock(request_id)
    if request.customer_id != customer.pk:
        raise NotFoundError("No such redemption request.", code="not_found")
    if request.status == Status.CANCELLED:
        return request, False
    if request.status != Status.REQUESTED:
        raise _not_pending(request)
    _release(request, status=Status.CANCELLED)
    return request, True


@transaction.atomic
def redemption_fulfil(
    *, request_id: int, actor, fulfilment_status: str, note: str = "", brand_ids=None
) -> RedemptionRequest:
    """Staff record how an approved physical item is sent; sent or delivered fulfils it."""
    if fulfilment_status not in (
        RedemptionRequest.Fulfilment.TO_SEND,
        RedemptionRequest.Fulfilment.SENT,
        RedemptionRequest.Fulfilment.DELIVERED,
    ):
        raise ApplicationError(
            "Choose to send, sent or delivered.",
            code="invalid_fulfilment_status",
            fields={"fulfilment_status": ["Choose to_send, sent or delivered."]},
        )
    request = _request_lock(request_id, brand_ids)
    if request.item.kind != RedemptionItem.Kind.PHYSICAL or request.status not in (
        Status.APPROVED,
        Status.FULFILLED,
    ):
        raise ConflictError(
            "Only an approved physical item is sent by hand.", code="redemption_not_physical"
        )
    request.fulfilment_status = fulfilment_status
    request.fulfilment_note = note[:255]
    if fulfilment_status != RedemptionRequest.Fulfilment.TO_SEND:
        request.status = Status.FULFILLED
        request.fulfilled_at = request.fulfilled_at or timezone.now()
    request.save(
        update_fields=[
            "fulfilment_status",
            "fulfilment_note",
            "status",
            "fulfilled_at",
            "updated_at",
        ]
    )
    return request


@transaction.atomic
def redemption_expire(*, request_id: int) -> bool:
    """Expire one request still waiting; False when it no longer waits."""
    request = _request_lock(request_id)
    if request.status != Status.REQUESTED:
        return False
    _release(request, status=Status.EXPIRED, reason="Not decided in time.")
    return True


def redemptions_expire(*, now: datetime | None = None, after: timedelta | None = None) -> int:
    """Sweep: expire requests waiting for approval longer than `after`
    (`REDEMPTION_APPROVAL_TIMEOUT_DAYS`), one per transaction; safe to run twice or at once."""
    now = now or timezone.now()
    after = after or timedelta(days=settings.REDEMPTION_APPROVAL_TIMEOUT_DAYS)
    expired = after_id = 0
    while True:
        ids = list(
            RedemptionRequest.objects.filter(
                status=Status.REQUESTED, created_at__lt=now - after, pk__gt=after_id
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        if not ids:
            return expired
        for request_id in ids:
            expired += redemption_expire(request_id=request_id)
        after_id = ids[-1]


def redemptions_decide(
    *, request_ids: list[int], approve: bool, reason: str, actor, brand_ids=None
) -> list[dict]:
    """Approve, or reject with `reason`, each request on its own (one transaction each).
    Returns per id its status, or the code and message of why it was refused."""
    if not approve:
        reason = _reason_checked(reason)
    results = []
    for request_id in dict.fromkeys(request_ids):
        try:
            if approve:
                request, _ = redemption_approve(
                    request_id=request_id, actor=actor, brand_ids=brand_ids
                )
            else:
                request, _ = redemption_reject(
                    request_id=request_id, actor=actor, reason=reason, brand_ids=brand_ids
                )
        except ApplicationError as error:
            results.append(
                {"id": request_id, "status": None, "code": error.code, "message": error.message}
            )
        else:
            results.append(
                {"id": request_id, "status": request.status, "code": None, "message": None}
            )
    return results
