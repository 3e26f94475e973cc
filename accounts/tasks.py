"""Celery tasks of logins: thin, the work is in `accounts.services`."""

from accounts.services import login_attempts_purge
from config.celery_app import app


@app.task(name="accounts.sweep_login_attempts", acks_late=True, ignore_result=True)
def sweep_login_attempts_task() -> int:
    return login_attempts_purge()
