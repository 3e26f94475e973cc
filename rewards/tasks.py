"""Periodic reward sweeps (`rewards.sweeps`). Each is safe to run twice or concurrently."""

from config.celery_app import app
from rewards.sweeps import birthday_rewards_issue, expiring_rewards_notify, rewards_expire


# A sweep over a million customers outlasts the default task limit (CELERY_TASK_TIME_LIMIT,
# 300 s): the birthday sweep may run for most of the hour until the next run. Each batch
# commits, so a run cut short loses at most one batch, which the next run issues.
@app.task(
    name="rewards.issue_birthday_rewards",
    acks_late=True,
    soft_time_limit=50 * 60,
    time_limit=55 * 60,
)
def issue_birthday_rewards_task() -> int:
    """Hourly, so every brand's local midnight is caught; a second run issues nothing."""
    return birthday_rewards_issue().issued


@app.task(
    name="rewards.expire_rewards", acks_late=True, soft_time_limit=30 * 60, time_limit=35 * 60
)
def expire_rewards_task() -> int:
    """Daily: announce the codes about to expire (once each), then expire the past ones."""
    notified = expiring_rewards_notify()
    return notified + rewards_expire()
