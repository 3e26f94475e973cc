"""Writes for notifications. `NotificationService.send_notification` is the one way to notify.

A call records a `Notification`, writes the customer's inbox message at once, and creates one
`NotificationDelivery` per other channel: an email when the customer has an address, and a
webhook per active endpoint subscribed to the event. Email and webhook deliveries are sent by
`notifications.deliver_notification` after the caller's transaction commits; each try writes a
`DeliveryAttempt`, transient failures are retried with exponential backoff, and the
`notifications.requeue_stale_deliveries` sweep picks up deliveries whose task was lost.

A missing template, an unknown event name or a failed delivery is recorded and logged; it never
raises into the caller and never rolls back the caller's own work.
"""

import json
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import monotonic
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from brands.models import Brand
from core.errors import ApplicationError, ConflictError, NotFoundError
from core.outbox import outbox_enqueue
from core.retention import purge_in_batches
from customers.models import Customer
from notifications import selectors
from notifications.models import (
    Channel,
    DeliveryAttempt,
    InboxMessage,
    Notification,
    NotificationDelivery,
    NotificationTemplate,
    validate_event_name,
)
from notifications.rendering import TemplateRenderError, render_message
from notifications.senders import SendResult, email_send, webhook_post

logger = logging.getLogger(__name__)

Status = NotificationDelivery.Status

MAX_ATTEMPTS = 6  # the first try and 5 retries
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 30 * 60
# Longer than a task may run (CELERY_TASK_TIME_LIMIT) plus the webhook timeout.
STALE_CLAIM_AFTER = timedelta(minutes=10)
# A pending delivery this long past its due time lost its task (the broker was down).
LOST_PENDING_AFTER = timedelta(minutes=5)
REQUEUE_BATCH = 500
TASK_CHANNELS = (Channel.EMAIL, Channel.WEBHOOK)


class NotificationService:
    """The one entry point other apps call to notify customers and webhook receivers."""

    @staticmethod
    def send_notification(
        *,
        event: str,
        payload: Mapping[str, Any],
        customer: Customer | None = None,
        brand: Brand | None = None,
    ) -> Notification | None:
        """Record `event` and deliver it on every channel that applies. Never raises.

        - `event`: a dotted lower-case name, for example "loyalty.points.earned".
        - `payload`: JSON-able data (Decimal, dates and UUIDs are fine); its keys are template
          variables next to `event`, `customer` and `brand`, and it is the webhook's `payload`.
        - `customer`: gets the inbox message and the email; None for brand-level events.
        - `brand`: selects the brand's templates (else the global ones) and webhook endpoints.

        Runs in a savepoint of the caller's transaction: emails and webhooks leave only if the
        caller commits, and an error here rolls back only the notification (it is logged and
        None is returned).
        """
        try:
            return notification_send(event=event, payload=payload, customer=customer, brand=brand)
        except Exception:
            logger.exception("Notification %r was not recorded.", event)
            return None


# --- Sending ------------------------------------------------------------------------------------


def customer_context(customer: Customer | None) -> dict[str, Any] | None:
    if customer is None:
        return None
    return {
        "id": customer.pk,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "full_name": customer.full_name,
        "email": customer.email or "",
    }


def brand_context(brand: Brand | None) -> dict[str, Any] | None:
    if brand is None:
        return None
    return {"id": brand.pk, "name": brand.name, "slug": brand.slug}


def template_context(
    *, event: str, payload: dict[str, Any], customer: Customer | None, brand: Brand | None
) -> dict[str, Any]:
    """Payload keys, then `event`, `customer` and `brand` (which win over payload keys)."""
    return {
        **payload,
        "event": event,
        "customer": customer_context(customer),
        "brand": brand_context(brand),
    }


def _no_template(event: str, channel: str) -> str:
    return f"No template for event {event} on channel {channel}."


@transaction.atomic
def notification_send(
    *,
    event: str,
    payload: Mapping[str, Any],
    customer: Customer | None = None,
    brand: Brand | None = None,
) -> Notification:
    """Record and deliver one event (see `NotificationService.send_notification`). Raises on
    bad input; the savepoint of `transaction.atomic` keeps the caller's work intact."""
    validate_event_name(event)
    if not isinstance(payload, Mapping):
        raise ApplicationError("The payload must be a mapping.", code="invalid_payload")
    # A JSON round trip: what templates see is exactly what is stored and sent.
    data = json.loads(json.dumps(dict(payload), cls=DjangoJSONEncoder))
    notification = Notification.objects.create(
        event=event, payload=data, brand=brand, customer=customer
    )
    templates = selectors.templates_for_event(event=event, brand=brand)
    context = template_context(event=event, payload=data, customer=customer, brand=brand)

    to_send: list[NotificationDelivery] = []
    if customer is not None:
        _inbox_deliver(
            notification=notification, template=templates.get(Channel.INBOX), context=context
        )
        email = _email_prepare(
            notification=notification, template=templates.get(Channel.EMAIL), context=context
        )
        if email.status == Status.PENDING:
            to_send.append(email)
    for endpoint in selectors.webhook_endpoints_for_event(event=event, brand=brand):
        to_send.append(
            NotificationDelivery.objects.create(
                notification=notification,
                channel=Channel.WEBHOOK,
                recipient=endpoint.url,
                endpoint=endpoint,
                max_attempts=MAX_ATTEMPTS,
                body=_webhook_body(notification),
            )
        )
    for delivery in to_send:
        _enqueue_delivery(delivery.pk, 1)
    return notification


def _render(
    delivery: NotificationDelivery, template: NotificationTemplate, context: dict[str, Any]
) -> bool:
    """Render `template` into `delivery`; on error mark it failed. Whether it rendered."""
    try:
        delivery.subject, delivery.body = render_message(
            subject=template.subject, body=template.body, context=context
        )
    except TemplateRenderError as exc:
        delivery.status = Status.FAILED
        delivery.last_error = f"Template {template.pk} failed to render: {exc}"
        logger.warning("Notification %s: %s", delivery.notification_id, delivery.last_error)
        return False
    return True


def _inbox_deliver(
    *,
    notification: Notification,
    template: NotificationTemplate | None,
    context: dict[str, Any],
) -> NotificationDelivery:
    delivery = NotificationDelivery(notification=notification, channel=Channel.INBOX)
    if template is None:
        delivery.status = Status.SKIPPED
        delivery.last_error = _no_template(notification.event, Channel.INBOX)
    elif _render(delivery, template, context):
        InboxMessage.objects.create(
            customer_id=notification.customer_id,
            notification=notification,
            subject=delivery.subject,
            body=delivery.body,
            created_at=notification.created_at,
        )
        delivery.status = Status.SENT
        delivery.sent_at = timezone.now()
    delivery.save()
    return delivery


def _email_prepare(
    *,
    notification: Notification,
    template: NotificationTemplate | None,
    context: dict[str, Any],
) -> NotificationDelivery:
    address = notification.customer.email or ""
    delivery = NotificationDelivery(
        notification=notification, channel=Channel.EMAIL, recipient=address
    )
    if template is None:
        delivery.status = Status.SKIPPED
        delivery.last_error = _no_template(notification.event, Channel.EMAIL)
    elif not address:
        delivery.status = Status.SKIPPED
        delivery.last_error = "The customer has no email address."
    elif _render(delivery, template, context):
        delivery.status = Status.PENDING
        delivery.max_attempts = MAX_ATTEMPTS
    delivery.save()
    return delivery


def _webhook_body(notification: Notification) -> str:
    customer = notification.customer
    brand = notification.brand
    document = {
        "id": notification.pk,
        "event": notification.event,
        "created_at": notification.created_at,
        "brand": None if brand is None else {"id": brand.pk, "slug": brand.slug},
        "customer": None
        if customer is None
        else {"id": customer.pk, "external_id": customer.external_id, "email": customer.email},
        "payload": notification.payload,
    }
    return json.dumps(document, cls=DjangoJSONEncoder, separators=(",", ":"))


def _enqueue_delivery(delivery_id: int, attempt: int) -> None:
    """Owe try `attempt` of a delivery to a worker, through the outbox (after the commit)."""
    outbox_enqueue(
        task="notifications.deliver_notification",
        kwargs={"delivery_id": delivery_id, "attempt": attempt},
    )


# --- Delivering ---------------------------------------------------------------------------------


def retry_delay_seconds(attempt: int) -> float:
    """Seconds to wait after failed try `attempt`: 30, 60, 120... capped, with random jitter."""
    ceiling = min(RETRY_BASE_SECONDS * 2 ** (attempt - 1), RETRY_MAX_SECONDS)
    return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class AttemptOutcome:
    claimed: bool
    status: str | None = None
    retry_in: float | None = None


def notification_delivery_attempt(*, delivery_id: int, attempt: int) -> AttemptOutcome:
    """Make try number `attempt` of an email or webhook delivery.

    A conditional UPDATE claims the delivery (pending, `attempt - 1` tries made, tries left), so
    a duplicate or late task finds nothing to claim and does nothing. The claim commits before
    the network call and the result is written after it: no transaction stays open while a
    remote server answers.
    """
    now = timezone.now()
    claimed = NotificationDelivery.objects.filter(
        pk=delivery_id,
        channel__in=TASK_CHANNELS,
        status=Status.PENDING,
        attempts=attempt - 1,
        max_attempts__gte=attempt,
    ).update(status=Status.SENDING, attempts=attempt, claimed_at=now, updated_at=now)
    if not claimed:
        state = (
            NotificationDelivery.objects.filter(pk=delivery_id)
            .values_list("status", "attempts")
            .first()
        )
        if state is None:
            logger.warning("Delivery %s no longer exists.", delivery_id)
        else:
            logger.info(
                "Delivery %s: try %s not claimed (status %s after %s tries).",
                delivery_id,
                attempt,
                *state,
            )
        return AttemptOutcome(claimed=False)

    delivery = NotificationDelivery.objects.select_related("notification", "endpoint").get(
        pk=delivery_id
    )
    started_at = timezone.now()
    clock = monotonic()
    result = _send(delivery)
    duration_ms = int((monotonic() - clock) * 1000)
    return _attempt_record(
        delivery=delivery,
        attempt=attempt,
        started_at=started_at,
        duration_ms=duration_ms,
        result=result,
    )


def _send(delivery: NotificationDelivery) -> SendResult:
    if delivery.channel == Channel.EMAIL:
        return email_send(to=delivery.recipient, subject=delivery.subject, body=delivery.body)
    endpoint = delivery.endpoint
    if endpoint is None:
        return SendResult(ok=False, error="The webhook endpoint was deleted.")
    if not endpoint.is_active:
        return SendResult(ok=False, error="The webhook endpoint is inactive.")
    return webhook_post(
        url=endpoint.url,
        secret=endpoint.secret,
        body=delivery.body.encode(),
        event=delivery.notification.event,
        delivery_id=delivery.pk,
    )


@transaction.atomic
def _attempt_record(
    *,
    delivery: NotificationDelivery,
    attempt: int,
    started_at,
    duration_ms: int,
    result: SendResult,
) -> AttemptOutcome:
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=attempt,
        started_at=started_at,
        duration_ms=duration_ms,
        ok=result.ok,
        status_code=result.status_code,
        error=result.error,
        response_excerpt=result.response_excerpt,
    )
    now = timezone.now()
    changes: dict[str, Any] = {"last_error": result.error, "claimed_at": None, "updated_at": now}
    retry_in = None
    if delivery.channel == Channel.WEBHOOK and delivery.endpoint is not None:
        changes["recipient"] = delivery.endpoint.url
    if result.ok:
        changes.update(status=Status.SENT, sent_at=now, next_retry_at=None)
    elif result.transient and attempt < delivery.max_attempts:
        retry_in = retry_delay_seconds(attempt)
        changes.update(status=Status.PENDING, next_retry_at=now + timedelta(seconds=retry_in))
    else:
        changes.update(status=Status.FAILED, next_retry_at=None)
    if not result.ok:
        logger.warning(
            "Delivery %s try %s failed: %s (%s).",
            delivery.pk,
            attempt,
            result.error,
            "will retry" if retry_in is not None else "gave up",
        )
    updated = NotificationDelivery.objects.filter(
        pk=delivery.pk, status=Status.SENDING, attempts=attempt
    ).update(**changes)
    if not updated:  # the sweep released our claim as stale meanwhile; it owns the delivery now
        logger.warning(
            "Delivery %s try %s finished after its claim was released.", delivery.pk, attempt
        )
        return AttemptOutcome(claimed=True)
    return AttemptOutcome(claimed=True, status=changes["status"], retry_in=retry_in)


@transaction.atomic
def notification_delivery_retry(*, delivery_id: int) -> NotificationDelivery:
    """Send a failed email or webhook delivery again, with a fresh set of tries."""
    delivery = NotificationDelivery.objects.select_for_update().filter(pk=delivery_id).first()
    if delivery is None:
        raise NotFoundError("Delivery not found.")
    if delivery.status != Status.FAILED or delivery.channel not in TASK_CHANNELS:
        raise ConflictError(
            "Only failed email and webhook deliveries can be retried.",
            code="delivery_not_retryable",
        )
    delivery.status = Status.PENDING
    delivery.max_attempts = delivery.attempts + MAX_ATTEMPTS
    delivery.next_retry_at = None
    delivery.claimed_at = None
    delivery.save(
        update_fields=["status", "max_attempts", "next_retry_at", "claimed_at", "updated_at"]
    )
    _enqueue_delivery(delivery.pk, delivery.attempts + 1)
    return delivery


@transaction.atomic
def notification_deliveries_requeue_stale(*, now=None) -> int:
    """Sweep: hand lost deliveries to a worker again. Safe to run at any time, any number of
    times (a duplicate task finds nothing to claim). Returns how many were requeued.

    - A claim older than any task may run means the worker died during that try: the try is
      recorded as failed, then the delivery is retried, or failed if it was the last try.
    - A pending delivery long past its due time lost its task (the broker was down at commit).
    """
    now = now or timezone.now()
    requeue: list[tuple[int, int]] = []

    stale = (
        NotificationDelivery.objects.select_for_update(skip_locked=True)
        .filter(
            channel__in=TASK_CHANNELS,
            status=Status.SENDING,
            claimed_at__lt=now - STALE_CLAIM_AFTER,
        )
        .order_by("pk")[:REQUEUE_BATCH]
    )
    for delivery in stale:
        error = "No result: the worker stopped during this try."
        DeliveryAttempt.objects.get_or_create(
            delivery=delivery,
            number=delivery.attempts,
            defaults={"started_at": delivery.claimed_at, "ok": False, "error": error},
        )
        delivery.last_error = error
        delivery.claimed_at = None
        if delivery.attempts >= delivery.max_attempts:
            delivery.status = Status.FAILED
        else:
            delivery.status = Status.PENDING
            delivery.next_retry_at = now
            requeue.append((delivery.pk, delivery.attempts + 1))
        delivery.save(
            update_fields=["status", "last_error", "claimed_at", "next_retry_at", "updated_at"]
        )

    lost_before = now - LOST_PENDING_AFTER
    lost = (
        NotificationDelivery.objects.select_for_update(skip_locked=True)
        .filter(channel__in=TASK_CHANNELS, status=Status.PENDING)
        .filter(
            Q(next_retry_at__isnull=True, created_at__lt=lost_before)
            | Q(next_retry_at__lt=lost_before)
        )
        .filter(attempts__lt=F("max_attempts"))
        .order_by("pk")[:REQUEUE_BATCH]
    )
    lost_ids = []
    for pk, attempts in lost.values_list("pk", "attempts"):
        lost_ids.append(pk)
        requeue.append((pk, attempts + 1))
    # Due again from now: the next sweep waits another grace period before requeueing it.
    NotificationDelivery.objects.filter(pk__in=lost_ids).update(next_retry_at=now, updated_at=now)

    for delivery_id, attempt in requeue:
        _enqueue_delivery(delivery_id, attempt)
    if requeue:
        logger.info("Requeued %s notification deliveries.", len(requeue))
    return len(requeue)


# --- Inbox --------------------------------------------------------------------------------------


@transaction.atomic
def inbox_message_mark_read(*, customer: Customer, message_id: int) -> InboxMessage:
    """Mark one of the customer's inbox messages read; reading it again changes nothing."""
    InboxMessage.objects.filter(pk=message_id, customer=customer, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    message = (
        InboxMessage.objects.select_related("notification__brand")
        .filter(pk=message_id, customer=customer)
        .first()
    )
    if message is None:
        raise NotFoundError("Notification not found.")
    return message


def notifications_purge(*, now: datetime | None = None) -> int:
    """Delete the notifications created more than `NOTIFICATION_RETENTION_DAYS` ago, with their
    inbox messages, deliveries and attempts. A notification with a delivery still pending or
    being sent is kept until it is done. Safe to run again: it only deletes."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.NOTIFICATION_RETENTION_DAYS)
    old = Notification.objects.filter(created_at__lt=cutoff).exclude(
        deliveries__status__in=[Status.PENDING, Status.SENDING]
    )
    return purge_in_batches(old, batch_size=settings.RETENTION_BATCH_SIZE)
