"""Cashback tasks through Redis to a real Celery worker process."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from loyalty_management.models import LoyaltyTransaction
from marketing.tasks import reconcile_cashback_task
from marketing.tests.test_cashback import order_with_cashback
from orders.models import Order
from orders.services.payment import order_set_payment_status

WAIT_SECONDS = 30
PS = Order.PaymentStatus
Kind = LoyaltyTransaction.Kind


def wait_for(order_id: int, kind: str) -> LoyaltyTransaction | None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        row = LoyaltyTransaction.objects.filter(order_id=order_id, kind=kind).first()
        if row is not None:
            return row
        time.sleep(0.1)
    return None


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_credits_the_cashback_of_a_paid_order_and_reverses_a_refund(
    live_celery_worker, program, brand, customer
):
    # Given a pending order of 60.00 with 6.00 of cashback
    order = order_with_cashback(brand=brand, customer=customer, total="60.00", cashback="6.00")

    # When it is marked paid (the credit goes through the outbox and Redis after commit)
    with transaction.atomic():
        order_set_payment_status(order_id=order.pk, to_status=PS.PAID)

    # Then the worker credits 6 points of cashback
    credit = wait_for(order.pk, Kind.CASHBACK)
    assert credit is not None, live_celery_worker.log()
    assert credit.points == 6
    assert "marketing.credit_cashback_for_order[" in live_celery_worker.log()

    # When a third of it is refunded
    with transaction.atomic():
        order_set_payment_status(
            order_id=order.pk, to_status=PS.PARTIALLY_REFUNDED, refund_amount=Decimal("20.00")
        )

    # Then the worker takes back a third of the cashback
    reversal = wait_for(order.pk, Kind.CASHBACK_REVERSED)
    assert reversal is not None, live_celery_worker.log()
    assert reversal.points == -2


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_cashback_sweep_on_a_worker_credits_an_order_whose_task_was_lost(
    live_celery_worker, program, brand, customer
):
    # Given an order paid an hour ago whose credit task never reached the broker
    order = order_with_cashback(brand=brand, customer=customer, total="40.00", cashback="4.00")
    Order.objects.filter(pk=order.pk).update(
        payment_status=PS.PAID, paid_at=timezone.now() - timedelta(hours=1)
    )

    # When beat's sweep runs on the worker
    result = reconcile_cashback_task.delay().get(timeout=WAIT_SECONDS)

    # Then the order got its cashback
    assert result == {"credited": 1, "reversed": 0}
    credit = wait_for(order.pk, Kind.CASHBACK)
    assert credit is not None, live_celery_worker.log()
    assert credit.points == 4
