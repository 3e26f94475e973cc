"""Periodic reward sweeps (`rewards.sweeps`). Each is safe to run twice or concurrently."""

from config.celery_app import app
from rewards.sweeps import birthday_rewards_issue, expiring_rewards_notify, rewards_expire


@app.task(name="rewards.issue_birthday_rewards", acks_late=True)
def issue_birthday_rewards_task() -> int:
    """Hourly, so every brand's local midnight is caught; a second run issues nothing."""
    return birthday_rewards_issue().issued


@app.task(name="rewards.expire_rewards", acks_late=True)
def expire_rewards_task() -> int:
    """Daily: announce the codes about to expire (once each), then expire the past ones."""
    notified = expiring_rewards_notify()
    return notified + rewards_expire()
