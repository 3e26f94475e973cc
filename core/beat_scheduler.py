"""Celery beat's scheduler: django-celery-beat's database scheduler, whose schedules are
created once and then belong to the admin.

`CELERY_BEAT_SCHEDULE` (settings) holds the default of every periodic task. django-celery-beat
writes that dict over its tables at every beat start, so an interval, a crontab or an
"enabled" box changed in the admin came back at the next deploy. Here a task of the dict is
created only when no periodic task of that name exists; an existing one is left exactly as it
is. A default deleted in the admin is created again at the next start: to stop a job, untick
"Enabled" instead.
"""

from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler as BaseDatabaseScheduler
from django_celery_beat.schedulers import ModelEntry


class CreateOnceModelEntry(ModelEntry):
    @classmethod
    def from_entry(cls, name, app=None, **entry):
        model = PeriodicTask.objects.filter(name=name).first()
        if model is None:
            # Schedule rows (interval, crontab) are only created for a task that is missing.
            model, _ = PeriodicTask.objects.get_or_create(
                name=name, defaults=cls._unpack_fields(**entry)
            )
        return cls(model, app=app)


class DatabaseScheduler(BaseDatabaseScheduler):
    """Creates the missing default schedules at start and never overwrites the others."""

    Entry = CreateOnceModelEntry
