"""Periodic loyalty sweeps. Each is safe to run twice or concurrently."""

from config.celery_app import app
from loyalty_management.services.ledger import (
    balances_drift_repair,
    pending_points_release,
    points_expire,
    tiers_review,
)
from loyalty_management.services.notices import expiring_points_notify


@app.task(name="loyalty_management.expire_points", ignore_result=True, acks_late=True)
def expire_points_task() -> int:
    return points_expire()


@app.task(name="loyalty_management.release_pending_points", ignore_result=True, acks_late=True)
def release_pending_points_task() -> int:
    return pending_points_release()


@app.task(name="loyalty_management.notify_expiring_points", ignore_result=True, acks_late=True)
def notify_expiring_points_task() -> int:
    return expiring_points_notify()


@app.task(name="loyalty_management.repair_balance_drift", ignore_result=True, acks_late=True)
def repair_balance_drift_task() -> int:
    return len(balances_drift_repair())


@app.task(name="loyalty_management.review_tiers", ignore_result=True, acks_late=True)
def review_tiers_task() -> int:
    return tiers_review()
