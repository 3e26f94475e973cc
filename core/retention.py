"""Deleting old records in batches, so a large backlog never holds one long transaction."""

from django.db import models, transaction


def purge_in_batches(queryset: models.QuerySet, *, batch_size: int) -> int:
    """Delete the rows of `queryset`, `batch_size` primary keys per transaction, oldest key
    first. Returns how many rows were deleted (cascaded rows not counted). Safe to run again:
    it only deletes what still matches."""
    model = queryset.model
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not ids:
                return deleted
            _, per_model = model.objects.filter(pk__in=ids).delete()
            deleted += per_model.get(model._meta.label, 0)
