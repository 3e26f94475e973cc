"""Generation and the expiry sweep through Redis on a real Celery worker process."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from core.tests.api_world import build_tenant
from vouchers.models import VoucherBatch
from vouchers.services import voucher_batch_create
from vouchers.tasks import cleanup_expired_vouchers_task, generate_batch_task
from vouchers.tests.factories import voucher_promotion

WAIT_SECONDS = 60


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_generates_a_batch_once_and_sweeps_it_when_it_ends(live_celery_worker):
    # Given a batch created for the worker (its creation owes one generation through the outbox)
    a = build_tenant("a")
    promotion = voucher_promotion(a)
    now = timezone.now()
    made = voucher_batch_create(
        promotion=promotion,
        name="Worker batch",
        quantity=120_000,
        valid_from=now - timedelta(days=2),
        valid_until=now + timedelta(seconds=3),
    )

    # When the generation is also delivered twice more
    results = [generate_batch_task.delay(made.pk) for _ in range(2)]

    # Then the batch has exactly its quantity of codes, whichever delivery made them
    for result in results:
        assert result.get(timeout=WAIT_SECONDS) == 120_000, live_celery_worker.log()
    made.refresh_from_db()
    assert (made.status, made.generated, made.codes.count()) == (
        VoucherBatch.Status.READY,
        120_000,
        120_000,
    )

    # And once it has ended, the worker's sweep expires every code, and a second sweep none
    time.sleep(max(0.0, (made.valid_until - timezone.now()).total_seconds()) + 0.1)
    assert cleanup_expired_vouchers_task.delay().get(timeout=WAIT_SECONDS) == 120_000
    assert cleanup_expired_vouchers_task.delay().get(timeout=WAIT_SECONDS) == 0
    assert set(made.codes.values_list("status", flat=True).distinct()) == {"expired"}
