"""A real Celery worker's log holds no whole email address, even with the console mail backend
(which prints every message, addresses included, to the worker's standard output)."""

import time

import pytest
from django.conf import settings
from django.db import transaction

from brands.tests.factories import BrandFactory
from config.celery_app import app as celery_app
from core.tests.celery_worker import _stop, start_worker
from customers.tests.factories import CustomerFactory
from notifications.models import NotificationDelivery
from notifications.services import NotificationService
from notifications.tests.factories import NotificationTemplateFactory

EMAIL = "ann.lee@example.com"
WAIT_SECONDS = 30


@pytest.fixture
def console_mail_worker(django_db_setup):
    """A worker of its own, on its own queue, with the console mail backend."""
    worker = start_worker(
        broker_url=settings.CELERY_BROKER_URL,
        env={"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"},
    )
    conf = celery_app.conf
    previous = (conf.task_always_eager, conf.task_default_queue)
    try:
        conf.task_always_eager, conf.task_default_queue = False, worker.queue
        yield worker
    finally:
        conf.task_always_eager, conf.task_default_queue = previous
        _stop(worker)
        worker.log_path.unlink(missing_ok=True)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_log_masks_the_address_of_an_email_it_sends(console_mail_worker):
    # Given an email template and a customer with an address
    NotificationTemplateFactory(
        channel="email", subject="Your points", body="Hello {{ customer.email }}"
    )
    customer = CustomerFactory(email=EMAIL)

    # When a notification commits and the worker sends the email through the console backend
    with transaction.atomic():
        notification = NotificationService.send_notification(
            event="loyalty.points.earned",
            payload={"points": 5},
            customer=customer,
            brand=BrandFactory(),
        )
        delivery_id = notification.deliveries.get(channel="email").pk
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        delivery = NotificationDelivery.objects.get(pk=delivery_id)
        if delivery.status == NotificationDelivery.Status.SENT:
            break
        time.sleep(0.1)

    # Then the message went out, and the log shows it with the address masked
    log = console_mail_worker.log()
    assert delivery.status == NotificationDelivery.Status.SENT, log
    assert "Subject: Your points" in log
    assert EMAIL not in log
    assert "To: a***@example.com" in log
