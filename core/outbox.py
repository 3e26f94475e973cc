"""The transactional outbox: the one way to owe work after a commit.

A service that changes something whose effect must follow (points to award or take back, a rule
event, a notification to deliver, bundles to publish) calls `outbox_enqueue` inside its
transaction. That writes an `OutboxMessage` row with the change, so both commit or neither does,
and sends the task to the broker once the transaction commits.

- Sent and done: the worker marks the row done when the task succeeds (`task_success`).
- The broker is down at commit: nothing raises into the request; the row stays due and
  `outbox_sweep` (beat, every minute) sends it when the broker is back.
- The worker dies mid-task, or the task fails: the row is not done, so the sweep sends it again
  once `due_at` has passed, with a growing delay (`OUTBOX_RESEND_AFTER_SECONDS`, doubled per
  send, at most `OUTBOX_RESEND_MAX_SECONDS`), until it succeeds.

A task may thus run more than once, never zero times; every task sent through the outbox is
idempotent (a unique key or a conditional update claims its work), which makes the effect
happen exactly once.
"""

import logging
import re
import time
from datetime import datetime, timedelta
from typing import Any

from celery.exceptions import NotRegistered
from celery.signals import task_failure, task_success
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from core.models import OutboxMessage
from core.retention import purge_in_batches

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500
ERROR_MAX_LENGTH = 2000
# Publishing to a broker that is down fails fast: the sweep sends the message later.
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
TASK_ID = re.compile(r"^outbox-(\d+)-\d+$")


def _resend_after(sends: int, *, base: int | None = None) -> timedelta:
    base = settings.OUTBOX_RESEND_AFTER_SECONDS if base is None else base
    return timedelta(seconds=min(base * 2**sends, settings.OUTBOX_RESEND_MAX_SECONDS))


def outbox_enqueue(*, task: str, kwargs: dict[str, Any]) -> OutboxMessage:
    """Owe `task(**kwargs)` once the current transaction commits (at once outside one).
    `kwargs` must be JSON: ids and plain values."""
    message = OutboxMessage.objects.create(
        task=task, kwargs=kwargs, due_at=timezone.now() + _resend_after(0)
    )

    def send() -> None:
        _send(message)

    transaction.on_commit(send)
    return message


class _BrokerFailures:
    """After a send fails, this process sends nothing more to the broker for
    `OUTBOX_SEND_RETRY_SECONDS` (what is owed waits for the sweep), so a request that owes
    several effects waits on a dead or hung broker once, not once per effect."""

    def __init__(self) -> None:
        self.until = 0.0
        self.error: BaseException | None = None

    def failing(self) -> bool:
        return time.monotonic() < self.until

    def record(self, error: BaseException) -> None:
        self.error = error
        self.until = time.monotonic() + settings.OUTBOX_SEND_RETRY_SECONDS

    def clear(self) -> None:
        self.until, self.error = 0.0, None


broker_failures = _BrokerFailures()


def _send(message: OutboxMessage, producer=None) -> bool:
    """Hand one message to the broker (or run it, with eager tasks), through `producer` when
    given. Never raises: a message that could not be sent (or was not tried, the broker having
    just failed) is due again after `OUTBOX_SEND_RETRY_SECONDS`, doubled per send so far, for
    the sweep. Whether it was sent."""
    from config.celery_app import app

    if broker_failures.failing():
        _record_unsent(message, broker_failures.error)
        return False
    try:
        if message.task not in app.tasks:  # the apps' task modules are imported lazily
            autodiscover_modules("tasks")
        app.tasks[message.task].apply_async(
            kwargs=message.kwargs,
            task_id=f"outbox-{message.pk}-{message.sends}",
            retry=True,
            retry_policy=PUBLISH_RETRY_POLICY,
            producer=producer,
        )
    except Exception as exc:  # the broker is down, hung or refused: the sweep sends it again
        if not isinstance(exc, NotRegistered):
            broker_failures.record(exc)
        _record_unsent(message, exc)
        return False
    broker_failures.clear()
    return True


def _record_unsent(message: OutboxMessage, exc: BaseException | None) -> None:
    logger.warning(
        "Outbox message %s (%s) not sent, the sweep will send it: %s",
        message.pk,
        message.task,
        type(exc).__name__,
    )
    try:
        retry_at = timezone.now() + _resend_after(
            message.sends, base=settings.OUTBOX_SEND_RETRY_SECONDS
        )
        OutboxMessage.objects.filter(pk=message.pk, done_at__isnull=True).update(
            due_at=retry_at, last_error=_error_text(exc) if exc else ""
        )
    except Exception:  # the row keeps its first due time
        logger.exception("Outbox message %s: could not record the failed send.", message.pk)


def outbox_sweep(*, now: datetime | None = None) -> int:
    """Send again every message that is not done and whose due time has passed, pushing each
    one's next due time back first. Safe to run concurrently (rows are claimed with SKIP
    LOCKED) and at any time. Returns how many messages were sent."""
    now = now or timezone.now()
    sent = 0
    while True:
        batch = _claim(
            OutboxMessage.objects.filter(due_at__lte=now).order_by("due_at", "pk"), now=now
        )
        sent += _send_all(batch)
        if len(batch) < SWEEP_BATCH:
            break
    if sent:
        logger.info("Outbox sweep sent %s messages again.", sent)
    return sent


def outbox_send_now(*, message_ids: list[int]) -> tuple[int, int]:
    """Send these messages again now, whatever their due time (the admin's action). Returns
    how many of them were not done yet, and how many of those were sent."""
    batch = _claim(OutboxMessage.objects.filter(pk__in=message_ids).order_by("pk"))
    return len(batch), _send_all(batch)


def _claim(queryset, *, now: datetime | None = None) -> list[OutboxMessage]:
    """Lock up to a batch of the not-done messages of `queryset` (skipping those another
    sweep holds), count a send for each and push its due time back, and commit that."""
    now = now or timezone.now()
    with transaction.atomic():
        batch = list(
            queryset.select_for_update(skip_locked=True).filter(done_at__isnull=True)[:SWEEP_BATCH]
        )
        for message in batch:
            message.sends += 1
            message.due_at = now + _resend_after(message.sends)
        OutboxMessage.objects.bulk_update(batch, ["sends", "due_at"])
    return batch


def _send_all(messages: list[OutboxMessage]) -> int:
    """Send `messages` through one producer (one broker connection for the batch). The sweep
    tries the broker again even if it failed a moment ago; the first failure leaves the rest of
    the batch to the next sweep."""
    from config.celery_app import app

    if not messages:
        return 0
    broker_failures.clear()
    try:
        with app.producer_or_acquire() as producer:
            return sum(_send(message, producer) for message in messages)
    except Exception:  # the pool could not even give a producer: try each on its own
        return sum(_send(message) for message in messages)


def outbox_purge(*, now: datetime | None = None) -> int:
    """Delete messages done more than `OUTBOX_RETENTION_DAYS` ago. Returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.OUTBOX_RETENTION_DAYS)
    return purge_in_batches(
        OutboxMessage.objects.filter(done_at__lt=cutoff), batch_size=settings.RETENTION_BATCH_SIZE
    )


def outbox_backlog() -> dict[str, Any]:
    """How many messages are not done yet, and the age in seconds of the oldest."""
    pending = OutboxMessage.objects.filter(done_at__isnull=True)
    oldest = pending.order_by("created_at").values_list("created_at", flat=True).first()
    age = (timezone.now() - oldest).total_seconds() if oldest else 0
    return {"pending": pending.count(), "oldest_seconds": round(age, 1)}


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_MAX_LENGTH]


def _message_id(task_id: str | None) -> int | None:
    match = TASK_ID.match(task_id or "")
    return int(match.group(1)) if match else None


@task_success.connect(dispatch_uid="core.outbox.mark_done")
def _mark_done(sender=None, **kwargs) -> None:
    message_id = _message_id(getattr(sender.request, "id", None))
    if message_id is not None:
        OutboxMessage.objects.filter(pk=message_id, done_at__isnull=True).update(
            done_at=timezone.now(), last_error=""
        )


@task_failure.connect(dispatch_uid="core.outbox.record_failure")
def _record_failure(sender=None, task_id=None, exception=None, **kwargs) -> None:
    message_id = _message_id(task_id)
    if message_id is not None and exception is not None:
        OutboxMessage.objects.filter(pk=message_id, done_at__isnull=True).update(
            last_error=_error_text(exception)
        )
