"""Periodic loyalty sweeps, and badge evaluation. Each is safe to run twice or concurrently."""

import logging

from django.db import InterfaceError, OperationalError

from config.celery_app import app
from loyalty_management.models import CustomerBadge
from loyalty_management.services.badges import badges_review, customer_badges_evaluate
from loyalty_management.services.ledger import (
    balances_drift_repair,
    pending_points_release,
    points_expire,
    tiers_review,
)
from loyalty_management.services.notices import expiring_points_notify
from loyalty_management.services.redemptions import redemptions_expire


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


logger = logging.getLogger(__name__)


@app.task(
    name="loyalty_management.evaluate_customer_badges",
    autoretry_for=(OperationalError, InterfaceError),
    max_retries=5,
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    acks_late=True,
)
def evaluate_customer_badges_task(
    customer_id: int, brand_id: int, source: str = "order", order_id: int | None = None
) -> int:
    """Sent through the outbox when an order becomes paid or a tier changes; awards are
    unique, so a duplicate delivery awards nothing."""
    if source not in CustomerBadge.Source.values:
        logger.warning("Badges: unknown source %r; evaluated as the daily review.", source)
        source = CustomerBadge.Source.SWEEP
    awarded = customer_badges_evaluate(
        customer_id=customer_id, brand_id=brand_id, source=source, order_id=order_id
    )
    return len(awarded)


@app.task(name="loyalty_management.review_badges", acks_late=True)
def review_badges_task() -> int:
    return badges_review()


@app.task(name="loyalty_management.expire_redemptions", acks_late=True)
def expire_redemptions_task() -> int:
    """Daily: requests waiting for approval too long expire and give their points back."""
    return redemptions_expire()
