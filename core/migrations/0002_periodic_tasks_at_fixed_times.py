"""Daily and hourly periodic tasks at fixed times of day (UTC) on existing installations.

Beat used to write its defaults over django-celery-beat's tables at every start, with daily jobs
every 86,400 s from that start. Beat now creates missing tasks only (core/beat_scheduler.py), so
the rows written by the old defaults are moved here to the new crontab entries; a task whose
schedule is anything else has been changed on purpose and is left alone.
"""

from django.db import migrations
from django.utils import timezone

# name: (the old default interval in seconds, (minute, hour) in UTC)
FIXED_TIMES = {
    "loyalty-expire-points": (3600, ("5", "*")),
    "promotions-sweep-pos-logs": (3600, ("35", "*")),
    "loyalty-notify-expiring-points": (6 * 3600, ("15", "*/6")),
    "loyalty-review-tiers": (86400, ("30", "2")),
    "loyalty-repair-balance-drift": (86400, ("0", "3")),
    "promotions-reconcile-usage-counters": (86400, ("30", "3")),
    "rules-daily-sweep": (86400, ("0", "5")),
}


def to_fixed_times(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    moved = 0
    for name, (seconds, (minute, hour)) in FIXED_TIMES.items():
        task = (
            PeriodicTask.objects.filter(
                name=name, interval__every=seconds, interval__period="seconds"
            )
            .select_related("interval")
            .first()
        )
        if task is None:
            continue
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone="UTC",
        )
        task.interval = None
        task.crontab = crontab
        task.save(update_fields=["interval", "crontab"])
        moved += 1
    if moved:
        # A running beat reloads its schedule when this changes.
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_outbox_message"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(to_fixed_times, migrations.RunPython.noop)]
