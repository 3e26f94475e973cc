import logging
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import ApplicationError, ConflictError
from customers.tests.factories import CustomerFactory
from loyalty_management.models import (
    LoyaltyAccount,
    LoyaltyLot,
    LoyaltyLotConsumption,
    LoyaltyProgram,
    LoyaltyTransaction,
)
from loyalty_management.services.ledger import (
    account_get_or_create,
    balances_drift_repair,
    ledger_credit,
    ledger_debit,
    pending_points_release,
    points_expire,
)
from loyalty_management.tests.factories import (
    LoyaltyAccountFactory,
    LoyaltyProgramFactory,
    make_order,
)
from loyalty_management.tests.invariants import assert_ledger_invariants

pytestmark = pytest.mark.django_db
Kind = LoyaltyTransaction.Kind


def credit(account, points, key, **kwargs):
    return ledger_credit(
        account_id=account.pk,
        kind=kwargs.pop("kind", Kind.BONUS),
        points=points,
        idempotency_key=key,
        **kwargs,
    ).transaction


def debit(account, points, key, **kwargs):
    return ledger_debit(
        account_id=account.pk,
        kind=kwargs.pop("kind", Kind.REDEEMED),
        points=points,
        idempotency_key=key,
        **kwargs,
    ).transaction


def balances(account):
    account.refresh_from_db()
    return account.available_points, account.pending_points, account.lifetime_points


@pytest.fixture
def account():
    return LoyaltyAccountFactory()


@pytest.fixture
def expiring_account():
    program = LoyaltyProgramFactory(
        expiry_policy=LoyaltyProgram.ExpiryPolicy.AFTER_DAYS, expiry_days=30
    )
    return LoyaltyAccountFactory(program=program)


def test_account_is_created_once_per_customer_and_program():
    # Given a customer and a program
    program = LoyaltyProgramFactory()
    customer = CustomerFactory()

    # When the account is asked for twice
    first = account_get_or_create(customer=customer, program=program)
    second = account_get_or_create(customer=customer, program=program)

    # Then one account exists, empty
    assert first.pk == second.pk
    assert LoyaltyAccount.objects.filter(customer=customer).count() == 1
    assert balances(first) == (0, 0, 0)


def test_a_credit_opens_a_lot_and_moves_the_cache_with_it(account):
    # When 120 bonus points are credited
    tx = credit(account, 120, "bonus-1", reason="Welcome")

    # Then the ledger row, its lot and the cached balances agree
    assert (tx.kind, tx.points) == (Kind.BONUS, 120)
    lot = LoyaltyLot.objects.get(credit=tx)
    assert (lot.points, lot.remaining_points, lot.is_pending, lot.expires_at) == (
        120,
        120,
        False,
        None,
    )
    assert balances(account) == (120, 0, 120)
    assert tx.rule["program_id"] == account.program_id
    assert_ledger_invariants(account.pk)


def test_a_replayed_credit_returns_the_first_transaction_and_changes_nothing(account):
    # Given a credit
    first = ledger_credit(account_id=account.pk, kind=Kind.BONUS, points=50, idempotency_key="k")

    # When the same key is credited again, even with other points
    replay = ledger_credit(account_id=account.pk, kind=Kind.BONUS, points=999, idempotency_key="k")

    # Then the first transaction comes back and nothing moved
    assert first.created and not replay.created
    assert replay.transaction.pk == first.transaction.pk
    assert balances(account) == (50, 0, 50)
    assert LoyaltyTransaction.objects.filter(account=account).count() == 1


@pytest.mark.parametrize("points", [0, -5])
def test_a_credit_of_no_points_is_refused(account, points):
    with pytest.raises(ApplicationError) as error:
        credit(account, points, "zero")
    assert error.value.code == "invalid_points"
    assert not LoyaltyTransaction.objects.exists()


def test_pending_points_become_available_when_released(account):
    # Given 40 points pending for 14 days
    now = timezone.now()
    tx = credit(account, 40, "pending", pending_days=14, now=now)
    assert balances(account) == (0, 40, 40)

    # When the release runs before the time, then after it, then again
    assert pending_points_release(now=now + timedelta(days=13)) == 0
    released = pending_points_release(now=now + timedelta(days=14))
    again = pending_points_release(now=now + timedelta(days=15))

    # Then the points moved once from pending to available
    assert (released, again) == (40, 0)
    assert balances(account) == (40, 0, 40)
    assert LoyaltyLot.objects.get(credit=tx).is_pending is False
    assert_ledger_invariants(account.pk)


def test_a_redemption_spends_the_soonest_expiring_lot_first_then_the_oldest(account):
    # Given lots that never expire, expire late and expire soon
    now = timezone.now()
    never = credit(account, 10, "never", now=now - timedelta(days=3))
    late_lot = credit(account, 10, "late", now=now - timedelta(days=2))
    soon_lot = credit(account, 10, "soon", now=now - timedelta(days=1))
    oldest_soon = credit(account, 10, "soon-old", now=now - timedelta(days=4))
    LoyaltyLot.objects.filter(credit=late_lot).update(expires_at=now + timedelta(days=60))
    LoyaltyLot.objects.filter(credit__in=[soon_lot, oldest_soon]).update(
        expires_at=now + timedelta(days=5)
    )

    # When 25 points are redeemed
    redeemed = debit(account, 25, "redeem-1", now=now)

    # Then the two soon-expiring lots go first (oldest first), then the late one
    consumed = {c.lot.credit_id: c.points for c in redeemed.consumptions.select_related("lot")}
    assert consumed == {oldest_soon.pk: 10, soon_lot.pk: 10, late_lot.pk: 5}
    assert LoyaltyLot.objects.get(credit=never).remaining_points == 10
    assert redeemed.points == -25
    assert balances(account) == (15, 0, 40)
    assert_ledger_invariants(account.pk)


def test_a_redemption_beyond_the_available_points_is_refused_and_changes_nothing(account):
    # Given 30 available points and 20 pending
    credit(account, 30, "a")
    credit(account, 20, "p", pending_days=7)

    # When 31 are redeemed
    with pytest.raises(ConflictError) as error:
        debit(account, 31, "too-much")

    # Then it is refused; pending points cannot be spent
    assert error.value.code == "insufficient_points"
    assert balances(account) == (30, 20, 50)
    assert not LoyaltyTransaction.objects.filter(kind=Kind.REDEEMED).exists()


def test_a_negative_account_cannot_redeem_until_positive_again(account):
    # Given an order's 100 points, 80 of them spent, then the order reversed
    order = make_order(brand=account.program.brand, customer=account.customer)
    credit(account, 100, "earn", kind=Kind.EARNED, order=order)
    debit(account, 80, "spend")
    debit(account, 100, "reverse", kind=Kind.REVERSED, order=order)
    assert balances(account) == (-80, 0, 0)

    # When the customer earns 50 and tries to redeem 1
    credit(account, 50, "bonus")
    with pytest.raises(ConflictError) as error:
        debit(account, 1, "redeem-while-negative")

    # Then the account is still negative, and redemption is refused
    assert error.value.code == "loyalty_account_negative"
    assert balances(account) == (-30, 0, 50)
    assert_ledger_invariants(account.pk)

    # And once positive, it can redeem what is available
    credit(account, 40, "bonus-2")
    debit(account, 10, "redeem-ok")
    assert balances(account) == (0, 0, 90)
    assert_ledger_invariants(account.pk)


def test_a_lot_that_settled_a_debt_expires_only_what_remains(expiring_account):
    # Given a debt of 30 points, then a new lot of 100 that settles it
    account = expiring_account
    now = timezone.now()
    order = make_order(brand=account.program.brand, customer=account.customer)
    credit(account, 30, "earn", kind=Kind.EARNED, order=order, now=now)
    debit(account, 30, "spend", now=now)
    debit(account, 30, "reverse", kind=Kind.REVERSED, order=order, now=now)
    new = credit(account, 100, "bonus", now=now)
    assert LoyaltyLot.objects.get(credit=new).remaining_points == 70

    # When the new lot expires
    expired = points_expire(now=now + timedelta(days=31))

    # Then only its 70 remaining points expire and the balance lands on zero
    assert expired == 70
    assert balances(account) == (0, 0, 100)
    assert_ledger_invariants(account.pk)


def test_expiry_expires_only_what_remains_and_is_safe_to_run_twice(expiring_account):
    # Given a lot of 100 of which 60 were spent
    account = expiring_account
    now = timezone.now()
    lot_credit = credit(account, 100, "lot", now=now)
    debit(account, 60, "spend", now=now + timedelta(days=1))

    # When expiry runs after the lot's expiry, twice
    first = points_expire(now=now + timedelta(days=30))
    second = points_expire(now=now + timedelta(days=31))

    # Then 40 points expired, once
    assert (first, second) == (40, 0)
    expired = LoyaltyTransaction.objects.get(kind=Kind.EXPIRED)
    assert expired.points == -40
    assert expired.consumptions.get().lot.credit_id == lot_credit.pk
    assert balances(account) == (0, 0, 100)
    assert_ledger_invariants(account.pk)


def test_a_redemption_never_spends_a_lot_past_its_expiry(expiring_account):
    # Given an expired lot the sweep has not reached yet, and a fresh one
    account = expiring_account
    now = timezone.now()
    credit(account, 50, "old", now=now - timedelta(days=31))
    fresh = credit(account, 20, "fresh", now=now)

    # When the customer tries to redeem 30, then 20
    with pytest.raises(ConflictError):
        debit(account, 30, "too-much", now=now)
    spent = debit(account, 20, "ok", now=now)

    # Then the old lot expired first, and only the fresh lot was spent
    assert spent.consumptions.get().lot.credit_id == fresh.pk
    assert LoyaltyTransaction.objects.get(kind=Kind.EXPIRED).points == -50
    assert balances(account) == (0, 0, 70)
    assert_ledger_invariants(account.pk)


def test_a_reversal_cancels_the_orders_pending_points_first(account):
    # Given 60 available points and an order's 40 still pending
    credit(account, 60, "bonus")
    order = make_order(brand=account.program.brand, customer=account.customer)
    earned = credit(account, 40, "earn", kind=Kind.EARNED, order=order, pending_days=14)

    # When the order's 40 points are reversed
    reversal = debit(account, 40, "rev", kind=Kind.REVERSED, order=order)

    # Then the pending lot is what is cancelled; the available points are untouched
    assert reversal.consumptions.get().lot.credit_id == earned.pk
    assert balances(account) == (60, 0, 60)
    assert_ledger_invariants(account.pk)


def test_the_database_refuses_a_second_earned_transaction_for_an_order(account):
    # Given an order that earned
    order = make_order(brand=account.program.brand, customer=account.customer)
    credit(account, 10, "earn-1", kind=Kind.EARNED, order=order)

    # When a second `earned` row is written straight to the table
    with pytest.raises(IntegrityError), transaction.atomic():
        LoyaltyTransaction.objects.create(
            account=account, kind=Kind.EARNED, points=10, order=order, idempotency_key="earn-2"
        )

    # And a credit through the service with another key returns the first one
    again = ledger_credit(
        account_id=account.pk, kind=Kind.EARNED, points=10, order=order, idempotency_key="x"
    )
    assert not again.created
    assert balances(account) == (10, 0, 10)


@pytest.mark.parametrize(
    ("kind", "points"),
    [(Kind.EARNED, -1), (Kind.BONUS, 0), (Kind.REDEEMED, 5), (Kind.EXPIRED, 1)],
)
def test_the_database_refuses_a_point_sign_that_contradicts_the_kind(account, kind, points):
    order = make_order(brand=account.program.brand)
    with pytest.raises(IntegrityError), transaction.atomic():
        LoyaltyTransaction.objects.create(
            account=account, kind=kind, points=points, order=order, idempotency_key="bad"
        )


def test_the_drift_sweep_repairs_a_drifted_cache_and_logs_it(account, caplog):
    # Given a ledger of 70 points and a cache someone changed by hand
    credit(account, 100, "bonus")
    debit(account, 30, "spend")
    healthy = LoyaltyAccountFactory()
    credit(healthy, 5, "healthy")
    LoyaltyAccount.objects.filter(pk=account.pk).update(available_points=999)

    # When the sweep runs (in batches smaller than the number of accounts), twice
    with caplog.at_level(logging.WARNING):
        repaired = balances_drift_repair(batch_size=1)
    again = balances_drift_repair()

    # Then the cache is back to the ledger, with an audited adjustment and a log line
    assert [drift.account_id for drift in repaired] == [account.pk]
    assert repaired[0].cached.available == 999
    assert again == []
    assert balances(account) == (70, 0, 100)
    adjustment = LoyaltyTransaction.objects.get(kind=Kind.ADJUSTED)
    assert adjustment.account_id == account.pk
    assert adjustment.points == 0
    assert adjustment.rule["cached"]["available"] == 999
    assert "balance drift repaired" in caplog.text
    assert_ledger_invariants(account.pk)
    assert_ledger_invariants(healthy.pk)


def test_consumptions_are_written_for_every_debit(account):
    # Given two lots
    credit(account, 5, "a")
    credit(account, 5, "b")

    # When 7 are redeemed
    redeemed = debit(account, 7, "r")

    # Then the consumption rows add up to the debit
    assert (
        sum(LoyaltyLotConsumption.objects.filter(debit=redeemed).values_list("points", flat=True))
        == 7
    )
