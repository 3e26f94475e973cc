import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.tests.factories import CustomerFactory
from loyalty_management.models import LoyaltyAccount, LoyaltyLot, LoyaltyTransaction
from loyalty_management.services.earning import points_for_amount
from loyalty_management.services.ledger import ledger_credit, ledger_debit
from loyalty_management.tests.factories import LoyaltyProgramFactory, TierFactory
from loyalty_management.tests.invariants import assert_ledger_invariants
from marketing.services import award_loyalty_points, loyalty_points_reconcile
from marketing.services import reverse_loyalty_points as reverse
from notifications.models import Notification
from orders.models import Order
from orders.services.payment import order_set_payment_status

pytestmark = pytest.mark.django_db
PS = Order.PaymentStatus
Kind = LoyaltyTransaction.Kind


def paid(order):
    return order_set_payment_status(order_id=order.pk, to_status=PS.PAID)


def refund(order, amount=None, partial=False):
    return order_set_payment_status(
        order_id=order.pk,
        to_status=PS.PARTIALLY_REFUNDED if partial else PS.REFUNDED,
        refund_amount=Decimal(amount) if amount else None,
    )


def account_of(customer):
    return LoyaltyAccount.objects.get(customer=customer)


def test_a_paid_order_earns_points_into_a_new_account_and_notifies(program, new_order, customer):
    # Given a paid order of 2 x 12.49 for a customer with no account yet
    order = paid(new_order(price="12.49", quantity=2))
    assert not LoyaltyAccount.objects.exists()

    # When its points are awarded
    earned = award_loyalty_points(order=order)

    # Then the account exists and 24 points (24.98 rounded down) were earned, with the rule
    account = account_of(customer)
    assert (earned.kind, earned.points, earned.order_id) == (Kind.EARNED, 24, order.pk)
    assert earned.multiplier == Decimal("1.00")
    assert earned.rule["amount"] == "24.98"
    assert earned.rule["points_per_unit"] == "1.00"
    assert (account.available_points, account.pending_points, account.lifetime_points) == (
        24,
        0,
        24,
    )
    notification = Notification.objects.get(event="loyalty.points.earned")
    assert notification.customer == customer
    assert notification.payload["points"] == 24
    assert_ledger_invariants(account.pk)


def test_awarding_twice_returns_the_first_transaction(program, new_order, customer):
    # Given an order that already earned
    order = paid(new_order(price="30.00"))
    first = award_loyalty_points(order=order)

    # When it is awarded again
    second = award_loyalty_points(order=order)

    # Then the same transaction comes back, once in the ledger and once in the balance
    assert second.pk == first.pk
    assert LoyaltyTransaction.objects.filter(order=order).count() == 1
    assert account_of(customer).available_points == 30
    assert Notification.objects.filter(event="loyalty.points.earned").count() == 1


def test_the_tier_multiplier_applies_and_is_recorded(program, new_order, customer):
    # Given a customer in a 1.5x tier
    gold = TierFactory(program=program, name="Gold", multiplier=Decimal("1.50"))
    LoyaltyAccount.objects.create(customer=customer, program=program, tier=gold)

    # When an order of 33.33 is awarded
    earned = award_loyalty_points(order=paid(new_order(price="33.33")))

    # Then 49 points (49.995 rounded down) were earned with the multiplier of the time
    assert earned.points == 49
    assert earned.multiplier == Decimal("1.50")
    assert earned.rule["tier"] == "Gold"


def test_pending_days_keep_the_points_pending(brand, new_order, customer):
    # Given a program with a 14-day return window
    LoyaltyProgramFactory(brand=brand, pending_days=14)

    # When an order is awarded
    earned = award_loyalty_points(order=paid(new_order(price="10.00")))

    # Then the points are pending until the window ends
    account = account_of(customer)
    assert (account.available_points, account.pending_points) == (0, 10)
    assert LoyaltyLot.objects.get(credit=earned).available_at > timezone.now() + timedelta(days=13)


@pytest.mark.parametrize(
    ("amount", "points_per_unit", "unit_amount", "multiplier", "expected"),
    [
        ("9.99", "1.00", "1.00", "1.00", 9),
        ("0.99", "1.00", "1.00", "1.00", 0),
        ("0.00", "1.00", "1.00", "1.00", 0),
        ("10.00", "1.00", "3.00", "1.00", 3),
        ("33.33", "1.50", "1.00", "1.25", 62),  # 62.49375
        ("100.00", "1.00", "10.00", "1.10", 11),  # exactly 11, no float error
        ("0.01", "100.00", "1.00", "1.00", 1),
        ("19.99", "0.10", "1.00", "1.00", 1),
        ("99999999999.99", "2.00", "1.00", "3.00", 599999999999),
    ],
)
def test_points_for_awkward_amounts_round_down_once(
    amount, points_per_unit, unit_amount, multiplier, expected
):
    assert (
        points_for_amount(
            amount=Decimal(amount),
            points_per_unit=Decimal(points_per_unit),
            unit_amount=Decimal(unit_amount),
            multiplier=Decimal(multiplier),
        )
        == expected
    )


def test_an_order_without_a_customer_earns_nothing(program, new_order, caplog):
    order = paid(new_order(customer=None))
    with caplog.at_level(logging.INFO):
        assert award_loyalty_points(order=order) is None
    assert "has no customer" in caplog.text
    assert not LoyaltyTransaction.objects.exists()
    assert not LoyaltyAccount.objects.exists()


@pytest.mark.parametrize("active", [None, False])
def test_a_brand_without_an_active_program_awards_nothing(brand, new_order, caplog, active):
    # Given no program, or an inactive one
    if active is not None:
        LoyaltyProgramFactory(brand=brand, is_active=active)
    order = paid(new_order())

    # When the order is awarded
    with caplog.at_level(logging.INFO):
        result = award_loyalty_points(order=order)

    # Then nothing happens, and the log says why
    assert result is None
    assert "no active program" in caplog.text
    assert not LoyaltyAccount.objects.exists()


def test_an_order_below_the_minimum_earns_nothing(brand, new_order, caplog):
    LoyaltyProgramFactory(brand=brand, minimum_order_amount=Decimal("20.00"))
    below = paid(new_order(price="19.99"))
    at = paid(new_order(price="20.00"))
    with caplog.at_level(logging.INFO):
        assert award_loyalty_points(order=below) is None
    assert "below the minimum" in caplog.text
    assert award_loyalty_points(order=at).points == 20


def test_an_order_that_is_not_paid_earns_nothing(program, new_order):
    order = new_order()
    assert award_loyalty_points(order=order) is None
    assert not LoyaltyTransaction.objects.exists()


def test_a_full_refund_reverses_everything_even_into_a_negative_balance(
    program, new_order, customer
):
    # Given an order that earned 50 points, 45 of them spent
    order = paid(new_order(price="50.00"))
    award_loyalty_points(order=order)
    account = account_of(customer)
    ledger_debit(account_id=account.pk, kind=Kind.REDEEMED, points=45, idempotency_key="r")

    # When the order is refunded and reversed (twice)
    refund(order)
    reversal = reverse(order=order)
    assert reverse(order=order) is None

    # Then the 50 points are taken back and the account is negative
    assert reversal.points == -50
    account.refresh_from_db()
    assert (account.available_points, account.lifetime_points) == (-45, 0)
    assert_ledger_invariants(account.pk)


def test_repeated_partial_refunds_never_reverse_more_than_was_earned(program, new_order, customer):
    # Given an order of 10.00 that earned 7 points (0.70 per unit)
    program.points_per_unit = Decimal("0.70")
    program.save()
    order = paid(new_order(price="10.00"))
    assert award_loyalty_points(order=order).points == 7

    # When it is refunded in three parts, each followed by a reversal
    taken = []
    for amount, partial in (("3.33", True), ("3.33", True), ("3.34", False)):
        order = refund(order, amount, partial=partial)
        reversal = reverse(order=order)
        taken.append(-reversal.points if reversal else 0)

    # Then the parts are floor(7 x 33.3%) = 2, then 4 - 2, then the rest: 7 in all
    assert taken == [2, 2, 3]
    assert_ledger_invariants(account_of(customer).pk)


def test_a_refund_cancels_pending_points(brand, new_order, customer):
    # Given an order whose 10 points are pending and 30 available points from elsewhere
    LoyaltyProgramFactory(brand=brand, pending_days=30)
    order = paid(new_order(price="10.00"))
    award_loyalty_points(order=order)
    account = account_of(customer)
    ledger_credit(account_id=account.pk, kind=Kind.BONUS, points=30, idempotency_key="b")

    # When the order is refunded
    refund(order)
    reverse(order=order)

    # Then the pending points are cancelled and the available ones untouched
    account.refresh_from_db()
    assert (account.available_points, account.pending_points) == (30, 0)
    assert_ledger_invariants(account.pk)


def test_a_later_reversal_uses_the_points_earned_not_todays_rule(program, new_order, customer):
    # Given an order that earned 10 points at 1 per unit; the rule changes to 5 per unit
    order = paid(new_order(price="10.00"))
    award_loyalty_points(order=order)
    program.points_per_unit = Decimal("5.00")
    program.save()

    # When it is refunded
    refund(order)
    reversal = reverse(order=order)

    # Then the reversal takes back the 10 points of the time
    assert reversal.points == -10
    assert reversal.rule["earned_points"] == 10


def test_reconciliation_awards_a_paid_order_whose_task_was_lost(
    program, new_order, customer, django_capture_on_commit_callbacks
):
    # Given an order marked paid while the broker was down (its task never ran)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        order = paid(new_order(price="15.00"))
    assert len(callbacks) == 2  # the award and the badge evaluation, neither sent
    assert not LoyaltyTransaction.objects.exists()

    # When the sweep runs before the grace period, then after it, then again
    early = loyalty_points_reconcile()
    later = loyalty_points_reconcile(now=timezone.now() + timedelta(minutes=11))
    again = loyalty_points_reconcile(now=timezone.now() + timedelta(minutes=12))

    # Then the order was awarded once, by the sweep after the grace period
    assert (early.awarded, later.awarded, again.awarded) == (0, 1, 0)
    assert LoyaltyTransaction.objects.get(order=order).points == 15


def test_reconciliation_reverses_a_refund_whose_task_was_lost(
    program, new_order, customer, django_capture_on_commit_callbacks
):
    # Given an order that earned, then was refunded while its reversal task was lost
    order = paid(new_order(price="15.00"))
    award_loyalty_points(order=order)
    with django_capture_on_commit_callbacks(execute=False):
        refund(order)

    # When the sweep runs after the grace period, twice
    later = timezone.now() + timedelta(minutes=11)
    first = loyalty_points_reconcile(now=later)
    second = loyalty_points_reconcile(now=later)

    # Then the points were reversed once
    assert (first.reversed, second.reversed) == (1, 0)
    assert LoyaltyTransaction.objects.get(order=order, kind=Kind.REVERSED).points == -15
    assert account_of(customer).available_points == 0


def test_reconciliation_ignores_orders_that_cannot_earn(brand, new_order):
    # Given paid orders without a customer and below the minimum
    LoyaltyProgramFactory(brand=brand, minimum_order_amount=Decimal("50.00"))
    paid(new_order(customer=None, price="80.00"))
    paid(new_order(customer=CustomerFactory(), price="10.00"))

    # When the sweep runs
    result = loyalty_points_reconcile(now=timezone.now() + timedelta(minutes=11))

    # Then nothing is awarded
    assert result.awarded == 0
    assert not LoyaltyTransaction.objects.exists()


def test_an_order_partly_refunded_before_its_award_earns_on_what_the_customer_kept(
    program, new_order, customer, django_capture_on_commit_callbacks
):
    # Given a 40.00 order paid, then refunded 10.00 before its award task ran
    with django_capture_on_commit_callbacks(execute=False):
        order = paid(new_order(price="40.00"))
        refund(order, "10.00", partial=True)

    # When the award runs late
    earned = award_loyalty_points(order=order)

    # Then it earned on the 30.00 kept, and says so
    assert earned.points == 30
    assert (earned.rule["amount"], earned.rule["refunded_amount"]) == ("30.00", "10.00")
    assert account_of(customer).available_points == 30
    # And the reversal of the refund that came first takes nothing back
    assert reverse(order=order) is None

    # When 15.00 more is refunded, then the rest
    refund(order, "15.00", partial=True)
    reverse(order=order)
    after_second = account_of(customer).available_points
    refund(order)
    reverse(order=order)

    # Then the second refund took back half of what was earned (15 of 30), the last the rest
    assert after_second == 15
    assert account_of(customer).available_points == 0
    assert_ledger_invariants(account_of(customer).pk)


def test_reconciliation_awards_an_order_partly_refunded_before_its_award(
    program, new_order, customer, django_capture_on_commit_callbacks
):
    # Given a paid order partly refunded while its award task was lost
    with django_capture_on_commit_callbacks(execute=False):
        order = paid(new_order(price="20.00"))
        refund(order, "5.00", partial=True)

    # When the sweep runs after the grace period, twice
    later = timezone.now() + timedelta(minutes=11)
    first = loyalty_points_reconcile(now=later)
    second = loyalty_points_reconcile(now=later)

    # Then it earned once, on the 15.00 kept
    assert (first.awarded, second.awarded) == (1, 0)
    assert LoyaltyTransaction.objects.get(order=order, kind=Kind.EARNED).points == 15
