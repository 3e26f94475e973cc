import logging
from decimal import Decimal

import pytest

from loyalty_management.models import LoyaltyTransaction
from marketing.tasks import (
    TRANSIENT_ERRORS,
    award_loyalty_points_for_order_task,
    reverse_loyalty_points_for_order_task,
)
from orders.models import Order
from orders.services.payment import order_set_payment_status

pytestmark = pytest.mark.django_db
PS = Order.PaymentStatus


def test_the_award_task_run_twice_awards_once(program, new_order):
    # Given a paid order
    order = order_set_payment_status(order_id=new_order(price="8.00").pk, to_status=PS.PAID)

    # When the task is delivered twice
    first = award_loyalty_points_for_order_task.apply(args=[order.pk]).get()
    second = award_loyalty_points_for_order_task.apply(args=[order.pk]).get()

    # Then both succeed and the order earned once
    assert (first, second) == ("awarded", "awarded")
    assert LoyaltyTransaction.objects.get(order=order).points == 8


def test_a_missing_order_is_logged_and_not_retried(program, caplog):
    # When the task runs for an order that does not exist
    with caplog.at_level(logging.WARNING):
        result = award_loyalty_points_for_order_task.apply(args=[987654321])

    # Then it succeeds at once (no retry, no error) and says why in the log
    assert result.successful()
    assert result.get() == "missing"
    assert "order 987654321 not found" in caplog.text
    missing_reversal = reverse_loyalty_points_for_order_task.apply(args=[987654321])
    assert missing_reversal.get() == "missing"


@pytest.mark.parametrize("status", [PS.REFUNDED, PS.CANCELLED])
def test_an_order_no_longer_paid_is_skipped(program, new_order, status):
    # Given an order paid then refunded or cancelled before its task ran
    order = new_order()
    order_set_payment_status(order_id=order.pk, to_status=PS.PAID)
    order_set_payment_status(order_id=order.pk, to_status=status)

    # When the award task runs
    result = award_loyalty_points_for_order_task.apply(args=[order.pk]).get()

    # Then it is skipped
    assert result == "skipped"
    assert not LoyaltyTransaction.objects.exists()


def test_the_award_task_awards_an_order_partly_refunded_before_it_ran(program, new_order):
    # Given a 12.00 order paid, then refunded 2.00 before its task ran
    order = new_order(price="12.00")
    order_set_payment_status(order_id=order.pk, to_status=PS.PAID)
    order_set_payment_status(
        order_id=order.pk, to_status=PS.PARTIALLY_REFUNDED, refund_amount=Decimal("2.00")
    )
    assert not LoyaltyTransaction.objects.exists()  # no after-commit work runs in this test

    # When the award task runs
    result = award_loyalty_points_for_order_task.apply(args=[order.pk]).get()

    # Then it awards on the 10.00 kept
    assert result == "awarded"
    assert LoyaltyTransaction.objects.get(order=order).points == 10


def test_the_tasks_have_stable_names_and_retry_only_transient_errors():
    for task in (award_loyalty_points_for_order_task, reverse_loyalty_points_for_order_task):
        assert task.autoretry_for == TRANSIENT_ERRORS
        assert task.max_retries == 5
        assert task.retry_jitter is True
    assert award_loyalty_points_for_order_task.name == "marketing.award_loyalty_points_for_order"
    assert reverse_loyalty_points_for_order_task.name == (
        "marketing.reverse_loyalty_points_for_order"
    )
