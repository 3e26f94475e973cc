from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from loyalty_management.lock_objects import account_lock
from loyalty_management.models import LoyaltyTierPeriod, LoyaltyTransaction
from loyalty_management.services.ledger import (
    account_tier_evaluate,
    ledger_credit,
    ledger_debit,
    tiers_review,
)
from loyalty_management.tests.factories import (
    LoyaltyAccountFactory,
    LoyaltyProgramFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db
Kind = LoyaltyTransaction.Kind


def evaluate(account, now):
    with transaction.atomic():
        return account_tier_evaluate(account=account_lock(account_id=account.pk), now=now)


def test_a_tier_is_reached_at_once_and_kept_until_its_window_has_passed():
    # Given bronze (0), silver (100) and a 12-month window
    program = LoyaltyProgramFactory(tier_window_months=12)
    bronze = TierFactory(program=program, name="Bronze", position=1, threshold=Decimal(0))
    silver = TierFactory(program=program, name="Silver", position=2, threshold=Decimal(100))
    account = LoyaltyAccountFactory(program=program)
    start = timezone.now() - timedelta(days=500)

    # When the account earns 120 points and is evaluated
    ledger_credit(
        account_id=account.pk, kind=Kind.BONUS, points=120, idempotency_key="b", now=start
    )
    evaluate(account, start)
    account.refresh_from_db()
    # Then it is silver at once
    assert account.tier == silver

    # When those points leave the window but the tier is younger than the window
    ledger_debit(
        account_id=account.pk,
        kind=Kind.ADJUSTED,
        points=1,
        idempotency_key="d",
        reason="test",
        now=start,
    )
    assert evaluate(account, start + timedelta(days=200)) is None
    account.refresh_from_db()
    assert account.tier == silver

    # And at the first evaluation after the window, the qualification decides: bronze
    period = evaluate(account, start + timedelta(days=400))
    account.refresh_from_db()
    assert account.tier == bronze
    assert period.tier == bronze
    history = list(LoyaltyTierPeriod.objects.filter(account=account).order_by("started_at"))
    assert [(p.tier, p.ended_at is None) for p in history] == [(silver, False), (bronze, True)]
    assert history[0].ended_at == start + timedelta(days=400)


def test_the_tier_review_sweep_lowers_a_tier_no_longer_earned_once_its_window_passed():
    # Given a silver account 13 months ago whose points left the window since
    program = LoyaltyProgramFactory(tier_window_months=12)
    TierFactory(program=program, name="Bronze", position=1, threshold=Decimal(0))
    silver = TierFactory(program=program, name="Silver", position=2, threshold=Decimal(100))
    account = LoyaltyAccountFactory(program=program)
    start = timezone.now() - timedelta(days=400)
    ledger_credit(
        account_id=account.pk, kind=Kind.BONUS, points=150, idempotency_key="b", now=start
    )
    evaluate(account, start)

    # When the review runs a month before the window ends, then now, then again
    early = tiers_review(now=start + timedelta(days=330))
    due = tiers_review()
    again = tiers_review()

    # Then the account moved down once, when due
    assert (early, due, again) == (0, 1, 0)
    account.refresh_from_db()
    assert account.tier.name == "Bronze"
    assert LoyaltyTierPeriod.objects.get(account=account, tier=silver).ended_at is not None
