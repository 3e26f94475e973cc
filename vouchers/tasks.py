"""Voucher tasks: thin, idempotent, sent through the outbox or by beat (`vouchers.services`)."""

import logging

from config.celery_app import app
from core.errors import ApplicationError, NotFoundError
from vouchers.distribution import voucher_batch_distribute
from vouchers.services import voucher_batch_codes_void, voucher_batch_generate, vouchers_expire

logger = logging.getLogger(__name__)


# A million codes take about two minutes; each chunk commits, so a run cut short is carried on
# by the next delivery without making a code twice.
@app.task(
    name="vouchers.generate_batch", acks_late=True, soft_time_limit=30 * 60, time_limit=35 * 60
)
def generate_batch_task(batch_id: int) -> int:
    try:
        return voucher_batch_generate(batch_id=batch_id).generated
    except NotFoundError:
        logger.warning("Voucher batch %s vanished before generation", batch_id)
        return 0


@app.task(
    name="vouchers.void_batch_codes", acks_late=True, soft_time_limit=30 * 60, time_limit=35 * 60
)
def void_batch_codes_task(batch_id: int) -> int:
    return voucher_batch_codes_void(batch_id=batch_id)


@app.task(
    name="vouchers.cleanup_expired_vouchers",
    acks_late=True,
    soft_time_limit=30 * 60,
    time_limit=35 * 60,
)
def cleanup_expired_vouchers_task() -> int:
    """Daily: the available codes of batches past their end become expired."""
    return vouchers_expire()


@app.task(
    name="vouchers.distribute_batch", acks_late=True, soft_time_limit=30 * 60, time_limit=35 * 60
)
def distribute_batch_task(batch_id: int, label_id: int) -> dict:
    """Send a code of the batch to each customer of the label; run again, it sends nothing
    twice (`vouchers.distribution`)."""
    try:
        return voucher_batch_distribute(batch_id=batch_id, label_id=label_id).as_dict()
    except ApplicationError as error:  # vanished, voided, or no longer distributable
        logger.warning(
            "Voucher batch %s not sent to label %s: %s", batch_id, label_id, error.message
        )
        return {}
