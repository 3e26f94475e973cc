"""Voucher batches: create, generate, void, expire. The only way batches and codes change
outside of redemption (`vouchers.redemption`).

Generation is a sweep that can be re-run: each chunk runs in its own transaction under the
batch's row lock, reads how many codes the batch already has, and inserts at most the rest.
Codes collide only by chance (31^length bodies); the brand-wide unique constraint refuses a
duplicate, which is dropped (`ON CONFLICT DO NOTHING`) and made up for in the next round. Two
deliveries of the generation task therefore interleave chunk by chunk and never make more than
`quantity` codes, and a retried task carries on where the last one stopped.

On PostgreSQL a chunk is COPYed into a temporary table and inserted from there, so memory stays
that of one chunk whatever the quantity; elsewhere (SQLite, the embedded default) it is a bulk
insert that ignores conflicts.
"""

import hashlib
import io
import json
import logging
from collections.abc import Callable
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.errors import ApplicationError, ConflictError, NotFoundError
from core.outbox import outbox_enqueue
from customers.models import Customer
from promotions.models import Promotion
from vouchers.codes import (
    MAX_LENGTH,
    MAX_PREFIX,
    MIN_LENGTH,
    PREFIX_CHARACTERS,
    code_compose,
    normalise_code,
    random_bodies,
)
from vouchers.keys import brand_key_get_or_create
from vouchers.models import VoucherBatch, VoucherCode

logger = logging.getLogger(__name__)

CHUNK = 50_000
MAX_QUANTITY = 5_000_000
# Rounds of a chunk before generation gives up: only a nearly full code space gets there.
MAX_ROUNDS = 50
EXPIRE_BATCH = 10_000
# The code space is at least this many times the batch (8 characters: up to 85 million codes).
GUESS_FACTOR = 10_000

BS = VoucherBatch.Status
CS = VoucherCode.Status


def _invalid(message: str, fields: dict[str, list[str]]) -> ApplicationError:
    return ApplicationError(message, code="invalid_voucher_batch", fields=fields)


def voucher_batch_errors(
    *,
    promotion: Promotion,
    prefix: str,
    length: int,
    quantity: int,
    uses_per_code: int,
    customer: Customer | None,
    valid_from: datetime | None,
    valid_until: datetime | None,
) -> dict[str, list[str]]:
    """What is wrong with a batch's fields, as plain sentences per field (empty when nothing)."""
    errors: dict[str, list[str]] = {}
    if len(prefix) > MAX_PREFIX or any(c not in PREFIX_CHARACTERS for c in prefix):
        errors["prefix"] = [f"At most {MAX_PREFIX} characters: capital letters, digits and dashes."]
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        errors["length"] = [f"Between {MIN_LENGTH} and {MAX_LENGTH} characters."]
    elif quantity > 31**length // GUESS_FACTOR:
        # A random guess of the right form finds one of the batch's codes at most once in
        # GUESS_FACTOR tries (and repeated failures lock the guesser out).
        errors["length"] = ["Too short for this many codes: add characters."]
    if not 1 <= quantity <= MAX_QUANTITY:
        errors["quantity"] = [f"Between 1 and {MAX_QUANTITY:,} codes."]
    if uses_per_code < 1:
        errors["uses_per_code"] = ["At least 1."]
    if valid_from and valid_until and valid_until <= valid_from:
        errors["valid_until"] = ["The end must be after the start."]
    if (
        customer is not None
        and not customer.brand_links.filter(brand_id=promotion.brand_id).exists()
    ):
        errors["customer"] = ["This customer is not a customer of the promotion's brand."]
    if promotion.status == Promotion.Status.ENDED:
        errors["promotion"] = ["This promotion has ended."]
    if promotion.code:
        errors["promotion"] = [
            "This promotion has a shared code; vouchers replace it. Clear the code first."
        ]
    return errors


@transaction.atomic
def voucher_batch_create(
    *,
    promotion: Promotion,
    name: str,
    quantity: int,
    prefix: str = "",
    length: int = 8,
    uses_per_code: int = 1,
    customer: Customer | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    offline: bool = False,
    actor=None,
    idempotency_key: str | None = None,
    request_fingerprint: str = "",
) -> VoucherBatch:
    """Create a batch and owe its generation (the `vouchers.generate_batch` task, through the
    outbox). The promotion's compiled form changes when this is its first batch (it now needs a
    voucher) or an offline one (the bundle lists it), so it is recompiled and republished."""
    from promotions.services.lifecycle import promotion_record_version

    prefix = normalise_code(prefix or "")
    errors = voucher_batch_errors(
        promotion=promotion,
        prefix=prefix,
        length=length,
        quantity=quantity,
        uses_per_code=uses_per_code,
        customer=customer,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    if not name.strip():
        errors["name"] = ["Give the batch a name."]
    if errors:
        raise _invalid("The batch cannot be created: fix the fields listed.", errors)
    Promotion.objects.select_for_update().filter(pk=promotion.pk).first()
    first = not VoucherBatch.objects.filter(promotion=promotion).exists()
    if offline:
        brand_key_get_or_create(brand_id=promotion.brand_id)
    batch = VoucherBatch.objects.create(
        brand_id=promotion.brand_id,
        promotion=promotion,
        name=name.strip(),
        prefix=prefix,
        length=length,
        quantity=quantity,
        uses_per_code=uses_per_code,
        customer=customer,
        valid_from=valid_from,
        valid_until=valid_until,
        offline=offline,
        created_by=actor if getattr(actor, "pk", None) else None,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
    )
    if first or offline:
        promotion_record_version(promotion=promotion, actor=actor)
    outbox_enqueue(task="vouchers.generate_batch", kwargs={"batch_id": batch.pk})
    return batch


def voucher_batch_create_once(
    *, promotion: Promotion, idempotency_key: str, **fields
) -> tuple[VoucherBatch, bool]:
    """`voucher_batch_create` once per (brand, `idempotency_key`): a replay of the same request
    returns the first batch and `False`; the same key with another request is a conflict.
    Concurrent requests with one key meet at the unique constraint."""
    parts = {"promotion": promotion.pk, **fields}
    parts["customer"] = getattr(parts.get("customer"), "pk", None)
    parts.pop("actor", None)
    fingerprint = hashlib.sha256(
        json.dumps(parts, sort_keys=True, default=str).encode()
    ).hexdigest()

    def replayed() -> VoucherBatch | None:
        existing = VoucherBatch.objects.filter(
            brand_id=promotion.brand_id, idempotency_key=idempotency_key
        ).first()
        if existing is not None and existing.request_fingerprint != fingerprint:
            raise ConflictError(
                "This idempotency key was already used for another batch.",
                code="idempotency_key_reused",
                fields={"Idempotency-Key": ["Used for another request."]},
            )
        return existing

    existing = replayed()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            batch = voucher_batch_create(
                promotion=promotion,
                idempotency_key=idempotency_key,
                request_fingerprint=fingerprint,
                **fields,
            )
    except IntegrityError:
        existing = replayed()
        if existing is None:
            raise
        return existing, False
    return batch, True


def _insert_postgresql(batch: VoucherBatch, codes: list[str]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS voucher_code_load (code varchar(40)) "
            "ON COMMIT DELETE ROWS"
        )
        buffer = io.StringIO()
        buffer.writelines(f"{code}\n" for code in codes)
        with cursor.cursor.copy("COPY voucher_code_load (code) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        cursor.execute(
            "INSERT INTO vouchers_vouchercode "
            "(brand_id, batch_id, code, customer_id, max_uses, uses, redeemed, status) "
            "SELECT DISTINCT ON (code) %s, %s, code, %s, %s, 0, 0, %s FROM voucher_code_load "
            "ON CONFLICT (brand_id, code) DO NOTHING",
            [batch.brand_id, batch.pk, batch.customer_id, batch.uses_per_code, CS.AVAILABLE],
        )
        inserted = cursor.rowcount
        cursor.execute("TRUNCATE voucher_code_load")
    return inserted


def _insert_other(batch: VoucherBatch, codes: list[str]) -> int:
    before = VoucherCode.objects.filter(batch=batch).count()
    VoucherCode.objects.bulk_create(
        (
            VoucherCode(
                brand_id=batch.brand_id,
                batch=batch,
                code=code,
                customer_id=batch.customer_id,
                max_uses=batch.uses_per_code,
            )
            for code in codes
        ),
        batch_size=1000,
        ignore_conflicts=True,
    )
    return VoucherCode.objects.filter(batch=batch).count() - before


def _chunk_generate(batch_id: int, chunk: int) -> tuple[int, bool]:
    """One chunk under the batch's lock: `(codes now in the batch, done)`."""
    with transaction.atomic():
        batch = VoucherBatch.objects.select_for_update().get(pk=batch_id)
        missing = batch.quantity - batch.generated
        if missing <= 0 or batch.voided_at is not None:
            return batch.generated, True
        codes = [
            code_compose(prefix=batch.prefix, body=body)
            for body in random_bodies(min(chunk, missing), batch.length)
        ]
        insert = _insert_postgresql if connection.vendor == "postgresql" else _insert_other
        inserted = insert(batch, codes)
        VoucherBatch.objects.filter(pk=batch_id).update(
            generated=F("generated") + inserted, status=BS.GENERATING, updated_at=timezone.now()
        )
        return batch.generated + inserted, batch.generated + inserted >= batch.quantity


def voucher_batch_generate(
    *, batch_id: int, chunk: int = CHUNK, progress: Callable[[int, int], None] | None = None
) -> VoucherBatch:
    """Generate the batch's missing codes, chunk by chunk (see the module docstring); marks it
    ready when complete. Running it again, or twice at once, makes no extra code."""
    batch = VoucherBatch.objects.filter(pk=batch_id).first()
    if batch is None:
        raise NotFoundError("Voucher batch not found.", code="voucher_batch_not_found")
    rounds_without_progress = 0
    done = batch.generated >= batch.quantity
    while not done:
        before = batch.generated
        generated, done = _chunk_generate(batch_id, chunk)
        batch.generated = generated
        if progress is not None:
            progress(generated, batch.quantity)
        rounds_without_progress = 0 if generated > before else rounds_without_progress + 1
        if rounds_without_progress >= MAX_ROUNDS:
            VoucherBatch.objects.filter(pk=batch_id).update(
                status=BS.FAILED,
                error="The code space is too full: use a longer code or another prefix.",
                updated_at=timezone.now(),
            )
            batch.refresh_from_db()
            return batch
    VoucherBatch.objects.filter(pk=batch_id, generated__gte=F("quantity")).exclude(
        status=BS.READY
    ).update(status=BS.READY, error="", updated_at=timezone.now())
    batch.refresh_from_db()
    return batch


def _republish_if_offline(batch: VoucherBatch, actor=None) -> None:
    from promotions.services.lifecycle import promotion_record_version

    if batch.offline:
        promotion = Promotion.objects.get(pk=batch.promotion_id)
        promotion_record_version(promotion=promotion, actor=actor)


@transaction.atomic
def voucher_batch_void(*, batch_id: int, actor=None) -> VoucherBatch:
    """Void a batch: no code of it can be used any more (a use already held by an order stays
    with the order). Its codes are voided by `vouchers.void_batch_codes` after commit, in
    chunks; pricing refuses them at once, as it checks the batch too."""
    batch = VoucherBatch.objects.select_for_update().filter(pk=batch_id).first()
    if batch is None:
        raise NotFoundError("Voucher batch not found.", code="voucher_batch_not_found")
    if batch.voided_at is None:
        batch.voided_at = timezone.now()
        batch.save(update_fields=["voided_at", "updated_at"])
        _republish_if_offline(batch, actor)
    outbox_enqueue(task="vouchers.void_batch_codes", kwargs={"batch_id": batch.pk})
    return batch


def voucher_batch_codes_void(*, batch_id: int, chunk: int = EXPIRE_BATCH) -> int:
    """Void the batch's available and reserved codes, a chunk per transaction; re-runnable."""
    voided = 0
    while True:
        ids = list(
            VoucherCode.objects.filter(
                batch_id=batch_id, status__in=(CS.AVAILABLE, CS.RESERVED)
            ).values_list("pk", flat=True)[:chunk]
        )
        if not ids:
            return voided
        voided += VoucherCode.objects.filter(
            pk__in=ids, status__in=(CS.AVAILABLE, CS.RESERVED)
        ).update(status=CS.VOIDED)


def voucher_code_void(*, code_id: int, brand_ids: list[int] | None = None) -> VoucherCode:
    """Void one code (of the given brands, when given). Voiding a voided, redeemed or expired
    code changes nothing."""
    codes = VoucherCode.objects.filter(pk=code_id)
    if brand_ids is not None:
        codes = codes.filter(brand_id__in=brand_ids)
    code = codes.first()
    if code is None:
        raise NotFoundError("Voucher code not found.", code="voucher_code_not_found")
    VoucherCode.objects.filter(pk=code_id, status__in=(CS.AVAILABLE, CS.RESERVED)).update(
        status=CS.VOIDED
    )
    code.refresh_from_db()
    return code


def vouchers_expire(*, now: datetime | None = None, chunk: int = EXPIRE_BATCH) -> int:
    """`cleanup_expired_vouchers`: mark the available codes of batches past their end as
    expired, a chunk per transaction. Re-runnable: only available codes move."""
    now = now or timezone.now()
    expired = 0
    ended = VoucherBatch.objects.filter(valid_until__lte=now).filter(Q(codes__status=CS.AVAILABLE))
    for batch_id in ended.values_list("pk", flat=True).distinct():
        while True:
            ids = list(
                VoucherCode.objects.filter(batch_id=batch_id, status=CS.AVAILABLE).values_list(
                    "pk", flat=True
                )[:chunk]
            )
            if not ids:
                break
            expired += VoucherCode.objects.filter(pk__in=ids, status=CS.AVAILABLE).update(
                status=CS.EXPIRED
            )
    return expired
