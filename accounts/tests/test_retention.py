"""Failed login attempts are kept only as long as the retention says."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.utils import timezone

from accounts.tasks import sweep_login_attempts_task

pytestmark = pytest.mark.django_db


def attempt(username: str, age: timedelta) -> AccessAttempt:
    row = AccessAttempt.objects.create(
        username=username, ip_address="203.0.113.9", failures_since_start=1
    )
    AccessAttempt.objects.filter(pk=row.pk).update(attempt_time=timezone.now() - age)
    return row


def test_the_sweep_deletes_attempts_older_than_the_retention_only(settings):
    # Given attempts of 31 and 29 days ago, with 30 days kept, in batches of one
    settings.LOGIN_ATTEMPT_RETENTION_DAYS = 30
    settings.RETENTION_BATCH_SIZE = 1
    attempt("old-1", timedelta(days=31))
    attempt("old-2", timedelta(days=40))
    recent = attempt("recent", timedelta(days=29))

    # When the sweep runs twice
    first = sweep_login_attempts_task.apply().get()
    second = sweep_login_attempts_task.apply().get()

    # Then the old ones went, the recent one stays, and the second run found nothing
    assert (first, second) == (2, 0)
    assert list(AccessAttempt.objects.values_list("pk", flat=True)) == [recent.pk]
