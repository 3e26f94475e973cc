"""Publishing POS bundles: per store, versioned, a new release only when the content changed.

A store's bundle at `at` is the brand's compiled active and scheduled promotions that apply to
the store and whose validity overlaps `[at, at + HORIZON]`, with the remaining uses and budget
as of publication. Each compiled promotion is kept once as canonical JSON keyed by its content
hash (`PromotionSnapshot`), each distinct bundle once as `{id: content hash}` keyed by the
bundle hash (`BundleManifest`), and a store's versions are `BundleRelease` rows.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from brands.models import Brand, PosDevice, Store
from orders.selectors import promotions_with_live_limits
from promotions.models import BundleManifest, BundleRelease, Promotion, PromotionSnapshot
from promotions.services.calculator import ENGINE_VERSION, canonical_json

CANDIDATE_STATUSES = (Promotion.Status.ACTIVE, Promotion.Status.SCHEDULED)
# The bundle covers what starts within this window, so a device stays right offline tonight.
HORIZON = timedelta(hours=24)
# History kept per store for deltas and ticket re-verification: at least this many releases,
# and every release younger than RELEASES_KEPT_FOR.
RELEASES_KEPT = 50
RELEASES_KEPT_FOR = timedelta(days=2)
# Snapshots and manifests no release references are deleted after this grace period.
UNUSED_GRACE = timedelta(days=1)
SNAPSHOT_BATCH = 1000


@dataclass(frozen=True)
class CompiledEntry:
    """A compiled promotion with its canonical JSON and content hash, computed once."""

    promotion_id: int
    stores: tuple[int, ...]
    canonical: str
    content_hash: str


@dataclass(frozen=True)
class StoreBundle:
    """What a store's devices should hold: entries ordered by promotion id."""

    store_id: int
    entries: tuple[CompiledEntry, ...]
    bundle_hash: str
    valid_from: datetime
    valid_until: datetime

    @property
    def manifest(self) -> dict[str, str]:
        return {str(entry.promotion_id): entry.content_hash for entry in self.entries}


@dataclass(frozen=True)
class PublishOutcome:
    release: BundleRelease
    created: bool


def _epoch(instant: datetime) -> int:
    return int(instant.timestamp())


def _overlaps(compiled: dict, start: int, end: int) -> bool:
    validity = compiled.get("validity") or {}
    starts_at, ends_at = validity.get("starts_at"), validity.get("ends_at")
    return (starts_at is None or starts_at < end) and (ends_at is None or ends_at > start)


def bundle_hash_of(canonicals: Iterable[str]) -> str:
    """`promotions_bundle_hash` of promotions already in canonical JSON, ordered by id: the
    canonical JSON of a list is its items' canonical JSON joined by commas in brackets."""
    digest = hashlib.sha256(b"[")
    for index, canonical in enumerate(canonicals):
        if index:
            digest.update(b",")
        digest.update(canonical.encode("ascii"))
    digest.update(b"]")
    return digest.hexdigest()


def brand_bundle_entries(*, brand: Brand, at: datetime) -> list[CompiledEntry]:
    """The brand's candidate promotions within the horizon, with live limits, by id."""
    start, end = _epoch(at), _epoch(at + HORIZON)
    compiled = [
        promotion
        for promotion in Promotion.objects.filter(
            brand_id=brand.pk, status__in=CANDIDATE_STATUSES, compiled__isnull=False
        )
        .order_by("id")
        .values_list("compiled", flat=True)
        if _overlaps(promotion, start, end)
    ]
    live = promotions_with_live_limits(promotions=compiled, currency=brand.currency)
    entries = []
    for promotion in sorted(live, key=lambda p: p["id"]):
        canonical = canonical_json(promotion)
        entries.append(
            CompiledEntry(
                promotion_id=promotion["id"],
                stores=tuple(promotion.get("stores") or ()),
                canonical=canonical,
                content_hash=hashlib.sha256(canonical.encode("ascii")).hexdigest(),
            )
        )
    return entries


def store_bundle_from_entries(
    *, store_id: int, entries: list[CompiledEntry], at: datetime
) -> StoreBundle:
    """The store's share of the brand's entries: those for every store or naming it."""
    mine = tuple(entry for entry in entries if not entry.stores or store_id in entry.stores)
    return StoreBundle(
        store_id=store_id,
        entries=mine,
        bundle_hash=bundle_hash_of(entry.canonical for entry in mine),
        valid_from=at,
        valid_until=at + HORIZON,
    )


def store_bundle_compute(*, store: Store, at: datetime | None = None) -> StoreBundle:
    """The bundle the store's devices should hold at `at` (now by default); writes nothing."""
    at = at or timezone.now()
    entries = brand_bundle_entries(brand=store.brand, at=at)
    return store_bundle_from_entries(store_id=store.pk, entries=entries, at=at)


def _ensure_snapshots(entries: Iterable[CompiledEntry], now: datetime) -> None:
    """Insert the snapshots, or mark existing ones used now (which keeps them from a
    concurrent prune: the upsert locks the row, and the prune re-checks `last_used_at`)."""
    unique = {entry.content_hash: entry for entry in entries}
    rows = [
        PromotionSnapshot(content_hash=digest, canonical=unique[digest].canonical, last_used_at=now)
        for digest in sorted(unique)
    ]
    PromotionSnapshot.objects.bulk_create(
        rows,
        batch_size=SNAPSHOT_BATCH,
        update_conflicts=True,
        unique_fields=["content_hash"],
        update_fields=["last_used_at"],
    )


def _ensure_manifest(bundle: StoreBundle, now: datetime) -> None:
    BundleManifest.objects.bulk_create(
        [BundleManifest(bundle_hash=bundle.bundle_hash, entries=bundle.manifest, last_used_at=now)],
        update_conflicts=True,
        unique_fields=["bundle_hash"],
        update_fields=["last_used_at"],
    )


def _prune_history(*, store_id: int, latest_version: int, now: datetime) -> int:
    deleted, _ = BundleRelease.objects.filter(
        store_id=store_id,
        version__lte=latest_version - RELEASES_KEPT,
        created_at__lt=now - RELEASES_KEPT_FOR,
    ).delete()
    return deleted


@transaction.atomic
def brand_bundles_publish(
    *, brand_id: int, store_ids: Iterable[int] | None = None, at: datetime | None = None
) -> list[PublishOutcome]:
    """Publish a new release for each of the brand's stores (`store_ids`, or every store with
    an active device) whose bundle changed; the others keep their current release.

    The stores are locked in primary-key order and the bundle is computed under the lock, so
    concurrent publishes are serialised: never two versions with the same number, never a
    second version with unchanged content, never older content under a newer number.
    """
    at = at or timezone.now()
    stores = Store.objects.select_for_update().filter(brand_id=brand_id).order_by("pk")
    if store_ids is None:
        active = PosDevice.objects.filter(revoked_at__isnull=True).values("store_id")
        stores = stores.filter(pk__in=active)
    else:
        stores = stores.filter(pk__in=list(store_ids))
    locked = list(stores.values_list("pk", flat=True))
    if not locked:
        return []
    brand = Brand.objects.get(pk=brand_id)
    entries = brand_bundle_entries(brand=brand, at=at)
    latest_versions = dict(
        BundleRelease.objects.filter(store_id__in=locked)
        .values("store_id")
        .annotate(latest=Max("version"))
        .values_list("store_id", "latest")
        .order_by()
    )
    previous = {
        release.store_id: release
        for release in BundleRelease.objects.filter(
            store_id__in=list(latest_versions),
            version__in=set(latest_versions.values()),
        )
        if latest_versions.get(release.store_id) == release.version
    }
    now = timezone.now()
    ensured_snapshots: set[str] = set()
    ensured_manifests: set[str] = set()
    outcomes = []
    for store_id in locked:
        bundle = store_bundle_from_entries(store_id=store_id, entries=entries, at=at)
        current = previous.get(store_id)
        if (
            current is not None
            and current.manifest_id == bundle.bundle_hash
            and current.engine_version == ENGINE_VERSION
        ):
            outcomes.append(PublishOutcome(release=current, created=False))
            continue
        if bundle.bundle_hash not in ensured_manifests:
            if current is not None and current.manifest_id not in ensured_manifests:
                # Snapshots of the store's current release stay referenced by it (it is
                # locked and kept), so only the new ones need writing.
                ensured_snapshots.update(
                    BundleManifest.objects.get(pk=current.manifest_id).entries.values()
                )
                ensured_manifests.add(current.manifest_id)
            _ensure_snapshots(
                (entry for entry in bundle.entries if entry.content_hash not in ensured_snapshots),
                now,
            )
            ensured_snapshots.update(entry.content_hash for entry in bundle.entries)
            _ensure_manifest(bundle, now)
            ensured_manifests.add(bundle.bundle_hash)
        version = (current.version if current is not None else 0) + 1
        release = BundleRelease.objects.create(
            store_id=store_id,
            version=version,
            manifest_id=bundle.bundle_hash,
            valid_from=bundle.valid_from,
            valid_until=bundle.valid_until,
            engine_version=ENGINE_VERSION,
        )
        _prune_history(store_id=store_id, latest_version=version, now=now)
        outcomes.append(PublishOutcome(release=release, created=True))
    _refresh_cache_on_commit(locked)
    return outcomes


def _refresh_cache_on_commit(store_ids: list[int]) -> None:
    from promotions.selectors import store_version_refresh

    def refresh() -> None:
        for store_id in store_ids:
            store_version_refresh(store_id=store_id)

    transaction.on_commit(refresh)


def bundle_publish(*, store: Store, at: datetime | None = None) -> BundleRelease:
    """Publish the store's bundle if it changed; returns the store's current release."""
    outcomes = brand_bundles_publish(brand_id=store.brand_id, store_ids=[store.pk], at=at)
    return outcomes[0].release


@dataclass(frozen=True)
class SweepResult:
    brands: int
    created: int
    unchanged: int
    snapshots_deleted: int
    manifests_deleted: int


def bundles_publish_all(*, at: datetime | None = None) -> SweepResult:
    """The periodic sweep: publish every brand's stores (promotions that started or ended,
    remaining limits that moved), then delete what no release references any more. Safe to
    run again at any time."""
    brand_ids = sorted(
        set(
            PosDevice.objects.filter(revoked_at__isnull=True).values_list(
                "store__brand_id", flat=True
            )
        )
    )
    created = unchanged = 0
    for brand_id in brand_ids:
        for outcome in brand_bundles_publish(brand_id=brand_id, at=at):
            created += outcome.created
            unchanged += not outcome.created
    manifests_deleted, snapshots_deleted = bundle_storage_prune()
    return SweepResult(
        brands=len(brand_ids),
        created=created,
        unchanged=unchanged,
        snapshots_deleted=snapshots_deleted,
        manifests_deleted=manifests_deleted,
    )


def bundle_storage_prune(*, now: datetime | None = None) -> tuple[int, int]:
    """Delete manifests no release references and snapshots no manifest references, once
    unused for UNUSED_GRACE. Returns (manifests deleted, snapshots deleted)."""
    cutoff = (now or timezone.now()) - UNUSED_GRACE
    manifests_deleted, _ = BundleManifest.objects.filter(
        last_used_at__lt=cutoff, releases__isnull=True
    ).delete()
    stale = set(
        PromotionSnapshot.objects.filter(last_used_at__lt=cutoff).values_list(
            "content_hash", flat=True
        )
    )
    if not stale:
        return manifests_deleted, 0
    for entries in BundleManifest.objects.values_list("entries", flat=True).iterator():
        stale.difference_update(entries.values())
    snapshots_deleted = 0
    ordered = sorted(stale)
    for index in range(0, len(ordered), SNAPSHOT_BATCH):
        deleted, _ = PromotionSnapshot.objects.filter(
            content_hash__in=ordered[index : index + SNAPSHOT_BATCH], last_used_at__lt=cutoff
        ).delete()
        snapshots_deleted += deleted
    return manifests_deleted, snapshots_deleted
