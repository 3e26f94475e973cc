"""Publishing POS bundles: content and horizon, versions, history, concurrency, the task."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from brands.tests.factories import BrandFactory, StoreFactory, make_device
from promotions.models import BundleManifest, BundleRelease, Promotion, PromotionSnapshot
from promotions.selectors import (
    bundle_release_promotions,
    store_bundle_delta,
    store_bundle_gzip,
    store_version,
)
from promotions.services import sync
from promotions.services.calculator import ENGINE_VERSION, promotions_bundle_hash
from promotions.services.lifecycle import promotion_save, promotion_set_status
from promotions.tasks import sync_promotions_to_stores_task
from promotions.tests.factories import PromotionFactory

S = Promotion.Status


def live(brand, *, stores=(), **fields) -> Promotion:
    fields.setdefault("status", S.ACTIVE)
    return promotion_save(
        promotion=PromotionFactory.build(brand=brand, **fields),
        relations={"stores": [store.pk for store in stores]},
    )


@pytest.fixture
def store():
    store = StoreFactory(brand=BrandFactory())
    make_device(store=store)
    return store


def bundle_ids(store, at=None) -> list[int]:
    return [entry.promotion_id for entry in sync.store_bundle_compute(store=store, at=at).entries]


@pytest.mark.django_db
def test_the_bundle_holds_what_applies_to_the_store_now_and_within_24_hours(store):
    # Given promotions of every kind around the store and the clock
    now = timezone.now()
    brand = store.brand
    other_store = StoreFactory(brand=brand)
    everywhere = live(brand)
    this_store = live(brand, stores=[store])
    tonight = live(
        brand,
        status=S.SCHEDULED,
        starts_at=now + timedelta(hours=23),
        ends_at=now + timedelta(days=2),
    )
    too_late = live(
        brand,
        status=S.SCHEDULED,
        starts_at=now + timedelta(hours=25),
        ends_at=now + timedelta(days=2),
    )
    ended = live(brand, starts_at=now - timedelta(days=3), ends_at=now - timedelta(minutes=1))
    elsewhere = live(brand, stores=[other_store])
    paused = live(brand)
    promotion_set_status(promotion_id=paused.pk, status=S.PAUSED)
    live(BrandFactory())  # another brand's

    # When the store's bundle is computed
    ids = bundle_ids(store, at=now)

    # Then it holds exactly the promotions valid now or starting within 24 hours, for it
    assert ids == sorted([everywhere.pk, this_store.pk, tonight.pk])
    assert too_late.pk not in ids and ended.pk not in ids and elsewhere.pk not in ids
    # And the other store sees its own promotion, not this store's
    assert elsewhere.pk in bundle_ids(other_store, at=now)
    assert this_store.pk not in bundle_ids(other_store, at=now)


@pytest.mark.django_db
def test_the_bundle_hash_is_the_engine_bundle_hash_with_live_limits(store):
    # Given a promotion with a use limit and a budget
    promotion = live(store.brand, max_uses_total=10, budget=Decimal("50.00"))

    # When the store's bundle is published
    release = sync.bundle_publish(store=store)

    # Then the release's promotions carry the remaining limits and hash like the engine's
    promotions = bundle_release_promotions(store_id=store.pk, bundle_hash=release.bundle_hash)
    assert [p["id"] for p in promotions] == [promotion.pk]
    assert promotions[0]["limits"]["remaining_uses"] == 10
    assert promotions[0]["limits"]["remaining_budget"] == 5000
    assert promotions_bundle_hash(promotions) == release.bundle_hash
    assert release.engine_version == ENGINE_VERSION
    assert release.valid_until - release.valid_from == sync.HORIZON


@pytest.mark.django_db
def test_a_new_version_only_when_the_content_changes(store):
    # Given a published bundle
    promotion = live(store.brand)
    first = sync.bundle_publish(store=store)

    # When it is published again without change, then the version stays
    assert sync.bundle_publish(store=store).pk == first.pk
    assert sync.bundle_publish(store=store, at=timezone.now() + timedelta(minutes=5)).pk == first.pk

    # When a promotion changes, then the next publish is version 2
    promotion.priority = 7
    promotion_save(promotion=promotion)
    second = sync.bundle_publish(store=store)
    assert (first.version, second.version) == (1, 2)
    assert second.bundle_hash != first.bundle_hash
    assert BundleRelease.objects.filter(store=store).count() == 2


@pytest.mark.django_db
def test_snapshots_and_manifests_are_shared_between_stores_and_releases(store):
    # Given two stores of the brand with devices and three promotions
    second_store = StoreFactory(brand=store.brand)
    make_device(store=second_store)
    promotions = [live(store.brand) for _ in range(3)]

    # When the brand is published, then one manifest and three snapshots serve both stores
    outcomes = sync.brand_bundles_publish(brand_id=store.brand_id)
    assert [outcome.created for outcome in outcomes] == [True, True]
    assert BundleManifest.objects.count() == 1
    assert PromotionSnapshot.objects.count() == 3

    # When one promotion changes, then only its new snapshot is added
    promotions[0].priority = 3
    promotion_save(promotion=promotions[0])
    sync.brand_bundles_publish(brand_id=store.brand_id)
    assert PromotionSnapshot.objects.count() == 4
    assert BundleManifest.objects.count() == 2


@pytest.mark.django_db
def test_a_store_without_an_active_device_is_published_on_its_first_poll():
    # Given a store without devices
    quiet = StoreFactory(brand=BrandFactory())
    live(quiet.brand)

    # When the brand is published, then nothing is published for it
    assert sync.brand_bundles_publish(brand_id=quiet.brand_id) == []

    # When its version is asked for, then its first release is published
    current = store_version(store=quiet)
    assert current.version == 1
    assert BundleRelease.objects.filter(store=quiet).count() == 1


@pytest.mark.django_db
def test_history_is_pruned_to_the_kept_releases_and_old_deltas_need_the_full_bundle(
    store, monkeypatch
):
    # Given a short history
    monkeypatch.setattr(sync, "RELEASES_KEPT", 3)
    monkeypatch.setattr(sync, "RELEASES_KEPT_FOR", timedelta(0))
    promotion = live(store.brand)
    for priority in range(6):
        promotion.priority = priority
        promotion_save(promotion=promotion)
        sync.bundle_publish(store=store)

    # Then only the last three releases are kept
    versions = list(
        BundleRelease.objects.filter(store=store)
        .order_by("version")
        .values_list("version", flat=True)
    )
    assert versions == [4, 5, 6]
    current = store_version(store=store)

    # And a delta from a pruned, unknown or future version says to take the full bundle
    for since in (1, 0, 7):
        body = store_bundle_delta(store=store, since=since, current=current)
        assert b'"full_required":true' in body
    assert b'"full_required":false' in store_bundle_delta(store=store, since=4, current=current)
    # And a pruned release cannot serve re-verification any more
    assert bundle_release_promotions(store_id=store.pk, bundle_hash="0" * 64) is None


@pytest.mark.django_db
def test_unreferenced_storage_is_pruned_after_the_grace_period(store, monkeypatch):
    # Given a promotion changed once, with only the latest release kept
    monkeypatch.setattr(sync, "RELEASES_KEPT", 1)
    monkeypatch.setattr(sync, "RELEASES_KEPT_FOR", timedelta(0))
    promotion = live(store.brand)
    sync.bundle_publish(store=store)
    promotion.priority = 9
    promotion_save(promotion=promotion)
    latest = sync.bundle_publish(store=store)
    assert BundleRelease.objects.filter(store=store).count() == 1

    # When storage is pruned now, then nothing goes (grace period)
    assert sync.bundle_storage_prune() == (0, 0)

    # When it is pruned after the grace period, the old manifest and snapshot go
    later = timezone.now() + sync.UNUSED_GRACE + timedelta(minutes=1)
    assert sync.bundle_storage_prune(now=later) == (1, 1)
    promotions = bundle_release_promotions(store_id=store.pk, bundle_hash=latest.bundle_hash)
    assert [p["priority"] for p in promotions] == [9]


@pytest.mark.django_db
def test_bundle_release_promotions_is_scoped_to_the_store(store):
    live(store.brand)
    release = sync.bundle_publish(store=store)
    other = StoreFactory(brand=store.brand)

    assert bundle_release_promotions(store_id=other.pk, bundle_hash=release.bundle_hash) is None
    assert bundle_release_promotions(store_id=store.pk, bundle_hash="f" * 64) is None


@pytest.mark.django_db
def test_the_full_bundle_is_built_once_per_release(store, django_assert_num_queries):
    import gzip
    import json

    live(store.brand)
    current = store_version(store=store)
    body = json.loads(gzip.decompress(store_bundle_gzip(store=store, current=current)))
    assert body["hash"] == current.bundle_hash
    assert promotions_bundle_hash(body["promotions"]) == current.bundle_hash

    with django_assert_num_queries(0):
        store_bundle_gzip(store=store, current=current)


@pytest.mark.django_db
def test_the_task_publishes_once_and_is_idempotent(store):
    live(store.brand)

    assert sync_promotions_to_stores_task.apply(kwargs={"brand_id": store.brand_id}).get() == {
        "created": 1,
        "unchanged": 0,
    }
    assert sync_promotions_to_stores_task.apply(kwargs={"brand_id": store.brand_id}).get() == {
        "created": 0,
        "unchanged": 1,
    }
    assert sync_promotions_to_stores_task.apply().get() == {"created": 0, "unchanged": 1}
    assert sync_promotions_to_stores_task.apply(kwargs={"brand_id": 987654}).get() == {
        "created": 0,
        "unchanged": 0,
    }
    assert BundleRelease.objects.filter(store=store).count() == 1


@pytest.mark.django_db
def test_saving_a_promotion_enqueues_the_publish_after_commit(
    store, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        live(store.brand)

    assert BundleRelease.objects.filter(store=store).count() == 1
    # And the version cache was refreshed from the database
    assert store_version(store=store).version == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_publishes_produce_one_version_per_content():
    # Given a store with a device and a published bundle, then a change
    store = StoreFactory(brand=BrandFactory())
    make_device(store=store)
    promotion = live(store.brand)
    sync.bundle_publish(store=store)
    promotion.priority = 5
    promotion_save(promotion=promotion)

    # When eight threads publish the store at once
    barrier = threading.Barrier(8)
    errors = []

    def publish():
        try:
            barrier.wait()
            sync.bundle_publish(store=store)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then exactly one new version exists, with distinct content from the first
    assert errors == []
    releases = list(BundleRelease.objects.filter(store=store).order_by("version"))
    assert [release.version for release in releases] == [1, 2]
    assert releases[0].bundle_hash != releases[1].bundle_hash


@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_and_publishes_never_duplicate_a_version():
    # Given a store and six promotions changed and published from six threads at once
    store = StoreFactory(brand=BrandFactory())
    make_device(store=store)
    promotions = [live(store.brand) for _ in range(6)]
    barrier = threading.Barrier(6)
    errors = []

    def change_and_publish(promotion):
        try:
            barrier.wait()
            promotion.priority = 20
            promotion_save(promotion=promotion)
            sync.bundle_publish(store=store)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=change_and_publish, args=(p,)) for p in promotions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then versions are consecutive, each with different content, and the last is current
    assert errors == []
    releases = list(BundleRelease.objects.filter(store=store).order_by("version"))
    assert [release.version for release in releases] == list(range(1, len(releases) + 1))
    hashes = [release.bundle_hash for release in releases]
    assert len(set(hashes)) == len(hashes)
    assert hashes[-1] == sync.store_bundle_compute(store=store).bundle_hash
