"""Celery tasks for notifications: thin, JSON arguments, the work is in `notifications.services`."""

from config.celery_app import app
from notifications.services import (
    notification_deliveries_requeue_stale,
    notification_delivery_attempt,
    notifications_purge,
)


@app.task(
    bind=True,
    name="notifications.deliver_notification",
    acks_late=True,
    # The delivery row counts the tries (`attempts` up to `max_attempts`); Celery does not.
    max_retries=None,
    ignore_result=True,
)
def deliver_notification_task(self, delivery_id: int, attempt: int = 1) -> None:
    """Make try `attempt` of a delivery; a transient failure schedules the next try."""
    outcome = notification_delivery_attempt(delivery_id=delivery_id, attempt=attempt)
    if outcome.retry_in is not None:
        raise self.retry(args=[delivery_id, attempt + 1], countdown=outcome.retry_in)


@app.task(name="notifications.requeue_stale_deliveries", ignore_result=True)
def requeue_stale_deliveries_task() -> int:
    return notification_deliveries_requeue_stale()


@app.task(name="notifications.sweep_notifications", ignore_result=True, acks_late=True)
def sweep_notifications_task() -> int:
    """Delete notifications past their retention period."""
    return notifications_purge()
