"""The Celery application: JSON only, late acks, bounded run time, beat from the database."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("promo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
