"""Saving promotions and moving their status: each save is a new compiled version."""

from collections.abc import Iterable

from django.db import transaction

from core.errors import ApplicationError, ConflictError, NotFoundError
from core.outbox import outbox_enqueue
from promotions.models import Promotion, PromotionUsage, PromotionVersion
from promotions.selectors import bundle_invalidate
from promotions.services.compiler import content_hash, promotion_compile
from promotions.services.validator import (
    RELATIONS,
    issues_as_fields,
    issues_refusing,
    promotion_validate,
)

S = Promotion.Status
LIVE_STATUSES = (S.ACTIVE, S.SCHEDULED)
# Status moves an admin may make; `ended` is final.
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.SCHEDULED, S.ACTIVE, S.ENDED}),
    S.SCHEDULED: frozenset({S.DRAFT, S.ACTIVE, S.PAUSED, S.ENDED}),
    S.ACTIVE: frozenset({S.PAUSED, S.ENDED}),
    S.PAUSED: frozenset({S.ACTIVE, S.SCHEDULED, S.ENDED}),
    S.ENDED: frozenset(),
}


def _after_commit_refresh_bundles(brand_id: int) -> None:
    """After commit: drop the brand's cached bundle and publish its stores' POS bundles."""
    transaction.on_commit(lambda: bundle_invalidate(brand_id=brand_id))
    outbox_enqueue(task="promotions.sync_promotions_to_stores", kwargs={"brand_id": brand_id})


def _refuse_if_invalid(promotion: Promotion, relations: dict[str, Iterable[int]] | None) -> None:
    """A live promotion must have no issue; a draft none that is structural (a foreign row, a
    value that cannot be stored or compiled)."""
    issues = issues_refusing(
        promotion_validate(promotion=promotion, relations=relations),
        live=promotion.status in LIVE_STATUSES,
    )
    if issues:
        raise ApplicationError(
            "The promotion cannot go live: fix the fields listed.",
            code="promotion_invalid",
            fields=issues_as_fields(issues),
        )


def promotion_record_version(*, promotion: Promotion, actor=None) -> Promotion:
    """Bump the version, compile, store the compiled form and its hash, and (after commit)
    invalidate the brand's cached bundle. Call it inside the transaction that saved the
    promotion and its relations."""
    locked = Promotion.objects.select_for_update().only("version").get(pk=promotion.pk)
    promotion.version = locked.version + 1
    compiled = promotion_compile(promotion=promotion)
    digest = content_hash(compiled)
    Promotion.objects.filter(pk=promotion.pk).update(
        version=promotion.version, compiled=compiled, compiled_hash=digest
    )
    promotion.compiled, promotion.compiled_hash = compiled, digest
    PromotionVersion.objects.create(
        promotion=promotion,
        version=promotion.version,
        compiled=compiled,
        compiled_hash=digest,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    brand_id = promotion.brand_id
    _after_commit_refresh_bundles(brand_id)
    return promotion


@transaction.atomic
def promotion_save(
    *, promotion: Promotion, relations: dict[str, Iterable[int]] | None = None, actor=None
) -> Promotion:
    """Create or update a promotion with its relations. A live promotion must be valid."""
    unknown = set(relations or {}) - set(RELATIONS)
    if unknown:
        raise ValueError(f"unknown relations {sorted(unknown)}")
    _refuse_if_invalid(promotion, relations)
    promotion.code = promotion.code.strip().upper()
    promotion.save()
    for name, ids in (relations or {}).items():
        getattr(promotion, name).set(list(ids))
    return promotion_record_version(promotion=promotion, actor=actor)


@transaction.atomic
def promotion_set_status(*, promotion_id: int, status: str, actor=None) -> Promotion:
    """Activate, schedule, pause or end a promotion. Going live requires a valid promotion."""
    promotion = Promotion.objects.select_for_update().filter(pk=promotion_id).first()
    if promotion is None:
        raise NotFoundError("Promotion not found.", code="promotion_not_found")
    if status not in S.values:
        raise ApplicationError(
            f"Unknown status {status!r}.", code="invalid_status", fields={"status": ["Unknown."]}
        )
    if status == promotion.status:
        return promotion
    if status not in STATUS_TRANSITIONS[promotion.status]:
        raise ApplicationError(
            f"A {promotion.status} promotion cannot become {status}.",
            code="invalid_status_transition",
            fields={"status": [f"Not allowed from {promotion.status}."]},
        )
    promotion.status = status
    _refuse_if_invalid(promotion, None)
    promotion.save(update_fields=["status", "updated_at"])
    return promotion_record_version(promotion=promotion, actor=actor)


@transaction.atomic
def promotion_delete(*, promotion_id: int) -> None:
    """Delete a draft that never priced an order; anything else is ended instead, so orders
    and the audit trail keep pointing at it."""
    from orders.models import OrderPromotion

    promotion = Promotion.objects.select_for_update().filter(pk=promotion_id).first()
    if promotion is None:
        raise NotFoundError("Promotion not found.", code="promotion_not_found")
    used = (
        OrderPromotion.objects.filter(promotion=promotion).exists()
        or PromotionUsage.objects.filter(promotion=promotion).exists()
    )
    if promotion.status != S.DRAFT or used:
        raise ConflictError(
            "Only a draft that priced no order can be deleted; end the promotion instead.",
            code="promotion_not_deletable",
        )
    brand_id = promotion.brand_id
    promotion.delete()
    _after_commit_refresh_bundles(brand_id)
