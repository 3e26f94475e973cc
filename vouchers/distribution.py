"""Distribution: send each customer of a customer label one code of a batch, by email.

`voucher_batch_distribute` gives every customer of the label who is known to the batch's brand
one distinct code of the batch and notifies them (`voucher.assigned`, through
`NotificationService`: an inbox message and an email). It is a sweep that can be re-run, and two
runs at once are safe:

- Customers are read by keyset over their ids, `DISTRIBUTION_BATCH` at a time, and each batch of
  customers is one transaction that first locks the voucher batch's row: concurrent runs take
  turns chunk by chunk, and inside the lock a customer who already holds a code of the batch is
  skipped. So no customer ever gets two codes of the batch, and nobody is notified twice.
- Codes are picked with `select_for_update(skip_locked=True)` (a code an order is reserving at
  that moment is left alone) and each is claimed by a conditional UPDATE (still unassigned,
  available and unused), so a code never goes to two customers.
- A code and its notice are written in one savepoint: a notice that cannot be recorded gives the
  code back, and the next run tries that customer again. Emails leave after the commit (outbox).

Customers whose personal data was erased, and customers without an email address (the channel a
code is sent by), are skipped and counted. When the batch's codes run out the run stops and
reports how many customers of the label are still without a code.

SMS is not built: no SMS provider library is configured in this project, so codes go by email
(with a copy in the customer's inbox) only.
"""

import logging
from dataclasses import asdict, dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.errors import ApplicationError, NotFoundError
from core.outbox import outbox_enqueue
from customers.models import Customer
from labels.models import Label
from notifications.services import NotificationService
from promotions.models import Promotion
from vouchers.models import VoucherBatch, VoucherCode

logger = logging.getLogger(__name__)

ASSIGNED_EVENT = "voucher.assigned"
DISTRIBUTION_BATCH = 500
DISTRIBUTE_TASK = "vouchers.distribute_batch"

CS = VoucherCode.Status


@dataclass
class DistributionResult:
    batch_id: int
    label_id: int
    assigned: int = 0  # codes given, and notices sent, by this run
    already: int = 0  # customers who already held a code of the batch
    skipped_erased: int = 0  # customers of the label whose personal data was erased
    skipped_no_email: int = 0  # customers of the label without an email address
    failed: int = 0  # notices that could not be recorded (their code was given back)
    without_code: int = 0  # reachable customers still without a code after the run
    exhausted: bool = False  # the batch ran out of codes
    chunks: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


class _NoticeNotRecorded(Exception):
    """Rolls back the savepoint of one assignment whose notice was not recorded."""


def _refused(message: str, code: str) -> ApplicationError:
    return ApplicationError(message, code=code)


def _distributable(*, batch_id: int, label_id: int, now: datetime) -> tuple[VoucherBatch, Label]:
    """The batch and the label, or the reason codes of the batch cannot go to the label."""
    batch = VoucherBatch.objects.select_related("promotion").filter(pk=batch_id).first()
    if batch is None:
        raise NotFoundError("Voucher batch not found.", code="voucher_batch_not_found")
    label = Label.objects.filter(pk=label_id).first()
    if label is None:
        raise NotFoundError("Label not found.", code="label_not_found")
    if label.type != Label.Type.CUSTOMER or label.brand_id not in (None, batch.brand_id):
        raise _refused(
            "Choose a customer label of the batch's brand, or a global one.", "invalid_label"
        )
    if batch.voided_at is not None:
        raise _refused("This batch is voided: its codes cannot be sent.", "voucher_batch_voided")
    if batch.status != VoucherBatch.Status.READY:
        raise _refused(
            "This batch is not ready: send its codes once they are generated.",
            "voucher_batch_not_ready",
        )
    if batch.customer_id is not None:
        raise _refused(
            "This batch's codes belong to one customer; they cannot be sent to a label.",
            "voucher_batch_personal",
        )
    ended = batch.valid_until is not None and batch.valid_until <= now
    if ended or batch.promotion.status == Promotion.Status.ENDED:
        raise _refused("This batch's offer has ended.", "voucher_batch_ended")
    return batch, label


def _label_customers(*, batch: VoucherBatch, label_id: int) -> QuerySet[Customer]:
    """The label's customers known to the batch's brand (one row each: both links are unique
    per customer)."""
    return Customer.objects.filter(
        label_assignments__label_id=label_id, brand_links__brand_id=batch.brand_id
    )


def _reachable(customers: QuerySet[Customer]) -> QuerySet[Customer]:
    return customers.filter(erased_at__isnull=True, email__isnull=False).exclude(email="")


def _validity(batch: VoucherBatch, now: datetime) -> tuple[datetime | None, datetime | None]:
    """When the code can be used: the batch's window within its promotion's (the start only
    when it is still to come)."""
    promotion = batch.promotion
    starts = [d for d in (batch.valid_from, promotion.starts_at) if d is not None and d > now]
    ends = [d for d in (batch.valid_until, promotion.ends_at) if d is not None]
    return (max(starts) if starts else None, min(ends) if ends else None)


def _assign(
    *, batch: VoucherBatch, customer: Customer, code: VoucherCode, now: datetime, payload: dict
) -> str:
    """Claim `code` for `customer` and notify them, in one savepoint: "assigned", "taken" (the
    code was no longer free) or "failed" (the notice was not recorded; the code is free again)."""
    try:
        with transaction.atomic():
            claimed = VoucherCode.objects.filter(
                pk=code.pk, customer__isnull=True, status=CS.AVAILABLE, uses=0
            ).update(customer_id=customer.pk, assigned_at=now)
            if not claimed:
                return "taken"
            notification = NotificationService.send_notification(
                event=ASSIGNED_EVENT,
                payload={**payload, "code_id": code.pk, "code": code.code},
                customer=customer,
                brand=batch.brand,
            )
            if notification is None:
                raise _NoticeNotRecorded
    except _NoticeNotRecorded:
        logger.warning(
            "Voucher batch %s: the notice to customer %s was not recorded; code %s is free again.",
            batch.pk,
            customer.pk,
            code.pk,
        )
        return "failed"
    return "assigned"


def _chunk_distribute(
    *, batch_id: int, customers: list[Customer], now: datetime, into: DistributionResult
) -> bool:
    """One chunk of customers under the batch's row lock; False when the codes ran out."""
    with transaction.atomic():
        batch = (
            VoucherBatch.objects.select_for_update(of=("self",))
            .select_related("brand", "promotion")
            .get(pk=batch_id)
        )
        if batch.voided_at is not None:
            raise _refused(
                "This batch was voided while its codes were sent.", "voucher_batch_voided"
            )
        held = set(
            VoucherCode.objects.filter(
                batch_id=batch_id, customer_id__in=[c.pk for c in customers]
            ).values_list("customer_id", flat=True)
        )
        into.already += len(held)
        todo = [customer for customer in customers if customer.pk not in held]
        if not todo:
            return True
        codes = list(
            VoucherCode.objects.select_for_update(skip_locked=True)
            .filter(batch_id=batch_id, customer__isnull=True, status=CS.AVAILABLE, uses=0)
            .order_by("pk")[: len(todo)]
        )
        valid_from, valid_until = _validity(batch, now)
        payload = {
            "batch_id": batch.pk,
            "promotion_id": batch.promotion_id,
            "promotion": batch.promotion.name,
            "valid_from": valid_from,
            "valid_until": valid_until,
        }
        for customer, code in zip(todo, codes, strict=False):
            outcome = _assign(batch=batch, customer=customer, code=code, now=now, payload=payload)
            if outcome == "assigned":
                into.assigned += 1
            elif outcome == "failed":
                into.failed += 1
        return len(codes) == len(todo)


def voucher_batch_distribute(
    *, batch_id: int, label_id: int, actor=None, chunk: int = DISTRIBUTION_BATCH
) -> DistributionResult:
    """Give each reachable customer of the label one code of the batch and notify them (see the
    module docstring). Running it again, or twice at once, gives nobody a second code and sends
    nothing twice; a customer added to the label since gets a code on the next run."""
    now = timezone.now()
    batch, label = _distributable(batch_id=batch_id, label_id=label_id, now=now)
    result = DistributionResult(batch_id=batch.pk, label_id=label.pk)
    members = _label_customers(batch=batch, label_id=label.pk)
    result.skipped_erased = members.filter(erased_at__isnull=False).count()
    result.skipped_no_email = (
        members.filter(erased_at__isnull=True).filter(Q(email__isnull=True) | Q(email="")).count()
    )
    reachable = _reachable(members).order_by("pk")
    last_id = 0
    while customers := list(reachable.filter(pk__gt=last_id)[:chunk]):
        result.chunks += 1
        last_id = customers[-1].pk
        if not _chunk_distribute(batch_id=batch.pk, customers=customers, now=now, into=result):
            result.exhausted = True
            break
    holders = VoucherCode.objects.filter(batch_id=batch.pk, customer__isnull=False).values(
        "customer_id"
    )
    result.without_code = reachable.exclude(pk__in=holders).count()
    if result.exhausted:
        logger.warning(
            "Voucher batch %s ran out of codes: %s customers of label %s got none.",
            batch.pk,
            result.without_code,
            label.pk,
        )
    logger.info(
        "Voucher batch %s sent to label %s by %s: %s assigned, %s already held one, "
        "%s without a code.",
        batch.pk,
        label.pk,
        getattr(actor, "pk", None),
        result.assigned,
        result.already,
        result.without_code,
    )
    return result


@transaction.atomic
def voucher_batch_distribution_request(*, batch_id: int, label_id: int, actor=None) -> None:
    """Check that the batch's codes can go to the label, and owe the distribution to a worker
    (`vouchers.distribute_batch`, through the outbox, after the commit)."""
    _distributable(batch_id=batch_id, label_id=label_id, now=timezone.now())
    outbox_enqueue(task=DISTRIBUTE_TASK, kwargs={"batch_id": batch_id, "label_id": label_id})
    logger.info(
        "Voucher batch %s: distribution to label %s requested by %s.",
        batch_id,
        label_id,
        getattr(actor, "pk", None),
    )
