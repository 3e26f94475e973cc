"""Celery tasks of cross-brand campaigns: thin, JSON arguments, explicit names. Both services are
idempotent, so a duplicate delivery does nothing more."""

import logging
from dataclasses import asdict

from django.db import InterfaceError, OperationalError

from campaigns.services import campaign_order_record, process_cross_brand_accumulation
from config.celery_app import app

logger = logging.getLogger(__name__)

RETRY_OPTIONS = {
    "autoretry_for": (OperationalError, InterfaceError),
    "max_retries": 5,
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "acks_late": True,
}


@app.task(name="campaigns.record_order", **RETRY_OPTIONS)
def record_order_task(order_id: int) -> dict:
    result = campaign_order_record(order_id=order_id)
    return {
        "campaigns": result.campaigns,
        "amount": str(result.amount),
        "rewards_issued": result.rewards_issued,
    }


@app.task(name="campaigns.process_cross_brand_accumulation", acks_late=True, time_limit=3600)
def process_cross_brand_accumulation_task() -> dict:
    return asdict(process_cross_brand_accumulation())
