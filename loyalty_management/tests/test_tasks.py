from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty_management.models import LoyaltyProgram, LoyaltyTransaction
from loyalty_management.services.ledger import ledger_credit
from loyalty_management.services.notices import expiring_points_notify
from loyalty_management.tasks import (
    expire_points_task,
    notify_expiring_points_task,
    release_pending_points_task,
    repair_balance_drift_task,
)
from loyalty_management.tests.factories import LoyaltyAccountFactory, LoyaltyProgramFactory
from loyalty_management.tests.invariants import assert_ledger_invariants
from notifications.models import Notification

pytestmark = pytest.mark.django_db
Kind = LoyaltyTransaction.Kind


@pytest.fixture
def account():
    program = LoyaltyProgramFactory(
        expiry_policy=LoyaltyProgram.ExpiryPolicy.AFTER_DAYS, expiry_days=30
    )
    return LoyaltyAccountFactory(program=program)


def test_customers_hear_once_a_week_before_their_points_expire(account):
    # Given 30 points expiring in 5 days, 20 in 6 days and 10 in 25 days
    now = timezone.now()
    for points, age_days in ((30, 25), (20, 24), (10, 5)):
        ledger_credit(
            account_id=account.pk,
            kind=Kind.BONUS,
            points=points,
            idempotency_key=f"lot-{points}",
            now=now - timedelta(days=age_days),
        )

    # When the notice sweep runs twice
    first = expiring_points_notify(now=now)
    second = expiring_points_notify(now=now)

    # Then one notice tells the customer about the 50 points of the coming week, once
    assert (first, second) == (1, 0)
    notice = Notification.objects.get(event="loyalty.points.expiring")
    assert notice.customer == account.customer
    assert notice.brand == account.program.brand
    assert notice.payload["points"] == 50


def test_the_periodic_tasks_are_safe_to_run_twice(account):
    # Given a pending lot that is due and a lot past its expiry
    now = timezone.now()
    ledger_credit(
        account_id=account.pk,
        kind=Kind.BONUS,
        points=15,
        idempotency_key="pending",
        pending_days=1,
        now=now - timedelta(days=2),
    )
    ledger_credit(
        account_id=account.pk,
        kind=Kind.BONUS,
        points=25,
        idempotency_key="old",
        now=now - timedelta(days=31),
    )

    # When each task runs twice
    released = [release_pending_points_task.apply().get() for _ in range(2)]
    expired = [expire_points_task.apply().get() for _ in range(2)]
    repaired = [repair_balance_drift_task.apply().get() for _ in range(2)]
    notified = [notify_expiring_points_task.apply().get() for _ in range(2)]

    # Then the work was done once, and the ledger is whole
    assert released == [15, 0]
    assert expired == [25, 0]
    assert repaired == [0, 0]
    assert notified == [0, 0]
    account.refresh_from_db()
    assert (account.available_points, account.pending_points) == (15, 0)
    assert_ledger_invariants(account.pk)
