"""The wallet invariants, checked against the database by the wallet and cashback tests."""

from decimal import Decimal

from django.db.models import Sum

from wallets.models import Wallet, WalletClawback, WalletTransaction

Kind = WalletTransaction.Kind


def assert_wallet_invariants(wallet_id: int) -> None:
    """The balance equals its ledger; each row's balance after is the running sum and never
    negative; each claw-back step adds up and its ledger row took what it says; no order's
    cashback claw-backs asked back more than the order's cashback credited."""
    wallet = Wallet.objects.get(pk=wallet_id)
    running = Decimal("0.00")
    for row in wallet.transactions.order_by("created_at", "id"):
        running += row.amount
        assert row.balance_after == running, row
        assert running >= 0, row
    assert wallet.balance == running >= 0
    for step in WalletClawback.objects.filter(wallet=wallet).select_related("transaction"):
        assert step.owed == step.taken + step.not_recovered > 0, step
        assert (step.transaction.amount if step.transaction else Decimal("0.00")) == -step.taken
    by_order = (
        WalletClawback.objects.filter(wallet=wallet).values("order_id").annotate(owed=Sum("owed"))
    )
    for row in by_order:
        credited = WalletTransaction.objects.filter(
            wallet=wallet,
            order_id=row["order_id"],
            kind=Kind.CREDIT,
            idempotency_key__startswith="cashback:wallet:",
        ).aggregate(s=Sum("amount"))["s"] or Decimal("0.00")
        assert row["owed"] <= credited, row
