"""What every domain model shares."""

from django.db import models
from django.utils import timezone


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class OutboxMessage(models.Model):
    """An effect owed after a commit: run the Celery task `task` with `kwargs`, until it has
    succeeded once (`core.outbox` writes, sends and sweeps these rows).

    The row is written in the transaction of the change that owes the effect, so the two commit
    or roll back together; it is sent to the broker after the commit, and again by the sweep
    while `done_at` is empty and `due_at` has passed. Every task sent this way is idempotent, so
    a second delivery finds its work done and does nothing."""

    task = models.CharField(max_length=200)
    kwargs = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    due_at = models.DateTimeField(help_text="When the sweep sends it again if it is not done.")
    sends = models.PositiveIntegerField(
        default=0, help_text="How many times the sweep has sent it (the first send not counted)."
    )
    last_error = models.TextField(blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=models.Q(done_at__isnull=True),
                name="core_outbox_pending_due",
            ),
            models.Index(
                fields=["done_at"],
                condition=models.Q(done_at__isnull=False),
                name="core_outbox_done_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task} #{self.pk}"
