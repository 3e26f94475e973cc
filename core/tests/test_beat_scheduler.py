"""Beat's schedules: created once from `CELERY_BEAT_SCHEDULE`, then kept as edited in the admin;
daily and hourly jobs at fixed times of day (UTC)."""

import importlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from config.celery_app import app as celery_app
from core.beat_scheduler import DatabaseScheduler
from core.tests.celery_worker import _database_url

BEAT_STARTUP_TIMEOUT_SECONDS = 60
# Documented in the README: (minute, hour) in UTC.
FIXED_TIMES = {
    "loyalty-expire-points": ("5", "*"),
    "promotions-sweep-pos-logs": ("35", "*"),
    "loyalty-notify-expiring-points": ("15", "*/6"),
    "loyalty-review-tiers": ("30", "2"),
    "loyalty-repair-balance-drift": ("0", "3"),
    "promotions-reconcile-usage-counters": ("30", "3"),
    "rules-daily-sweep": ("0", "5"),
}


def _start_scheduler() -> DatabaseScheduler:
    """What beat does when it starts: build the scheduler, which sets up its schedules."""
    return DatabaseScheduler(app=celery_app)


def _edit_in_the_admin() -> None:
    """Change an interval, a time of day and the enabled box; delete a task."""
    every_30s, _ = IntervalSchedule.objects.get_or_create(every=30, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(name="marketing-reconcile-loyalty-points").update(
        interval=every_30s
    )
    at_1_45, _ = CrontabSchedule.objects.get_or_create(
        minute="45", hour="1", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.filter(name="loyalty-review-tiers").update(crontab=at_1_45)
    PeriodicTask.objects.filter(name="promotions-sweep-pos-logs").update(enabled=False)
    PeriodicTask.objects.filter(name="rules-daily-sweep").delete()


def _assert_edits_kept() -> None:
    reconcile = PeriodicTask.objects.get(name="marketing-reconcile-loyalty-points")
    assert (reconcile.interval.every, reconcile.interval.period) == (30, IntervalSchedule.SECONDS)
    tiers = PeriodicTask.objects.get(name="loyalty-review-tiers")
    assert (tiers.crontab.minute, tiers.crontab.hour) == ("45", "1")
    assert not PeriodicTask.objects.get(name="promotions-sweep-pos-logs").enabled


@pytest.mark.django_db(transaction=True)
def test_every_default_schedule_is_created_and_daily_jobs_run_at_a_time_of_day():
    _start_scheduler()

    names = set(PeriodicTask.objects.values_list("name", flat=True))
    assert set(settings.CELERY_BEAT_SCHEDULE) <= names
    for name, (minute, hour) in FIXED_TIMES.items():
        task = PeriodicTask.objects.get(name=name)
        assert task.interval is None, name
        assert (task.crontab.minute, task.crontab.hour) == (minute, hour), name
        assert (task.crontab.day_of_week, task.crontab.day_of_month) == ("*", "*"), name
        assert str(task.crontab.timezone) == "UTC", name
        assert task.task == settings.CELERY_BEAT_SCHEDULE[name]["task"]
    sync = PeriodicTask.objects.get(name="promotions-sync-promotions-to-stores")
    assert (sync.interval.every, sync.interval.period) == (60, IntervalSchedule.SECONDS)


@pytest.mark.django_db(transaction=True)
def test_edits_survive_a_restart_and_a_deleted_default_comes_back(settings):
    _start_scheduler()
    _edit_in_the_admin()

    _start_scheduler()

    _assert_edits_kept()
    daily = PeriodicTask.objects.get(name="rules-daily-sweep")
    assert (daily.crontab.minute, daily.crontab.hour) == ("0", "5")
    assert PeriodicTask.objects.filter(name__in=settings.CELERY_BEAT_SCHEDULE).count() == len(
        settings.CELERY_BEAT_SCHEDULE
    )


@pytest.mark.django_db(transaction=True)
def test_a_default_added_to_the_settings_is_created_at_the_next_start(settings):
    _start_scheduler()
    celery_app.conf.beat_schedule = {
        **settings.CELERY_BEAT_SCHEDULE,
        "a-new-nightly-sweep": {"task": "core.a_new_sweep", "schedule": 3600},
    }
    try:
        _start_scheduler()
    finally:
        celery_app.conf.beat_schedule = settings.CELERY_BEAT_SCHEDULE

    assert PeriodicTask.objects.get(name="a-new-nightly-sweep").interval.every == 3600


@pytest.mark.django_db(transaction=True)
def test_a_real_beat_process_keeps_the_schedules_edited_in_the_admin():
    # Given the defaults, edited in the admin
    _start_scheduler()
    _edit_in_the_admin()

    # When `celery beat` starts (the command `make beat` runs), until it ticks
    queue = f"test-beat-{uuid.uuid4().hex[:12]}"
    log_path = Path(tempfile.gettempdir()) / f"{queue}.log"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(connection.settings_dict),
        "DATABASE_CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
    }
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=DEBUG"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + BEAT_STARTUP_TIMEOUT_SECONDS
        # Logged once the scheduler has set up its schedules.
        while "Ticking with max interval" not in log_path.read_text(errors="replace"):
            assert process.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=30)
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_purge(queue)
        output = log_path.read_text(errors="replace")
        log_path.unlink(missing_ok=True)

    # Then the edits are there, and the deleted default was created again
    _assert_edits_kept()
    assert PeriodicTask.objects.filter(name="rules-daily-sweep").exists(), output


@pytest.mark.django_db
def test_existing_installations_move_the_old_interval_defaults_to_fixed_times():
    # Given the rows the old beat wrote (daily every 86,400 s), one of them changed on purpose
    migration = importlib.import_module("core.migrations.0002_periodic_tasks_at_fixed_times")
    daily, _ = IntervalSchedule.objects.get_or_create(every=86400, period=IntervalSchedule.SECONDS)
    twice, _ = IntervalSchedule.objects.get_or_create(every=43200, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="loyalty-review-tiers", task="t", interval=daily)
    PeriodicTask.objects.create(name="rules-daily-sweep", task="t", interval=daily)
    PeriodicTask.objects.create(name="loyalty-repair-balance-drift", task="t", interval=twice)

    migration.to_fixed_times(apps, None)

    tiers = PeriodicTask.objects.get(name="loyalty-review-tiers")
    assert tiers.interval is None
    assert (tiers.crontab.minute, tiers.crontab.hour) == FIXED_TIMES["loyalty-review-tiers"]
    sweep = PeriodicTask.objects.get(name="rules-daily-sweep")
    assert (sweep.crontab.minute, sweep.crontab.hour) == FIXED_TIMES["rules-daily-sweep"]
    kept = PeriodicTask.objects.get(name="loyalty-repair-balance-drift")
    assert kept.crontab is None and kept.interval.every == 43200
    # The migration and the settings agree on every time.
    assert {name: times for name, (_, times) in migration.FIXED_TIMES.items()} == FIXED_TIMES
