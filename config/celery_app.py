"""The Celery application: JSON only, late acks, bounded run time, beat from the database."""

import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("promo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _mask_personal_data_in_worker_logs(logger, **kwargs) -> None:
    """The worker replaces the root logger's handlers with its own (and sends stdout, where
    the console mail backend writes, to a logger): give each of them the PII filter too."""
    from core.privacy import PiiLogFilter

    for handler in logger.handlers:
        if not any(isinstance(existing, PiiLogFilter) for existing in handler.filters):
            handler.addFilter(PiiLogFilter())
