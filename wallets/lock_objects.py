"""Row locks for wallets, taken in primary-key order so that transactions locking several
wallets never deadlock each other."""

from wallets.models import Wallet


def wallet_lock(*, wallet_id: int) -> Wallet | None:
    """Lock one wallet (`SELECT ... FOR UPDATE`) in the caller's transaction."""
    return Wallet.objects.select_for_update().filter(pk=wallet_id).first()


def wallet_lock_for(*, customer_id: int, brand_id: int) -> Wallet | None:
    """Find and lock the customer's wallet at the brand in one query; None without one."""
    return (
        Wallet.objects.select_for_update()
        .filter(customer_id=customer_id, brand_id=brand_id)
        .first()
    )
