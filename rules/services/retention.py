"""How long the rule firing log is kept."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from core.retention import purge_in_batches
from rules.models import RuleFiring


def rule_firings_purge(*, now: datetime | None = None) -> int:
    """Delete the firings logged more than `RULE_FIRING_RETENTION_DAYS` ago. Safe to rerun."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.RULE_FIRING_RETENTION_DAYS)
    return purge_in_batches(
        RuleFiring.objects.filter(created_at__lt=cutoff),
        batch_size=settings.RETENTION_BATCH_SIZE,
    )
