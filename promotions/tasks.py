"""Promotion tasks. Each is thin, idempotent and safe to run twice."""

import logging

from django.db import InterfaceError, OperationalError

from brands.models import Brand
from config.celery_app import app
from promotions.services.pos_uploads import pos_logs_purge
from promotions.services.sync import brand_bundles_publish, bundles_publish_all
from promotions.services.usage import usage_reconcile

logger = logging.getLogger(__name__)


@app.task(name="promotions.sweep_pos_logs", ignore_result=True, acks_late=True)
def sweep_pos_logs_task() -> int:
    """Delete POS device log lines past their retention period."""
    return pos_logs_purge()


@app.task(
    name="promotions.sync_promotions_to_stores",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    max_retries=5,
    retry_backoff=2,
    retry_backoff_max=120,
    retry_jitter=True,
)
def sync_promotions_to_stores_task(brand_id: int | None = None) -> dict[str, int]:
    """Publish the POS bundles of one brand's stores (after a promotion changed) or, without
    a brand, of every brand (the periodic sweep). A store whose bundle did not change keeps
    its version, so running it again does nothing."""
    if brand_id is None:
        result = bundles_publish_all()
        return {"created": result.created, "unchanged": result.unchanged}
    if not Brand.objects.filter(pk=brand_id).exists():
        logger.warning("POS sync: brand %s not found; nothing to publish.", brand_id)
        return {"created": 0, "unchanged": 0}
    outcomes = brand_bundles_publish(brand_id=brand_id)
    created = sum(outcome.created for outcome in outcomes)
    return {"created": created, "unchanged": len(outcomes) - created}


@app.task(name="promotions.reconcile_usage_counters", ignore_result=True, acks_late=True)
def reconcile_usage_counters_task() -> int:
    """Set any promotion usage counter that drifted from the usage ledger back to the ledger's
    sums (normally none; each fix is logged). Safe to run again."""
    fixed = usage_reconcile()
    for drift in fixed:
        logger.error("Promotion usage counter drifted from the ledger and was fixed: %s", drift)
    return len(fixed)
