"""Row locks for the loyalty ledger, always taken in primary-key order so that transactions
locking several accounts can never deadlock each other."""

from collections.abc import Iterable

from loyalty_management.models import LoyaltyAccount


def account_lock(*, account_id: int) -> LoyaltyAccount:
    """Lock one account (`SELECT ... FOR UPDATE OF`, not its program) in the caller's
    transaction."""
    return (
        LoyaltyAccount.objects.select_for_update(of=("self",))
        .select_related("program", "tier")
        .get(pk=account_id)
    )


def accounts_lock(*, account_ids: Iterable[int]) -> dict[int, LoyaltyAccount]:
    """Lock several accounts in primary-key order; returns them by id."""
    ids = sorted(set(account_ids))
    accounts = (
        LoyaltyAccount.objects.select_for_update(of=("self",))
        .select_related("program", "tier")
        .filter(pk__in=ids)
        .order_by("pk")
    )
    return {account.pk: account for account in accounts}
