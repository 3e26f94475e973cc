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
from datetime import datetime, timedelta
from typing import Any

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


def _resend_after(sends: int) -> timedelta:
    base = settings.OUTBOX_RESEND_AFTER_SECONDS
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


def _send(message: OutboxMessage, producer=None) -> bool:
    """Hand one message to the broker (or run it, with eager tasks), through `producer` when
    given. Never raises: a message that could not be sent is due at once for the sweep.
    Whether it was sent."""
    from config.celery_app import app

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
    except Exception as exc:  # the broker is down or refused: the sweep sends it again
        logger.warning(
            "Outbox message %s (%s) not sent, the sweep will send it: %s",
            message.pk,
            message.task,
            type(exc).__name__,
        )
        try:
            OutboxMessage.objects.filter(pk=message.pk, done_at__isnull=True).update(
                due_at=timezone.now(), last_error=_error_text(exc)
            )
        except Exception:  # the row keeps its first due time
            logger.exception("Outbox message %s: could not record the failed send.", message.pk)
        return False
    return True


def outbox_sweep(*, now: datetime | None = None) -> int:
    """Send again every message that is not done and whose due time has passed, pushing each
    one's next due time back first. Safe to run concurrently (rows are claimed with SKIP
    LOCKED) and at any time. Returns how many messages were sent."""
    now = now or timezone.now()
    sent = 0
    while True:
        with transaction.atomic():
            batch = list(
                OutboxMessage.objects.select_for_update(skip_locked=True)
                .filter(done_at__isnull=True, due_at__lte=now)
                .order_by("due_at", "pk")[:SWEEP_BATCH]
            )
            for message in batch:
                message.sends += 1
                message.due_at = now + _resend_after(message.sends)
            OutboxMessage.objects.bulk_update(batch, ["sends", "due_at"])
        sent += _send_all(batch)
        if len(batch) < SWEEP_BATCH:
            break
    if sent:
        logger.info("Outbox sweep sent %s messages again.", sent)
    return sent


def _send_all(messages: list[OutboxMessage]) -> int:
    """Send `messages` through one producer (one broker connection for the batch)."""
    from config.celery_app import app

    if not messages:
        return 0
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
