"""The ledger invariants, checked against the database by every ledger test."""

from django.db.models import Sum

from loyalty_management.models import (
    LoyaltyAccount,
    LoyaltyLot,
    LoyaltyLotConsumption,
    LoyaltyTransaction,
)
from loyalty_management.services.ledger import account_ledger_totals

Kind = LoyaltyTransaction.Kind


def assert_ledger_invariants(account_id: int) -> None:
    account = LoyaltyAccount.objects.get(pk=account_id)
    ledger = account_ledger_totals(account_id=account_id)
    # The cache equals the ledger.
    assert account.available_points + account.pending_points == (
        LoyaltyTransaction.objects.filter(account=account).aggregate(s=Sum("points"))["s"] or 0
    )
    assert (account.available_points, account.pending_points, account.lifetime_points) == (
        ledger.available,
        ledger.pending,
        ledger.lifetime,
    )
    # No lot below zero or above its credit, and what a lot lost is what debits took from it.
    debt_free_available = 0
    for lot in LoyaltyLot.objects.filter(account=account).select_related("credit"):
        assert 0 <= lot.remaining_points <= lot.points == lot.credit.points
        consumed = (
            LoyaltyLotConsumption.objects.filter(lot=lot).aggregate(s=Sum("points"))["s"] or 0
        )
        assert lot.points - lot.remaining_points == consumed, lot
        if not lot.is_pending:
            debt_free_available += lot.remaining_points
    # No debit consumed more than it took; what it did not cover is the account's debt.
    debt = 0
    for debit in LoyaltyTransaction.objects.filter(account=account, points__lt=0):
        covered = debit.consumptions.aggregate(s=Sum("points"))["s"] or 0
        assert covered <= -debit.points, debit
        debt += -debit.points - covered
    assert account.available_points == debt_free_available - debt
    assert debt == 0 or debt_free_available == 0
    # No order had more reversed than it earned.
    earned = LoyaltyTransaction.objects.filter(account=account, kind=Kind.EARNED)
    for credit in earned:
        reversed_points = (
            LoyaltyTransaction.objects.filter(order=credit.order, kind=Kind.REVERSED).aggregate(
                s=Sum("points")
            )["s"]
            or 0
        )
        assert -reversed_points <= credit.points
    assert account.pending_points >= 0
    assert account.lifetime_points >= 0
