"""Generating a batch: unique codes with their check character, chunk by chunk, re-runnable,
exact when two runs overlap; voiding and expiring codes."""

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import TestCase
from django.utils import timezone

from core.errors import ApplicationError
from core.tests.api_world import build_tenant
from vouchers.codes import code_well_formed
from vouchers.models import VoucherBatch, VoucherCode
from vouchers.services import (
    voucher_batch_create,
    voucher_batch_generate,
    vouchers_expire,
)
from vouchers.tasks import cleanup_expired_vouchers_task, generate_batch_task
from vouchers.tests.factories import batch, voucher_promotion

pytestmark = pytest.mark.django_db


def pending(promotion, **fields) -> VoucherBatch:
    """A batch created but not generated yet (its on-commit generation not run)."""
    fields.setdefault("name", "Pending")
    return voucher_batch_create(promotion=promotion, **fields)


def test_a_batch_has_its_quantity_of_unique_well_formed_codes(a):
    made = batch(voucher_promotion(a), quantity=2_500, prefix="spr-", length=7)

    codes = list(made.codes.values_list("code", flat=True))
    assert (made.status, made.generated, len(codes), len(set(codes))) == ("ready", 2500, 2500, 2500)
    assert all(code_well_formed(code, prefix="SPR-", length=7) for code in codes)


def test_generation_in_small_chunks_reports_progress_and_stops_at_the_quantity(a):
    made = pending(voucher_promotion(a), quantity=23)
    seen = []

    done = voucher_batch_generate(
        batch_id=made.pk, chunk=5, progress=lambda n, total: seen.append((n, total))
    )

    assert seen == [(5, 23), (10, 23), (15, 23), (20, 23), (23, 23)]
    assert (done.status, done.generated, done.codes.count()) == ("ready", 23, 23)


def test_running_generation_again_makes_no_extra_code(a):
    made = batch(voucher_promotion(a), quantity=40)

    generate_batch_task(made.pk)
    voucher_batch_generate(batch_id=made.pk)

    assert made.codes.count() == 40


def test_the_database_refuses_a_second_code_of_the_same_text_at_a_brand(a):
    made = batch(voucher_promotion(a), quantity=1)
    other = batch(voucher_promotion(a), quantity=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        VoucherCode.objects.create(
            brand=a.brand, batch=other, code=made.codes.get().code, max_uses=1
        )


def test_a_code_space_too_small_for_the_batch_is_refused_in_words(a):
    with pytest.raises(ApplicationError) as refused:
        pending(voucher_promotion(a), quantity=1_000_000, length=6)
    assert refused.value.fields == {"length": ["Too short for this many codes: add characters."]}
    assert not VoucherBatch.objects.exists()


def test_bad_fields_are_refused_with_a_sentence_each_and_nothing_written(a):
    promotion = voucher_promotion(a, code="SHARED")
    with pytest.raises(ApplicationError) as refused:
        pending(
            promotion,
            name=" ",
            quantity=0,
            prefix="NO SPACES",
            length=30,
            uses_per_code=0,
            valid_from=timezone.now(),
            valid_until=timezone.now() - timedelta(days=1),
        )
    assert set(refused.value.fields) == {
        "name",
        "quantity",
        "prefix",
        "length",
        "uses_per_code",
        "valid_until",
        "promotion",
    }
    assert not VoucherBatch.objects.exists()


def test_the_first_batch_makes_the_promotion_a_voucher_promotion(a):
    promotion = voucher_promotion(a)
    assert "voucher" not in promotion.compiled

    batch(promotion, quantity=1)
    promotion.refresh_from_db()
    assert promotion.compiled["schema_version"] == 2
    assert promotion.compiled["voucher"] == {"key": None, "batches": []}

    offline = batch(promotion, quantity=1, offline=True, prefix="OFF")
    promotion.refresh_from_db()
    voucher = promotion.compiled["voucher"]
    assert voucher["key"] == a.brand.voucher_key.public_key
    assert voucher["batches"] == [
        {"id": offline.pk, "prefix": "OFF", "length": 8, "starts_at": None, "ends_at": None}
    ]


@pytest.mark.django_db(transaction=True)
def test_two_generation_runs_at_once_make_exactly_the_quantity():
    a = build_tenant("a")
    with TestCase.captureOnCommitCallbacks(execute=False):
        made = pending(voucher_promotion(a), quantity=3_000)
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait(timeout=10)
            voucher_batch_generate(batch_id=made.pk, chunk=250)
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors
    made.refresh_from_db()
    assert (made.status, made.generated, made.codes.count()) == ("ready", 3000, 3000)


def test_the_daily_sweep_expires_the_available_codes_of_ended_batches(a):
    promotion = voucher_promotion(a)
    now = timezone.now()
    ended = batch(promotion, quantity=3, valid_from=now - timedelta(days=5), valid_until=now)
    live = batch(promotion, quantity=2, valid_until=now + timedelta(days=1))
    voided = ended.codes.first()
    VoucherCode.objects.filter(pk=voided.pk).update(status="voided")

    assert cleanup_expired_vouchers_task() == 2
    assert vouchers_expire(now=now + timedelta(seconds=1)) == 0

    assert sorted(ended.codes.values_list("status", flat=True)) == [
        "expired",
        "expired",
        "voided",
    ]
    assert set(live.codes.values_list("status", flat=True)) == {"available"}


def test_the_database_refuses_a_second_code_of_a_batch_sent_to_one_customer(a):
    made = batch(voucher_promotion(a), quantity=2)
    first, second = made.codes.order_by("pk")
    now = timezone.now()
    VoucherCode.objects.filter(pk=first.pk).update(customer=a.customer, assigned_at=now)

    with pytest.raises(IntegrityError), transaction.atomic():
        VoucherCode.objects.filter(pk=second.pk).update(customer=a.customer, assigned_at=now)
