"""Periodic wallet sweeps. Each is safe to run twice or concurrently."""

from config.celery_app import app
from wallets.services import wallets_expire_inactive


@app.task(name="wallets.expire_inactive", ignore_result=True, acks_late=True)
def expire_inactive_task(inactive_days: int | None = None) -> int:
    """Beat sends no argument (WALLET_EXPIRY_INACTIVE_DAYS applies); an operator may name the
    days for one run."""
    return wallets_expire_inactive(inactive_days=inactive_days)
