"""Concurrent writers on one account, against PostgreSQL: the account lock serialises them."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from core.errors import ConflictError
from loyalty_management.models import LoyaltyLot, LoyaltyProgram, LoyaltyTransaction
from loyalty_management.services.ledger import (
    ledger_credit,
    ledger_debit,
    pending_points_release,
    points_expire,
)
from loyalty_management.tests.factories import LoyaltyAccountFactory, LoyaltyProgramFactory
from loyalty_management.tests.invariants import assert_ledger_invariants

Kind = LoyaltyTransaction.Kind


def run_together(workers) -> list[BaseException]:
    """Start every worker at the same instant; each closes its own DB connection."""
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def wrap(work):
        try:
            barrier.wait()
            work()
        except BaseException as error:  # collected and asserted by the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrap, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_credits_redemptions_expiry_and_release_keep_the_ledger_whole():
    # Given an account with expired, pending and available lots
    program = LoyaltyProgramFactory(
        expiry_policy=LoyaltyProgram.ExpiryPolicy.AFTER_DAYS, expiry_days=30
    )
    account = LoyaltyAccountFactory(program=program)
    now = timezone.now()
    for index in range(5):
        ledger_credit(
            account_id=account.pk,
            kind=Kind.BONUS,
            points=20,
            idempotency_key=f"old-{index}",
            now=now - timedelta(days=31 + index),
        )
        ledger_credit(
            account_id=account.pk,
            kind=Kind.BONUS,
            points=15,
            idempotency_key=f"pending-{index}",
            pending_days=1,
            now=now - timedelta(days=2),
        )
        ledger_credit(
            account_id=account.pk, kind=Kind.BONUS, points=30, idempotency_key=f"fresh-{index}"
        )
    refused = []

    def credit(index):
        return lambda: ledger_credit(
            account_id=account.pk, kind=Kind.BONUS, points=10, idempotency_key=f"new-{index}"
        )

    def redeem(index):
        def work():
            try:
                ledger_debit(
                    account_id=account.pk,
                    kind=Kind.REDEEMED,
                    points=17,
                    idempotency_key=f"redeem-{index}",
                )
            except ConflictError:
                refused.append(index)

        return work

    workers = [credit(i) for i in range(10)] + [redeem(i) for i in range(13)]
    workers += [lambda: points_expire(now=timezone.now())] * 4
    workers += [lambda: pending_points_release(now=timezone.now())] * 4

    # When they all run at once
    errors = run_together(workers)

    # Then nothing failed, every lot expired at most once, and the ledger is whole
    assert errors == []
    assert_ledger_invariants(account.pk)
    expired = LoyaltyTransaction.objects.filter(account=account, kind=Kind.EXPIRED)
    assert expired.count() == 5
    assert sum(expired.values_list("points", flat=True)) == -100
    assert not LoyaltyLot.objects.filter(account=account, is_pending=True).exists()
    redeemed = LoyaltyTransaction.objects.filter(account=account, kind=Kind.REDEEMED).count()
    # 75 released + 150 fresh = 225 spendable even before any new credit: 13 x 17 = 221 fit
    assert refused == []
    assert redeemed == 13
    account.refresh_from_db()
    assert account.available_points == 75 + 150 + 100 - 221
