"""Celery tasks of the outbox: thin, the work is in `core.outbox`."""

from config.celery_app import app
from core.outbox import outbox_purge, outbox_sweep


@app.task(name="core.outbox_sweep", acks_late=True, ignore_result=True)
def outbox_sweep_task() -> int:
    """Send again what is owed after a commit and not done yet (see `core.outbox`)."""
    return outbox_sweep()


@app.task(name="core.outbox_purge", acks_late=True, ignore_result=True)
def outbox_purge_task() -> int:
    return outbox_purge()
