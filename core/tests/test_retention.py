"""Retention sweeps: old rule firings and notifications go, recent and unfinished ones stay."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from brands.tests.factories import BrandFactory
from customers.tests.factories import CustomerFactory
from notifications.models import (
    Channel,
    DeliveryAttempt,
    InboxMessage,
    Notification,
    NotificationDelivery,
)
from notifications.tasks import sweep_notifications_task
from rules.models import RuleFiring
from rules.tasks import rules_sweep_firings_task

pytestmark = pytest.mark.django_db


def _firing(n: int, age_days: int, customer) -> RuleFiring:
    firing = RuleFiring.objects.create(
        rule_name="r",
        event="order.paid",
        event_id=f"ev-{n}",
        object_type="order",
        object_id=n,
        customer=customer,
        outcome=RuleFiring.Outcome.APPLIED,
        duration_ms=Decimal("1.000"),
    )
    # created_at is auto_now_add: age the row with an UPDATE.
    RuleFiring.objects.filter(pk=firing.pk).update(
        created_at=timezone.now() - timedelta(days=age_days)
    )
    return firing


def test_the_firing_sweep_deletes_old_firings_in_batches_and_runs_twice(settings):
    settings.RULE_FIRING_RETENTION_DAYS = 30
    settings.RETENTION_BATCH_SIZE = 2
    customer = CustomerFactory()
    old = [_firing(n, 31, customer) for n in range(5)]
    recent = [_firing(n, 29, customer) for n in range(5, 8)]

    assert rules_sweep_firings_task.delay().get() == 5
    assert rules_sweep_firings_task.delay().get() == 0

    left = set(RuleFiring.objects.values_list("pk", flat=True))
    assert left == {firing.pk for firing in recent}
    assert not left & {firing.pk for firing in old}


def _notification(age_days: int, customer, brand, status=NotificationDelivery.Status.SENT):
    notification = Notification.objects.create(
        event="points.earned",
        brand=brand,
        customer=customer,
        created_at=timezone.now() - timedelta(days=age_days),
    )
    InboxMessage.objects.create(customer=customer, notification=notification, subject="Hi")
    delivery = NotificationDelivery.objects.create(
        notification=notification,
        channel=Channel.EMAIL,
        recipient="ann@example.com",
        status=status,
        attempts=1,
        max_attempts=6,
    )
    DeliveryAttempt.objects.create(delivery=delivery, number=1, started_at=timezone.now())
    return notification


def test_the_notification_sweep_deletes_old_ones_with_their_rows_and_keeps_unfinished(settings):
    settings.NOTIFICATION_RETENTION_DAYS = 90
    settings.RETENTION_BATCH_SIZE = 1
    brand = BrandFactory()
    customer = CustomerFactory()
    old_sent = [_notification(91, customer, brand) for _ in range(3)]
    old_pending = _notification(91, customer, brand, status=NotificationDelivery.Status.PENDING)
    recent = _notification(89, customer, brand)

    assert sweep_notifications_task.delay().get() == 3
    assert sweep_notifications_task.delay().get() == 0

    assert set(Notification.objects.values_list("pk", flat=True)) == {old_pending.pk, recent.pk}
    gone = [notification.pk for notification in old_sent]
    assert not InboxMessage.objects.filter(notification__in=gone).exists()
    assert not NotificationDelivery.objects.filter(notification__in=gone).exists()
    assert DeliveryAttempt.objects.count() == 2
