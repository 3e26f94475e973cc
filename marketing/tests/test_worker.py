"""Loyalty tasks through Redis to a real Celery worker process."""

import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from loyalty_management.models import LoyaltyAccount, LoyaltyTransaction
from loyalty_management.tests.factories import make_order
from marketing.tasks import award_loyalty_points_for_order_task, reconcile_loyalty_points_task
from orders.models import Order
from orders.services.payment import order_set_payment_status

WAIT_SECONDS = 30
PS = Order.PaymentStatus


def wait_for_earned(order_id: int) -> LoyaltyTransaction | None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        earned = LoyaltyTransaction.objects.filter(order_id=order_id, kind="earned").first()
        if earned is not None:
            return earned
        time.sleep(0.1)
    return None


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_awards_a_paid_order_once_even_when_delivered_twice(
    live_celery_worker, program, brand, customer
):
    # Given a pending order
    order = make_order(brand=brand, customer=customer, total="19.90")

    # When it is marked paid (the award goes through Redis after commit)
    with transaction.atomic():
        order_set_payment_status(order_id=order.pk, to_status=PS.PAID)

    # Then the worker awards its points
    earned = wait_for_earned(order.pk)
    assert earned is not None, live_celery_worker.log()
    assert earned.points == 19

    # When the same task is delivered twice more
    results = [award_loyalty_points_for_order_task.delay(order.pk) for _ in range(2)]

    # Then both deliveries succeed and the order still earned once
    assert [result.get(timeout=WAIT_SECONDS) for result in results] == ["awarded", "awarded"]
    assert LoyaltyTransaction.objects.filter(order=order).count() == 1
    assert LoyaltyAccount.objects.get(customer=customer).available_points == 19
    assert "marketing.award_loyalty_points_for_order[" in live_celery_worker.log()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_reconciliation_sweep_on_a_worker_awards_an_order_whose_task_was_lost(
    live_celery_worker, program, brand, customer
):
    # Given an order paid an hour ago whose award task never reached the broker
    order = make_order(brand=brand, customer=customer, total="5.00")
    Order.objects.filter(pk=order.pk).update(
        payment_status=PS.PAID, paid_at=timezone.now() - timedelta(hours=1)
    )

    # When beat's reconciliation sweep runs on the worker
    reconcile_loyalty_points_task.delay().get(timeout=WAIT_SECONDS)

    # Then the order got its points
    earned = wait_for_earned(order.pk)
    assert earned is not None, live_celery_worker.log()
    assert earned.points == 5
