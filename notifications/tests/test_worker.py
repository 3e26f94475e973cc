import time

import pytest
from django.db import transaction

from brands.tests.factories import BrandFactory
from customers.tests.factories import CustomerFactory
from notifications.models import NotificationDelivery
from notifications.services import NotificationService
from notifications.tests.factories import WebhookEndpointFactory

WAIT_SECONDS = 30


def wait_for_status(delivery_id: int, statuses: set[str]) -> NotificationDelivery:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        delivery = NotificationDelivery.objects.get(pk=delivery_id)
        if delivery.status in statuses:
            return delivery
        time.sleep(0.1)
    return NotificationDelivery.objects.get(pk=delivery_id)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_a_signed_webhook_through_redis(
    live_celery_worker, webhook_receiver
):
    # Given a receiver checking signatures, and its endpoint for the brand
    receiver = webhook_receiver(secret="whsec-live")
    brand = BrandFactory()
    WebhookEndpointFactory(url=receiver.url, secret="whsec-live", brand=brand)
    customer = CustomerFactory()

    # When the event is sent in a transaction that commits (the task goes through Redis)
    with transaction.atomic():
        notification = NotificationService.send_notification(
            event="loyalty.points.earned", payload={"points": 5}, customer=customer, brand=brand
        )
        delivery_id = notification.deliveries.get(channel="webhook").pk

    # Then the worker process sends it, the receiver accepts the signature, and it ends sent
    delivery = wait_for_status(delivery_id, {"sent", "failed"})
    assert delivery.status == NotificationDelivery.Status.SENT, live_celery_worker.log()
    assert delivery.attempts == 1
    [request] = receiver.requests
    assert request.signature_valid is True
    assert request.headers["X-Delivery-Id"] == str(delivery_id)
    assert "notifications.deliver_notification[" in live_celery_worker.log()
    attempt = delivery.attempt_records.get()
    assert (attempt.ok, attempt.status_code) == (True, 200)
