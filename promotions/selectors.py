"""Reads for promotions: the compiled bundle of a brand, cached and invalidated on change, and
the published POS bundles of stores (current version, full bundle, delta, past releases), and
promotion usage (remaining limits, per-customer uses, drift of the counters from the ledger)."""

import gzip
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache as memoize
from pathlib import Path

from django.core.cache import cache
from django.db.models import Exists, OuterRef, Q, Subquery, Sum

from brands.models import Store
from core.money import to_minor
from promotions.models import (
    BundleManifest,
    BundleRelease,
    Promotion,
    PromotionCustomerUsage,
    PromotionSnapshot,
    PromotionUsage,
    PromotionUsageCounter,
)
from promotions.services.calculator import ENGINE_VERSION, promotions_bundle_hash

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


# --- POS sync: published bundles of stores ---------------------------------------------------

SYNC_VERSION_TTL = 5 * 60
SYNC_BYTES_TTL = 24 * 3600
SYNC_GZIP_LEVEL = 5
ENGINE_PATH = Path(__file__).resolve().parent / "static" / "promotions" / "engine.js"
_RAW = "\\u0000raw:{}\\u0000"


def _sync_version_key(store_id: int) -> str:
    return f"promotions:sync:version:{store_id}"


def _iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def json_with_raw(fields: dict, raw: dict[str, str]) -> bytes:
    """Canonical JSON of `fields` with the values of `raw` spliced in as JSON text already
    serialised (the compiled promotions are stored as canonical JSON; never parsed again)."""
    text = json.dumps(
        {**fields, **{key: f"\x00raw:{key}\x00" for key in raw}},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    for key, value in raw.items():
        text = text.replace(f'"{_RAW.format(key)}"', value, 1)
    return text.encode("ascii")


def json_list(canonicals: list[str]) -> str:
    """A JSON list of values already serialised."""
    return "[" + ",".join(canonicals) + "]"


@dataclass(frozen=True)
class StoreVersion:
    """The current release of a store, with the body `GET /api/v1/sync/version/` serves."""

    store_id: int
    version: int
    bundle_hash: str
    engine_version: str
    generated_at: str
    valid_from: str
    valid_until: str
    body: bytes

    @property
    def etag(self) -> str:
        return f'"{self.version}-{self.bundle_hash}"'


def _store_version_of(release: BundleRelease) -> StoreVersion:
    fields = {
        "store": release.store_id,
        "version": release.version,
        "hash": release.manifest_id,
        "engine_version": release.engine_version,
        "generated_at": _iso(release.created_at),
    }
    return StoreVersion(
        store_id=release.store_id,
        version=release.version,
        bundle_hash=release.manifest_id,
        engine_version=release.engine_version,
        generated_at=fields["generated_at"],
        valid_from=_iso(release.valid_from),
        valid_until=_iso(release.valid_until),
        body=json_with_raw(fields, {}),
    )


def store_version_refresh(*, store_id: int) -> StoreVersion | None:
    """Cache the store's latest release as read from the database (one query)."""
    release = BundleRelease.objects.filter(store_id=store_id).order_by("-version").first()
    if release is None:
        cache.delete(_sync_version_key(store_id))
        return None
    current = _store_version_of(release)
    cache.set(_sync_version_key(store_id), current, SYNC_VERSION_TTL)
    return current


def store_version(*, store: Store) -> StoreVersion:
    """The store's current version and hash: one cache read on a hit; on a miss one query,
    and the first release is published if the store has none yet."""
    current = cache.get(_sync_version_key(store.pk))
    if current is not None:
        return current
    current = store_version_refresh(store_id=store.pk)
    if current is None:
        from promotions.services.sync import bundle_publish

        current = _store_version_of(bundle_publish(store=store))
        cache.set(_sync_version_key(store.pk), current, SYNC_VERSION_TTL)
    return current


def _manifest_entries(bundle_hash: str) -> dict[str, str] | None:
    """`{promotion id: content hash}` of a bundle (content-addressed, so cached as is)."""
    key = f"promotions:sync:manifest:{bundle_hash}"
    entries = cache.get(key)
    if entries is None:
        entries = (
            BundleManifest.objects.filter(pk=bundle_hash).values_list("entries", flat=True).first()
        )
        if entries is None:
            return None
        cache.set(key, entries, SYNC_BYTES_TTL)
    return entries


def _canonicals(entries: dict[str, str], ids: list[str]) -> list[str] | None:
    """The canonical JSON of the promotions `ids` (keys of `entries`), ordered by id; None if
    a snapshot is missing."""
    ordered = sorted(ids, key=int)
    hashes = {entries[pk] for pk in ordered}
    found = dict(
        PromotionSnapshot.objects.filter(content_hash__in=hashes).values_list(
            "content_hash", "canonical"
        )
    )
    if len(found) != len(hashes):
        return None
    return [found[entries[pk]] for pk in ordered]


def release_bundle_build(*, release: BundleRelease) -> bytes | None:
    """The full bundle body of a release (JSON bytes): two queries, no JSON parsing."""
    entries = _manifest_entries(release.manifest_id)
    canonicals = None if entries is None else _canonicals(entries, list(entries))
    if canonicals is None:
        return None
    fields = {
        "store": release.store_id,
        "version": release.version,
        "hash": release.manifest_id,
        "engine_version": release.engine_version,
        "horizon": {
            "valid_from": _iso(release.valid_from),
            "valid_until": _iso(release.valid_until),
        },
    }
    return json_with_raw(fields, {"promotions": json_list(canonicals)})


def store_bundle_gzip(*, store: Store, current: StoreVersion) -> bytes | None:
    """The gzip-compressed full bundle of the store's release `current`, cached per release."""
    key = f"promotions:sync:bundle:{store.pk}:{current.version}:{current.bundle_hash}"
    compressed = cache.get(key)
    if compressed is not None:
        return compressed
    release = BundleRelease.objects.filter(store_id=store.pk, version=current.version).first()
    body = None if release is None else release_bundle_build(release=release)
    if body is None:
        return None
    compressed = gzip.compress(body, compresslevel=SYNC_GZIP_LEVEL, mtime=0)
    cache.set(key, compressed, SYNC_BYTES_TTL)
    return compressed


def store_bundle_delta(*, store: Store, since: int, current: StoreVersion) -> bytes:
    """What changed between the store's release `since` and `current`: added, updated (with
    their compiled forms) and removed ids; `full_required` when `since` is unknown, in the
    future or no longer kept."""
    key = f"promotions:sync:delta:{store.pk}:{since}:{current.version}:{current.bundle_hash}"
    body = cache.get(key)
    if body is not None:
        return body
    fields = {
        "since": since,
        "version": current.version,
        "hash": current.bundle_hash,
        "engine_version": current.engine_version,
        "horizon": {"valid_from": current.valid_from, "valid_until": current.valid_until},
        "full_required": True,
        "removed": [],
    }
    raw = {"added": "[]", "updated": "[]"}
    old_hash = None
    if 0 < since <= current.version:
        old_hash = (
            BundleRelease.objects.filter(store_id=store.pk, version=since)
            .values_list("manifest_id", flat=True)
            .first()
        )
    old = None if old_hash is None else _manifest_entries(old_hash)
    new = _manifest_entries(current.bundle_hash)
    if old is not None and new is not None:
        added = [pk for pk in new if pk not in old]
        updated = [pk for pk in new if pk in old and old[pk] != new[pk]]
        changed = _canonicals(new, added + updated)
        if changed is not None:
            by_id = dict(zip(sorted(added + updated, key=int), changed, strict=True))
            raw = {
                "added": json_list([by_id[pk] for pk in sorted(added, key=int)]),
                "updated": json_list([by_id[pk] for pk in sorted(updated, key=int)]),
            }
            fields["full_required"] = False
            fields["removed"] = sorted(int(pk) for pk in old if pk not in new)
    body = json_with_raw(fields, raw)
    cache.set(key, body, SYNC_BYTES_TTL)
    return body


def store_current_promotions(
    *, current: StoreVersion, promotion_ids: list[int]
) -> tuple[list[str], list[int]]:
    """The canonical JSON of those of `promotion_ids` in the store's current release (by id),
    and the ids that are not in it."""
    entries = _manifest_entries(current.bundle_hash) or {}
    wanted = sorted(set(promotion_ids))
    present = [str(pk) for pk in wanted if str(pk) in entries]
    missing = [pk for pk in wanted if str(pk) not in entries]
    canonicals = _canonicals(entries, present) if present else []
    if canonicals is None:
        return [], wanted
    return canonicals, missing


def bundle_release_promotions(*, store_id: int, bundle_hash: str) -> list[dict] | None:
    """The exact compiled promotions (ordered by id) of a release the store was served, for
    re-verifying what its devices priced; None when the store never had that bundle or its
    release is no longer kept."""
    if not BundleRelease.objects.filter(store_id=store_id, manifest_id=bundle_hash).exists():
        return None
    key = f"promotions:sync:release-promotions:{bundle_hash}"
    promotions = cache.get(key)
    if promotions is None:
        entries = _manifest_entries(bundle_hash)
        canonicals = None if entries is None else _canonicals(entries, list(entries))
        if canonicals is None:
            return None
        promotions = [json.loads(canonical) for canonical in canonicals]
        cache.set(key, promotions, SYNC_BYTES_TTL)
    return promotions


@dataclass(frozen=True)
class EngineSource:
    body: bytes
    version: str
    etag: str


@memoize
def engine_source() -> EngineSource:
    """The exact bytes of `engine.js` as served to devices, its ENGINE_VERSION and ETag."""
    body = ENGINE_PATH.read_bytes()
    match = re.search(rb'ENGINE_VERSION = "([^"]+)"', body)
    version = match.group(1).decode("ascii") if match else ENGINE_VERSION
    return EngineSource(body=body, version=version, etag=f'"{hashlib.sha256(body).hexdigest()}"')


# --- usage ------------------------------------------------------------------------------------


def promotion_usage_remaining(
    *, promotion_ids: Iterable[int], currency: str
) -> dict[int, tuple[int | None, int | None]]:
    """`(remaining uses, remaining budget in minor units)` of each promotion with such a limit,
    from its usage counter (one query); None where there is no such limit."""
    rows = (
        Promotion.objects.filter(pk__in=list(promotion_ids))
        .exclude(max_uses_total__isnull=True, budget__isnull=True)
        .values_list(
            "pk", "max_uses_total", "budget", "usage_counter__uses", "usage_counter__amount"
        )
    )
    remaining = {}
    for pk, max_uses, budget, uses, given in rows:
        remaining[pk] = (
            None if max_uses is None else max(0, max_uses - (uses or 0)),
            None if budget is None else max(0, to_minor(budget - (given or 0), currency)),
        )
    return remaining


def customer_promotion_uses(*, customer_id: int) -> dict[int, int]:
    """How many uses of each promotion the customer holds (reserved, committed or offline;
    released ones given back), from the usage counters (one query)."""
    return dict(
        PromotionCustomerUsage.objects.filter(customer_id=customer_id, uses__gt=0).values_list(
            "promotion_id", "uses"
        )
    )


@dataclass(frozen=True)
class UsageDrift:
    """A counter that differs from the sum of its ledger rows (`customer_id` None: the
    promotion's counter; otherwise the customer's)."""

    promotion_id: int
    customer_id: int | None
    counter_uses: int
    ledger_uses: int
    counter_amount: Decimal | None = None
    ledger_amount: Decimal | None = None


def _ledger_sum(field: str, **match) -> Subquery:
    return Subquery(
        PromotionUsage.objects.filter(**match)
        .order_by()
        .values("promotion_id")
        .annotate(total=Sum(field))
        .values("total")[:1]
    )


def usage_drift(*, promotion_ids: Iterable[int] | None = None) -> list[UsageDrift]:
    """Every usage counter that is not the sum of its ledger rows, with both values. Each
    level is read in one statement (one snapshot), so a use written meanwhile is never taken
    for drift. Empty when the counters are exact."""
    promotions = Promotion.objects.all()
    customers = PromotionCustomerUsage.objects.all()
    ledger = PromotionUsage.objects.all()
    if promotion_ids is not None:
        ids = list(promotion_ids)
        promotions = promotions.filter(pk__in=ids)
        customers = customers.filter(promotion_id__in=ids)
        ledger = ledger.filter(promotion_id__in=ids)
    drift = []
    rows = (
        promotions.annotate(
            ledger_uses=_ledger_sum("uses", promotion=OuterRef("pk")),
            ledger_amount=_ledger_sum("amount", promotion=OuterRef("pk")),
        )
        .filter(Q(usage_counter__isnull=False) | Q(ledger_uses__isnull=False))
        .values_list(
            "pk", "usage_counter__uses", "usage_counter__amount", "ledger_uses", "ledger_amount"
        )
        .order_by("pk")
    )
    zero = Decimal("0.00")
    for pk, uses, given, ledger_uses, ledger_given in rows:
        counted = (uses or 0, given or zero)
        summed = (ledger_uses or 0, ledger_given or zero)
        if counted != summed:
            drift.append(UsageDrift(pk, None, counted[0], summed[0], counted[1], summed[1]))
    per_customer = (
        customers.annotate(
            ledger_uses=_ledger_sum(
                "uses", promotion=OuterRef("promotion_id"), customer=OuterRef("customer_id")
            )
        )
        .values_list("promotion_id", "customer_id", "uses", "ledger_uses")
        .order_by("promotion_id", "customer_id")
    )
    for pk, customer_id, uses, ledger_uses in per_customer:
        if uses != (ledger_uses or 0):
            drift.append(UsageDrift(pk, customer_id, uses, ledger_uses or 0))
    uncounted = (
        ledger.filter(customer__isnull=False)
        .exclude(
            Exists(
                PromotionCustomerUsage.objects.filter(
                    promotion_id=OuterRef("promotion_id"), customer_id=OuterRef("customer_id")
                )
            )
        )
        .values("promotion_id", "customer_id")
        .annotate(total=Sum("uses"))
        .exclude(total=0)
        .order_by("promotion_id", "customer_id")
    )
    for row in uncounted:
        drift.append(UsageDrift(row["promotion_id"], row["customer_id"], 0, row["total"]))
    return drift


def promotion_usage_counts(*, promotion_id: int) -> tuple[int, Decimal]:
    """`(uses, amount given)` of one promotion, from its usage counter (one query)."""
    counted = (
        PromotionUsageCounter.objects.filter(pk=promotion_id).values_list("uses", "amount").first()
    )
    return counted or (0, Decimal("0.00"))
