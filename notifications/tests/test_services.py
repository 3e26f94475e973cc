import json
import logging
import socket
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from brands.tests.factories import BrandFactory
from customers.models import Customer
from customers.tests.factories import CustomerFactory
from notifications.models import (
    DeliveryAttempt,
    InboxMessage,
    Notification,
    NotificationDelivery,
)
from notifications.services import (
    LOST_PENDING_AFTER,
    MAX_ATTEMPTS,
    STALE_CLAIM_AFTER,
    NotificationService,
    notification_deliveries_requeue_stale,
    notification_delivery_retry,
    retry_delay_seconds,
)
from notifications.signing import verify_signature
from notifications.tasks import deliver_notification_task
from notifications.tests.factories import NotificationTemplateFactory, WebhookEndpointFactory

pytestmark = pytest.mark.django_db

EVENT = "loyalty.points.earned"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
Status = NotificationDelivery.Status


def send(**kwargs):
    kwargs.setdefault("event", EVENT)
    kwargs.setdefault("payload", {"points": 120})
    return NotificationService.send_notification(**kwargs)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- Recording and channels -----------------------------------------------------------------


def test_send_records_inbox_email_and_webhook_deliveries(
    settings, webhook_receiver, django_capture_on_commit_callbacks
):
    # Given inbox and email templates, a subscribed endpoint, and a customer with an email
    settings.EMAIL_BACKEND = LOCMEM
    NotificationTemplateFactory(channel="inbox", subject="+{{ points }}", body="inbox body")
    NotificationTemplateFactory(
        channel="email",
        subject="You earned {{ points }} points at {{ brand.name }}",
        body="Hi {{ customer.first_name }}, {{ points }} points.",
    )
    receiver = webhook_receiver()
    WebhookEndpointFactory(url=receiver.url)
    brand = BrandFactory(name="Burger Town")
    customer = CustomerFactory(first_name="Ana", email="ana@example.com")

    # When the event is sent and the caller commits
    with django_capture_on_commit_callbacks(execute=True):
        notification = send(customer=customer, brand=brand)

    # Then one notification, an inbox message, and an email and a webhook sent after commit
    assert notification.event == EVENT
    assert notification.payload == {"points": 120}
    assert InboxMessage.objects.get(customer=customer).subject == "+120"
    statuses = dict(notification.deliveries.values_list("channel", "status"))
    assert statuses == {"inbox": "sent", "email": "sent", "webhook": "sent"}
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["ana@example.com"]
    assert email.subject == "You earned 120 points at Burger Town"
    assert email.body == "Hi Ana, 120 points."
    assert len(receiver.requests) == 1


def test_nothing_leaves_before_the_callers_transaction_commits(
    settings, django_capture_on_commit_callbacks
):
    # Given an email template
    settings.EMAIL_BACKEND = LOCMEM
    NotificationTemplateFactory(channel="email")
    customer = CustomerFactory()

    # When the caller's transaction rolls back after sending
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        send(customer=customer)
        raise RuntimeError("the caller failed")

    # Then no task was enqueued, no email went out, and nothing was recorded
    assert callbacks == []
    assert mail.outbox == []
    assert not Notification.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_missing_templates_are_recorded_as_skipped_and_the_caller_commits(caplog):
    # Given no template at all, and a caller that changes its own data in a transaction
    customer = CustomerFactory(first_name="Before")

    # When the caller sends a notification inside its transaction
    with transaction.atomic():
        Customer.objects.filter(pk=customer.pk).update(first_name="After")
        notification = send(customer=customer)

    # Then the caller's change is committed and each missing template is recorded
    assert Customer.objects.get(pk=customer.pk).first_name == "After"
    deliveries = {
        d.channel: d for d in Notification.objects.get(pk=notification.pk).deliveries.all()
    }
    assert {channel: d.status for channel, d in deliveries.items()} == {
        "inbox": "skipped",
        "email": "skipped",
    }
    assert deliveries["email"].last_error == f"No template for event {EVENT} on channel email."
    assert deliveries["inbox"].last_error == f"No template for event {EVENT} on channel inbox."
    assert not InboxMessage.objects.exists()


def test_a_customer_without_email_gets_a_skipped_email_delivery():
    NotificationTemplateFactory(channel="email")
    customer = CustomerFactory(email=None)

    notification = send(customer=customer)

    email = notification.deliveries.get(channel="email")
    assert email.status == Status.SKIPPED
    assert email.last_error == "The customer has no email address."


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "bad_call",
    [
        {"payload": {"when": object()}},  # not JSON-able
        {"event": "Points Earned!"},  # not an event name
        {"event": "a" * 150},  # too long for the column: a database error in the savepoint
    ],
)
def test_a_failure_inside_does_not_break_the_caller(bad_call, caplog):
    customer = CustomerFactory(first_name="Before")

    # When the caller sends a broken notification in the middle of its transaction
    with caplog.at_level(logging.ERROR, logger="notifications.services"), transaction.atomic():
        Customer.objects.filter(pk=customer.pk).update(first_name="During")
        result = send(customer=customer, **bad_call)
        # the caller's transaction is still usable after the failure
        Customer.objects.filter(pk=customer.pk).update(last_name="After")

    # Then send returned None, logged the error, and the caller's work is all committed
    assert result is None
    assert "was not recorded" in caplog.text
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name) == ("During", "After")
    assert not Notification.objects.exists()


def test_a_template_failing_at_render_time_is_recorded_as_failed():
    NotificationTemplateFactory(channel="inbox", body="{{ 10|divisibleby:points }}")
    customer = CustomerFactory()

    notification = send(customer=customer, payload={"points": 0})

    inbox = notification.deliveries.get(channel="inbox")
    assert inbox.status == Status.FAILED
    assert "ZeroDivisionError" in inbox.last_error
    assert not InboxMessage.objects.exists()


def test_payload_with_decimals_and_dates_is_stored_as_json():
    when = datetime(2025, 5, 1, 12, 30, tzinfo=UTC)
    notification = send(payload={"amount": Decimal("12.50"), "at": when, "day": when.date()})
    notification.refresh_from_db()
    assert notification.payload == {
        "amount": "12.50",
        "at": "2025-05-01T12:30:00Z",
        "day": "2025-05-01",
    }


# --- Webhooks -------------------------------------------------------------------------------


def test_webhook_is_signed_and_carries_the_event(
    webhook_receiver, django_capture_on_commit_callbacks
):
    # Given an endpoint whose receiver checks signatures with its secret
    receiver = webhook_receiver(secret="whsec-123")
    brand = BrandFactory(slug="burger-town")
    endpoint = WebhookEndpointFactory(url=receiver.url, secret="whsec-123", brand=brand)
    customer = CustomerFactory(external_id="C-1")

    # When an event of that brand is sent
    with django_capture_on_commit_callbacks(execute=True):
        notification = send(customer=customer, brand=brand, payload={"amount": Decimal("9.90")})

    # Then the receiver got one valid, signed request describing the event
    delivery = NotificationDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == Status.SENT
    [request] = receiver.requests
    assert request.signature_valid is True
    assert verify_signature("whsec-123", request.headers["X-Signature"], request.body)
    assert request.headers["X-Event"] == EVENT
    assert request.headers["X-Delivery-Id"] == str(delivery.pk)
    assert request.headers["Content-Type"] == "application/json"
    document = json.loads(request.body)
    assert document["id"] == notification.pk
    assert document["event"] == EVENT
    assert document["brand"] == {"id": brand.pk, "slug": "burger-town"}
    assert document["customer"] == {
        "id": customer.pk,
        "external_id": "C-1",
        "email": customer.email,
    }
    assert document["payload"] == {"amount": "9.90"}
    assert document["created_at"]
    attempt = delivery.attempt_records.get()
    assert (attempt.number, attempt.ok, attempt.status_code) == (1, True, 200)


def test_only_active_endpoints_of_the_brand_or_global_and_subscribed_are_called(
    webhook_receiver, django_capture_on_commit_callbacks
):
    brand, other_brand = BrandFactory(), BrandFactory()
    receiver = webhook_receiver()
    called = [
        WebhookEndpointFactory(url=receiver.url, brand=None),
        WebhookEndpointFactory(url=receiver.url, brand=brand, events=[EVENT]),
    ]
    WebhookEndpointFactory(url=receiver.url, brand=other_brand)
    WebhookEndpointFactory(url=receiver.url, brand=brand, events=["orders.order.placed"])
    WebhookEndpointFactory(url=receiver.url, brand=brand, is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        notification = send(brand=brand)

    endpoints = set(notification.deliveries.values_list("endpoint", flat=True))
    assert endpoints == {endpoint.pk for endpoint in called}
    assert len(receiver.requests) == 2


def test_a_failing_webhook_is_retried_then_fails_with_every_attempt_recorded(
    webhook_receiver, django_capture_on_commit_callbacks
):
    # Given a receiver that always answers 500
    receiver = webhook_receiver(statuses=(500,))
    WebhookEndpointFactory(url=receiver.url)

    # When an event is sent (tasks run eagerly here: retries follow at once)
    with django_capture_on_commit_callbacks(execute=True):
        notification = send()

    # Then the delivery was tried MAX_ATTEMPTS times, each try recorded, and it ended failed
    delivery = notification.deliveries.get(channel="webhook")
    assert delivery.status == Status.FAILED
    assert delivery.attempts == MAX_ATTEMPTS == 6
    assert delivery.last_error == "HTTP 500"
    assert delivery.next_retry_at is None
    attempts = list(delivery.attempt_records.values_list("number", "ok", "status_code"))
    assert attempts == [(n, False, 500) for n in range(1, 7)]
    assert len(receiver.requests) == 6
    assert delivery.attempt_records.first().response_excerpt == '{"error": "nope"}'


def test_a_transient_failure_then_success_ends_sent(
    webhook_receiver, django_capture_on_commit_callbacks
):
    receiver = webhook_receiver(statuses=(503, 429, 200))
    WebhookEndpointFactory(url=receiver.url)

    with django_capture_on_commit_callbacks(execute=True):
        notification = send()

    delivery = notification.deliveries.get(channel="webhook")
    assert delivery.status == Status.SENT
    assert delivery.sent_at is not None
    assert delivery.last_error == ""
    assert list(delivery.attempt_records.values_list("status_code", "ok")) == [
        (503, False),
        (429, False),
        (200, True),
    ]


def test_a_permanent_failure_is_not_retried(webhook_receiver, django_capture_on_commit_callbacks):
    receiver = webhook_receiver(statuses=(404,))
    WebhookEndpointFactory(url=receiver.url)

    with django_capture_on_commit_callbacks(execute=True):
        notification = send()

    delivery = notification.deliveries.get(channel="webhook")
    assert (delivery.status, delivery.attempts) == (Status.FAILED, 1)
    assert len(receiver.requests) == 1


def test_an_unreachable_endpoint_is_retried_as_a_network_error(django_capture_on_commit_callbacks):
    WebhookEndpointFactory(url=f"http://127.0.0.1:{closed_port()}/hook")

    with django_capture_on_commit_callbacks(execute=True):
        notification = send()

    delivery = notification.deliveries.get(channel="webhook")
    assert (delivery.status, delivery.attempts) == (Status.FAILED, MAX_ATTEMPTS)
    assert "Connection refused" in delivery.last_error
    assert delivery.attempt_records.filter(status_code__isnull=True).count() == MAX_ATTEMPTS


def test_a_redirect_counts_as_a_failure(webhook_receiver, django_capture_on_commit_callbacks):
    receiver = webhook_receiver(statuses=(302,))
    WebhookEndpointFactory(url=receiver.url)

    with django_capture_on_commit_callbacks(execute=True):
        notification = send()

    delivery = notification.deliveries.get(channel="webhook")
    assert (delivery.status, delivery.last_error) == (Status.FAILED, "HTTP 302")


# --- Email failures -------------------------------------------------------------------------


def test_an_unreachable_mail_server_is_retried_then_fails(
    settings, django_capture_on_commit_callbacks
):
    # Given the SMTP backend pointed at a port where nothing listens
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = closed_port()
    settings.EMAIL_TIMEOUT = 2
    NotificationTemplateFactory(channel="email")

    with django_capture_on_commit_callbacks(execute=True):
        notification = send(customer=CustomerFactory())

    delivery = notification.deliveries.get(channel="email")
    assert (delivery.status, delivery.attempts) == (Status.FAILED, MAX_ATTEMPTS)
    assert "ConnectionRefusedError" in delivery.last_error


# --- Idempotency, sweep and manual retry ----------------------------------------------------


def test_a_duplicate_task_sends_once(settings, webhook_receiver):
    # Given a pending webhook delivery and a pending email delivery
    settings.EMAIL_BACKEND = LOCMEM
    receiver = webhook_receiver()
    WebhookEndpointFactory(url=receiver.url)
    NotificationTemplateFactory(channel="email")
    notification = send(customer=CustomerFactory())  # no commit: tasks not enqueued yet

    # When the task of each delivery runs twice (the broker delivered it twice)
    for delivery in notification.deliveries.filter(status=Status.PENDING):
        deliver_notification_task.apply(args=[delivery.pk, 1])
        deliver_notification_task.apply(args=[delivery.pk, 1])

    # Then each was sent once, with one attempt
    assert len(receiver.requests) == 1
    assert len(mail.outbox) == 1
    for delivery in notification.deliveries.exclude(channel="inbox"):
        assert (delivery.status, delivery.attempts) == (Status.SENT, 1)
        assert delivery.attempt_records.count() == 1


def test_a_task_for_a_vanished_delivery_does_nothing(caplog):
    with caplog.at_level(logging.WARNING, logger="notifications.services"):
        result = deliver_notification_task.apply(args=[987654, 1])
    assert result.successful()
    assert "Delivery 987654 no longer exists." in caplog.text


def test_the_sweep_requeues_a_delivery_whose_task_was_lost(
    webhook_receiver, django_capture_on_commit_callbacks
):
    # Given a webhook delivery left pending (its task never reached a worker)
    receiver = webhook_receiver()
    WebhookEndpointFactory(url=receiver.url)
    notification = send()
    delivery = notification.deliveries.get()
    NotificationDelivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - LOST_PENDING_AFTER - timedelta(seconds=1)
    )

    # When the sweep runs twice in a row
    with django_capture_on_commit_callbacks(execute=True):
        first = notification_deliveries_requeue_stale()
    with django_capture_on_commit_callbacks(execute=True):
        second = notification_deliveries_requeue_stale()

    # Then it was requeued once and sent once
    assert (first, second) == (1, 0)
    delivery.refresh_from_db()
    assert delivery.status == Status.SENT
    assert len(receiver.requests) == 1


def test_the_sweep_leaves_recent_pending_deliveries_alone(django_capture_on_commit_callbacks):
    WebhookEndpointFactory()
    send()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert notification_deliveries_requeue_stale() == 0
    assert callbacks == []


def test_the_sweep_recovers_a_delivery_whose_worker_died(
    webhook_receiver, django_capture_on_commit_callbacks
):
    # Given a delivery claimed for its first try by a worker that died long ago
    receiver = webhook_receiver()
    WebhookEndpointFactory(url=receiver.url)
    delivery = send().deliveries.get()
    claimed_at = timezone.now() - STALE_CLAIM_AFTER - timedelta(seconds=1)
    NotificationDelivery.objects.filter(pk=delivery.pk).update(
        status=Status.SENDING, attempts=1, claimed_at=claimed_at
    )

    # When the sweep runs
    with django_capture_on_commit_callbacks(execute=True):
        assert notification_deliveries_requeue_stale() == 1

    # Then the lost try is recorded as failed and the second try delivered it
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.SENT, 2)
    assert list(delivery.attempt_records.values_list("number", "ok")) == [(1, False), (2, True)]
    assert len(receiver.requests) == 1


def test_a_failed_delivery_can_be_retried_with_fresh_tries(
    webhook_receiver, django_capture_on_commit_callbacks
):
    # Given a delivery that failed on a permanent error
    receiver = webhook_receiver(statuses=(410, 200))
    WebhookEndpointFactory(url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        delivery = send().deliveries.get()
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED

    # When it is retried (the receiver is fixed)
    with django_capture_on_commit_callbacks(execute=True):
        notification_delivery_retry(delivery_id=delivery.pk)

    # Then it is sent on try 2, both tries recorded
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.SENT, 2)
    assert delivery.max_attempts == 1 + MAX_ATTEMPTS
    assert list(DeliveryAttempt.objects.values_list("number", "status_code")) == [
        (1, 410),
        (2, 200),
    ]


def test_only_failed_deliveries_can_be_retried():
    from core.errors import ConflictError

    NotificationTemplateFactory(channel="inbox")
    delivery = send(customer=CustomerFactory()).deliveries.get(channel="inbox")
    with pytest.raises(ConflictError):
        notification_delivery_retry(delivery_id=delivery.pk)


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(1, 15, 30), (2, 30, 60), (3, 60, 120), (5, 240, 480), (12, 900, 1800)],
)
def test_retry_delay_grows_exponentially_with_jitter_and_a_cap(attempt, low, high):
    delays = {retry_delay_seconds(attempt) for _ in range(50)}
    assert all(low <= delay <= high for delay in delays)
    assert len(delays) > 1  # jittered
