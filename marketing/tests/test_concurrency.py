"""Concurrent awards against PostgreSQL (threads, each with its own connection)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import ConflictError
from customers.tests.factories import CustomerFactory
from loyalty_management.models import LoyaltyAccount, LoyaltyProgram, LoyaltyTransaction
from loyalty_management.services.ledger import ledger_credit, ledger_debit, points_expire
from loyalty_management.tests.factories import LoyaltyProgramFactory, make_order
from loyalty_management.tests.invariants import assert_ledger_invariants
from loyalty_management.tests.test_ledger_concurrency import run_together
from marketing.tasks import award_loyalty_points_for_order_task
from orders.models import Order

Kind = LoyaltyTransaction.Kind
PS = Order.PaymentStatus


def paid_without_signals(order: Order) -> Order:
    """Mark paid with a queryset update, so the receivers do not award it on commit."""
    Order.objects.filter(pk=order.pk).update(payment_status=PS.PAID, paid_at=timezone.now())
    return order


@pytest.mark.django_db(transaction=True)
def test_twenty_threads_awarding_the_same_order_create_exactly_one_transaction():
    # Given a paid order whose account does not exist yet
    program = LoyaltyProgramFactory()
    customer = CustomerFactory()
    order = paid_without_signals(make_order(brand=program.brand, customer=customer, total="42.00"))

    # When 20 deliveries of its award task run at once
    results = []
    errors = run_together(
        [lambda: results.append(award_loyalty_points_for_order_task(order.pk))] * 20
    )

    # Then all succeeded, one account and one transaction exist, and the points count once
    assert errors == []
    assert results == ["awarded"] * 20
    assert LoyaltyTransaction.objects.filter(order=order).count() == 1
    account = LoyaltyAccount.objects.get(customer=customer)
    assert account.available_points == 42
    assert_ledger_invariants(account.pk)


@pytest.mark.django_db(transaction=True)
def test_concurrent_awards_redemptions_and_expiry_on_one_account_keep_the_ledger_whole():
    # Given a customer with 100 points, 40 of them already past expiry, and 10 paid orders
    program = LoyaltyProgramFactory(
        expiry_policy=LoyaltyProgram.ExpiryPolicy.AFTER_DAYS, expiry_days=365
    )
    customer = CustomerFactory()
    account = LoyaltyAccount.objects.create(customer=customer, program=program)
    ledger_credit(account_id=account.pk, kind=Kind.BONUS, points=60, idempotency_key="now")
    ledger_credit(
        account_id=account.pk,
        kind=Kind.BONUS,
        points=40,
        idempotency_key="old",
        now=timezone.now() - timedelta(days=400),
    )
    orders = [
        paid_without_signals(make_order(brand=program.brand, customer=customer, total="10.00"))
        for _ in range(10)
    ]
    refused = []

    def redeem(index):
        def work():
            try:
                ledger_debit(
                    account_id=account.pk,
                    kind=Kind.REDEEMED,
                    points=15,
                    idempotency_key=f"redeem-{index}",
                )
            except ConflictError:
                refused.append(index)

        return work

    workers = [lambda o=o: award_loyalty_points_for_order_task(o.pk) for o in orders] * 2
    workers += [redeem(i) for i in range(4)]
    workers += [lambda: points_expire()] * 3

    # When awards (each delivered twice), redemptions and expiry run at once
    errors = run_together(workers)

    # Then each order earned once, the old lot expired once, and the ledger is whole
    assert errors == []
    assert LoyaltyTransaction.objects.filter(account=account, kind=Kind.EARNED).count() == 10
    assert LoyaltyTransaction.objects.get(account=account, kind=Kind.EXPIRED).points == -40
    assert refused == []  # 60 unexpired points cover 4 x 15 whatever the order
    account.refresh_from_db()
    assert account.available_points == 60 + 100 - 60
    assert account.lifetime_points == 200
    assert_ledger_invariants(account.pk)


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_awards_of_a_new_customer_open_one_account():
    # Given 10 paid orders of a customer who has no account yet
    program = LoyaltyProgramFactory()
    customer = CustomerFactory()
    orders = [
        paid_without_signals(make_order(brand=program.brand, customer=customer, total="3.00"))
        for _ in range(10)
    ]

    # When all are awarded at once
    errors = run_together([lambda o=o: award_loyalty_points_for_order_task(o.pk) for o in orders])

    # Then one account holds the 30 points
    assert errors == []
    account = LoyaltyAccount.objects.get(customer=customer)
    assert account.available_points == 30
    assert_ledger_invariants(account.pk)
