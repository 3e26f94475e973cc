"""Reads for promotions: the compiled bundle of a brand, cached and invalidated on change."""

from django.core.cache import cache

from promotions.models import Promotion
from promotions.services.calculator import promotions_bundle_hash

BUNDLE_TTL = 24 * 3600
CANDIDATE_STATUSES = (Promotion.Status.ACTIVE, Promotion.Status.SCHEDULED)


def _generation_key(brand_id: int) -> str:
    return f"promotions:bundle-generation:{brand_id}"


def bundle_invalidate(*, brand_id: int) -> None:
    """Make the next read rebuild the brand's bundle (the old entry simply ages out)."""
    try:
        cache.incr(_generation_key(brand_id))
    except ValueError:
        cache.set(_generation_key(brand_id), 1, None)


def brand_bundle(*, brand_id: int) -> tuple[list[dict], str]:
    """The compiled active and scheduled promotions of a brand, and their bundle hash.

    Served from the cache: two cache reads on a hit, one query on a miss.
    """
    generation = cache.get_or_set(_generation_key(brand_id), 0, None)
    key = f"promotions:bundle:{brand_id}:{generation}"
    cached = cache.get(key)
    if cached is not None:
        return cached["promotions"], cached["hash"]
    compiled = list(
        Promotion.objects.filter(
            brand_id=brand_id, status__in=CANDIDATE_STATUSES, compiled__isnull=False
        )
        .order_by("id")
        .values_list("compiled", flat=True)
    )
    bundle = {"promotions": compiled, "hash": promotions_bundle_hash(compiled)}
    cache.set(key, bundle, BUNDLE_TTL)
    return bundle["promotions"], bundle["hash"]
