"""Which order saves enqueue loyalty work (after commit), and which do not."""

from decimal import Decimal

import pytest

from loyalty_management.models import LoyaltyTransaction
from orders.models import Order
from orders.services.payment import order_set_payment_status

pytestmark = pytest.mark.django_db
PS = Order.PaymentStatus
Kind = LoyaltyTransaction.Kind


def set_status(order, to_status, refund_amount=None):
    return order_set_payment_status(
        order_id=order.pk, to_status=to_status, refund_amount=refund_amount
    )


def test_an_order_changed_to_paid_gets_its_points_after_commit(
    program, new_order, django_capture_on_commit_callbacks
):
    # Given a pending order
    order = new_order(price="25.00")

    # When it is marked paid, and the transaction commits
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        set_status(order, PS.PAID)
    assert not LoyaltyTransaction.objects.exists()  # nothing before the commit
    assert len(callbacks) == 2  # the award, and the evaluation of the customer's badges
    for callback in callbacks:
        callback()

    # Then the award task ran and the order earned its points
    earned = LoyaltyTransaction.objects.get(order=order)
    assert (earned.kind, earned.points) == (Kind.EARNED, 25)


def test_an_order_created_paid_gets_its_points(
    program, brand, customer, django_capture_on_commit_callbacks
):
    # When an order is created already paid
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        order = Order.objects.create(
            brand=brand,
            customer=customer,
            currency="EUR",
            subtotal=Decimal("7.00"),
            total=Decimal("7.00"),
            payment_status=PS.PAID,
        )

    # Then one award (and one badge evaluation) was enqueued and it awarded the points
    assert len(callbacks) == 2
    assert LoyaltyTransaction.objects.get(order=order, kind=Kind.EARNED).points == 7


def test_saving_an_order_that_is_already_paid_enqueues_nothing(
    program, new_order, django_capture_on_commit_callbacks
):
    # Given a paid order
    order = new_order()
    with django_capture_on_commit_callbacks(execute=True):
        set_status(order, PS.PAID)
    order.refresh_from_db()

    # When it is saved again, with and without its payment status among the fields
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        order.save()
        order.save(update_fields=["payment_status", "updated_at"])
        order.save(update_fields=["payment_method"])

    # Then nothing was enqueued
    assert callbacks == []
    assert LoyaltyTransaction.objects.filter(order=order).count() == 1


@pytest.mark.parametrize("to_status", [PS.FAILED, PS.CANCELLED])
def test_non_paid_changes_of_an_unpaid_order_enqueue_nothing(
    program, new_order, django_capture_on_commit_callbacks, to_status
):
    # Given a pending order
    order = new_order()

    # When it fails or is cancelled
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        set_status(order, to_status)

    # Then no loyalty work was enqueued
    assert callbacks == []
    assert not LoyaltyTransaction.objects.exists()


def test_an_order_created_pending_enqueues_nothing(
    program, new_order, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        new_order()
    assert callbacks == []


def test_each_refund_enqueues_a_reversal(program, new_order, django_capture_on_commit_callbacks):
    # Given a paid order of 10.00 that earned 10 points
    order = new_order(price="10.00")
    with django_capture_on_commit_callbacks(execute=True):
        set_status(order, PS.PAID)

    # When it is partially refunded twice, then refunded in full
    with django_capture_on_commit_callbacks(execute=True) as first:
        set_status(order, PS.PARTIALLY_REFUNDED, Decimal("2.50"))
    with django_capture_on_commit_callbacks(execute=True) as second:
        set_status(order, PS.PARTIALLY_REFUNDED, Decimal("2.50"))
    with django_capture_on_commit_callbacks(execute=True) as last:
        set_status(order, PS.REFUNDED)

    # Then each refund enqueued one reversal, and all 10 points were taken back in 2 + 3 + 5
    assert (len(first), len(second), len(last)) == (1, 1, 1)
    reversals = LoyaltyTransaction.objects.filter(order=order, kind=Kind.REVERSED)
    assert sorted(reversals.values_list("points", flat=True)) == [-5, -3, -2]


def test_cancelling_a_paid_order_reverses_its_points(
    program, new_order, django_capture_on_commit_callbacks
):
    # Given a paid order that earned 10 points
    order = new_order(price="10.00")
    with django_capture_on_commit_callbacks(execute=True):
        set_status(order, PS.PAID)

    # When it is cancelled
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        set_status(order, PS.CANCELLED)

    # Then the reversal ran
    assert len(callbacks) == 1
    assert LoyaltyTransaction.objects.get(order=order, kind=Kind.REVERSED).points == -10
