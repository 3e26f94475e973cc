"""Celery tasks for order-driven loyalty: thin, JSON arguments (order ids), explicit names.

Only transient database errors are retried (exponential backoff with jitter, at most 5
times); a vanished order is logged and the task returns. The services are idempotent, so a
duplicate delivery does nothing.
"""

import logging

from django.db import InterfaceError, OperationalError

from config.celery_app import app
from marketing.cashback import cashback_credit, cashback_reconcile, cashback_reverse
from marketing.services import (
    EARNING_STATUSES,
    award_loyalty_points,
    loyalty_points_reconcile,
    reverse_loyalty_points,
)
from orders.models import Order

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS = (OperationalError, InterfaceError)
RETRY_OPTIONS = {
    "autoretry_for": TRANSIENT_ERRORS,
    "max_retries": 5,
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "acks_late": True,
}


@app.task(name="marketing.award_loyalty_points_for_order", **RETRY_OPTIONS)
def award_loyalty_points_for_order_task(order_id: int) -> str:
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        logger.warning("Loyalty: order %s not found; nothing to award.", order_id)
        return "missing"
    if order.payment_status not in EARNING_STATUSES:
        logger.info("Loyalty: order %s is %s, not paid; skipped.", order_id, order.payment_status)
        return "skipped"
    transaction = award_loyalty_points(order=order)
    return "awarded" if transaction is not None else "nothing"


@app.task(name="marketing.reverse_loyalty_points_for_order", **RETRY_OPTIONS)
def reverse_loyalty_points_for_order_task(order_id: int) -> str:
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        logger.warning("Loyalty: order %s not found; nothing to reverse.", order_id)
        return "missing"
    transaction = reverse_loyalty_points(order=order)
    return "reversed" if transaction is not None else "nothing"


@app.task(name="marketing.reconcile_loyalty_points", acks_late=True)
def reconcile_loyalty_points_task() -> dict[str, int]:
    result = loyalty_points_reconcile()
    return {"awarded": result.awarded, "reversed": result.reversed}


@app.task(name="marketing.credit_cashback_for_order", **RETRY_OPTIONS)
def credit_cashback_for_order_task(order_id: int) -> str:
    transaction = cashback_credit(order_id=order_id)
    return "credited" if transaction is not None else "nothing"


@app.task(name="marketing.reverse_cashback_for_order", **RETRY_OPTIONS)
def reverse_cashback_for_order_task(order_id: int) -> str:
    transaction = cashback_reverse(order_id=order_id)
    return "reversed" if transaction is not None else "nothing"


@app.task(name="marketing.reconcile_cashback", acks_late=True)
def reconcile_cashback_task() -> dict[str, int]:
    result = cashback_reconcile()
    return {"credited": result.credited, "reversed": result.reversed}
