"""POS sync endpoints: device authentication and scope, ETags, full bundle, delta, single and
bulk reads, the engine, and a real worker publishing after a promotion is saved."""

import gzip
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from brands.services import pos_device_revoke
from brands.tests.factories import StoreFactory, make_device
from core.tests.api_world import assert_error, build_tenant, device_client, token_client
from promotions.models import BundleRelease, Promotion
from promotions.selectors import ENGINE_PATH, store_version
from promotions.services import sync
from promotions.services.calculator import ENGINE_VERSION, promotions_bundle_hash
from promotions.services.lifecycle import promotion_save, promotion_set_status
from promotions.tests.factories import PromotionFactory

S = Promotion.Status
BASE = "/api/v1/sync/"
ENDPOINTS = ["version/", "active_promotions/", "engine/", "promotions/1/"]


def live(brand, *, stores=(), **fields) -> Promotion:
    fields.setdefault("status", S.ACTIVE)
    return promotion_save(
        promotion=PromotionFactory.build(brand=brand, **fields),
        relations={"stores": [store.pk for store in stores]},
    )


def full_bundle(client, **headers) -> dict:
    response = client.get(BASE + "active_promotions/", **headers)
    assert response.status_code == 200, response.content[:300]
    content = response.content
    if response.headers.get("Content-Encoding") == "gzip":
        content = gzip.decompress(content)
    return json.loads(content)


# --- Authentication and scope -----------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_without_a_key_the_answer_is_401(a, api_client, endpoint):
    assert_error(api_client.get(BASE + endpoint), 401, "not_authenticated")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_bad_or_revoked_key_is_refused(a, endpoint):
    assert_error(device_client("pos_abcdefabcdef_nope").get(BASE + endpoint), 401)
    pos_device_revoke(device=a.device)
    assert_error(device_client(a.device_key).get(BASE + endpoint), 401, "authentication_failed")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_staff_and_customers_are_refused(a, endpoint):
    assert_error(token_client(a.staff).get(BASE + endpoint), 403, "permission_denied")
    assert_error(token_client(a.customer.user).get(BASE + endpoint), 403, "permission_denied")
    assert_error(token_client(a.staff).post(BASE + "promotions/bulk_get/", {"ids": [1]}), 403)


def test_each_device_sees_only_its_own_store(a, b):
    # Given a promotion per brand and one for a second store of brand A
    mine = live(a.brand)
    other_store = StoreFactory(brand=a.brand)
    _other_device, other_key = make_device(store=other_store, name="Till 2")
    theirs = live(b.brand)
    other_stores = live(a.brand, stores=[other_store])

    # When each device fetches its bundle
    bundle_a = full_bundle(device_client(a.device_key))
    bundle_b = full_bundle(device_client(b.device_key))
    bundle_other = full_bundle(device_client(other_key))

    # Then each holds only what applies to its store
    assert bundle_a["store"] == a.store.pk
    assert [p["id"] for p in bundle_a["promotions"]] == [mine.pk]
    assert [p["id"] for p in bundle_b["promotions"]] == [theirs.pk]
    assert [p["id"] for p in bundle_other["promotions"]] == sorted([mine.pk, other_stores.pk])
    # And a promotion of another store or brand cannot be read by id
    client = device_client(a.device_key)
    for pk in (theirs.pk, other_stores.pk):
        assert_error(client.get(f"{BASE}promotions/{pk}/"), 404, "promotion_not_in_bundle")
    response = client.post(
        BASE + "promotions/bulk_get/", {"ids": [mine.pk, theirs.pk, other_stores.pk]}
    )
    assert response.status_code == 200
    assert [p["id"] for p in response.json()["promotions"]] == [mine.pk]
    assert response.json()["missing"] == sorted([theirs.pk, other_stores.pk])


# --- version/ ----------------------------------------------------------------------------------


def test_version_answers_with_a_strong_etag_and_304(a):
    live(a.brand)
    client = device_client(a.device_key)

    response = client.get(BASE + "version/")

    assert response.status_code == 200
    body = response.json()
    current = BundleRelease.objects.get(store=a.store)
    assert body == {
        "store": a.store.pk,
        "version": 1,
        "hash": current.bundle_hash,
        "engine_version": ENGINE_VERSION,
        "generated_at": body["generated_at"],
    }
    etag = response.headers["ETag"]
    assert etag == f'"1-{current.bundle_hash}"'
    assert response.headers["Cache-Control"] == "no-cache"
    not_modified = client.get(BASE + "version/", HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["ETag"] == etag
    assert client.get(BASE + "version/", HTTP_IF_NONE_MATCH='"0-x"').status_code == 200


def test_version_on_a_cache_hit_costs_only_the_device_lookup(a, django_assert_num_queries):
    live(a.brand)
    client = device_client(a.device_key)
    etag = client.get(BASE + "version/").headers["ETag"]  # warms the cache, records last seen

    with django_assert_num_queries(1):  # the device key lookup, nothing else
        response = client.get(BASE + "version/", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    with django_assert_num_queries(1):
        assert client.get(BASE + "version/").status_code == 200


def test_version_moves_when_a_promotion_changes(a, django_capture_on_commit_callbacks):
    promotion = live(a.brand)
    client = device_client(a.device_key)
    first = client.get(BASE + "version/")

    with django_capture_on_commit_callbacks(execute=True):
        promotion_set_status(promotion_id=promotion.pk, status=S.PAUSED)

    second = client.get(BASE + "version/", HTTP_IF_NONE_MATCH=first.headers["ETag"])
    assert second.status_code == 200
    assert second.json()["version"] == 2
    assert second.headers["ETag"] != first.headers["ETag"]


# --- active_promotions/ -----------------------------------------------------------------------


def test_the_full_bundle_is_gzipped_with_etag_and_304(a):
    now = timezone.now()
    promotions = [live(a.brand) for _ in range(3)]
    live(
        a.brand,
        status=S.SCHEDULED,
        starts_at=now + timedelta(hours=30),
        ends_at=now + timedelta(days=3),
    )
    client = device_client(a.device_key)

    response = client.get(BASE + "active_promotions/", HTTP_ACCEPT_ENCODING="gzip, deflate")

    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Content-Type"] == "application/json"
    assert "Accept-Encoding" in response.headers["Vary"]
    body = json.loads(gzip.decompress(response.content))
    assert [p["id"] for p in body["promotions"]] == [p.pk for p in promotions]
    assert body["hash"] == promotions_bundle_hash(body["promotions"])
    assert body["version"] == 1 and body["store"] == a.store.pk
    assert body["engine_version"] == ENGINE_VERSION
    assert set(body["horizon"]) == {"valid_from", "valid_until"}
    assert body["promotions"][0] == Promotion.objects.get(pk=promotions[0].pk).compiled
    # The identity encoding is the same document
    plain = client.get(BASE + "active_promotions/")
    assert "Content-Encoding" not in plain.headers
    assert json.loads(plain.content) == body
    # Either ETag gets a 304
    for etag in (response.headers["ETag"], plain.headers["ETag"]):
        assert client.get(BASE + "active_promotions/", HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert response.headers["ETag"] != plain.headers["ETag"]


def test_gzip_refused_with_q_zero_sends_identity(a):
    live(a.brand)
    response = device_client(a.device_key).get(
        BASE + "active_promotions/", HTTP_ACCEPT_ENCODING="gzip;q=0"
    )
    assert "Content-Encoding" not in response.headers
    assert json.loads(response.content)["version"] == 1


def test_applying_the_delta_to_the_old_bundle_gives_the_new_bundle(
    a, django_capture_on_commit_callbacks
):
    # Given a device holding version 1 of three promotions
    kept, changed, removed = live(a.brand), live(a.brand), live(a.brand)
    client = device_client(a.device_key)
    old = full_bundle(client)

    # When one is changed, one ended and one added
    with django_capture_on_commit_callbacks(execute=True):
        changed.priority = 50
        promotion_save(promotion=changed)
        promotion_set_status(promotion_id=removed.pk, status=S.ENDED)
        added = live(a.brand)
    new = full_bundle(client)
    response = client.get(BASE + "active_promotions/", {"since": old["version"]})

    # Then the delta lists exactly that
    assert response.status_code == 200
    delta = response.json()
    assert delta["since"] == old["version"]
    assert delta["version"] == new["version"] > old["version"]
    assert delta["full_required"] is False
    assert [p["id"] for p in delta["added"]] == [added.pk]
    assert [p["id"] for p in delta["updated"]] == [changed.pk]
    assert delta["removed"] == [removed.pk]
    # And applying it to the old bundle gives the new one, hash for hash
    by_id = {p["id"]: p for p in old["promotions"]}
    for pk in delta["removed"]:
        del by_id[pk]
    for promotion in delta["added"] + delta["updated"]:
        by_id[promotion["id"]] = promotion
    applied = [by_id[pk] for pk in sorted(by_id)]
    assert applied == new["promotions"]
    assert promotions_bundle_hash(applied) == delta["hash"] == new["hash"]
    assert kept.pk in by_id


def test_delta_from_the_current_version_is_empty(a):
    live(a.brand)
    client = device_client(a.device_key)
    version = client.get(BASE + "version/").json()["version"]

    delta = client.get(BASE + "active_promotions/", {"since": version}).json()

    assert (delta["added"], delta["updated"], delta["removed"]) == ([], [], [])
    assert delta["full_required"] is False


@pytest.mark.parametrize("since", [0, 99])
def test_delta_from_an_unknown_version_requires_the_full_bundle(a, since):
    live(a.brand)
    delta = device_client(a.device_key).get(BASE + "active_promotions/", {"since": since}).json()
    assert delta["full_required"] is True
    assert delta["version"] == 1


@pytest.mark.parametrize("since", ["abc", "-1", "1.5", str(2**40)])
def test_a_bad_since_is_a_400(a, since):
    response = device_client(a.device_key).get(BASE + "active_promotions/", {"since": since})
    assert_error(response, 400, "validation_error")


# --- promotions/<id>/ and bulk_get ---------------------------------------------------------------


def test_get_promotion_returns_the_compiled_form_of_the_current_release(a):
    promotion = live(a.brand)
    draft = promotion_save(promotion=PromotionFactory.build(brand=a.brand))
    client = device_client(a.device_key)

    response = client.get(f"{BASE}promotions/{promotion.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["promotion"] == Promotion.objects.get(pk=promotion.pk).compiled
    assert (body["store"], body["version"]) == (a.store.pk, 1)
    assert_error(client.get(f"{BASE}promotions/{draft.pk}/"), 404, "promotion_not_in_bundle")
    assert_error(client.get(f"{BASE}promotions/999999/"), 404)


def test_bulk_get_is_bounded(a):
    promotions = [live(a.brand) for _ in range(2)]
    client = device_client(a.device_key)

    ok = client.post(BASE + "promotions/bulk_get/", {"ids": [p.pk for p in promotions] + [7777777]})
    assert ok.status_code == 200
    assert [p["id"] for p in ok.json()["promotions"]] == [p.pk for p in promotions]
    assert ok.json()["missing"] == [7777777]
    full = client.post(BASE + "promotions/bulk_get/", {"ids": list(range(1, 501))})
    assert full.status_code == 200
    body = assert_error(
        client.post(BASE + "promotions/bulk_get/", {"ids": list(range(1, 502))}),
        400,
        "too_many_ids",
    )
    assert "ids" in body["fields"]
    assert_error(client.post(BASE + "promotions/bulk_get/", {"ids": ["x"]}), 400)
    assert_error(client.post(BASE + "promotions/bulk_get/", {}), 400)
    assert_error(client.post(BASE + "promotions/bulk_get/", [1, 2], format="json"), 400)


# --- engine/ ---------------------------------------------------------------------------------


def test_engine_serves_the_exact_static_file(a):
    live(a.brand)
    client = device_client(a.device_key)

    response = client.get(BASE + "engine/")

    assert response.status_code == 200
    assert response.content == ENGINE_PATH.read_bytes()
    assert response.headers["Content-Type"].startswith("application/javascript")
    assert response.headers["X-Engine-Version"] == ENGINE_VERSION
    assert response.headers["X-Bundle-Engine-Version"] == ENGINE_VERSION
    assert response.headers["X-Engine-Matches-Bundle"] == "true"
    again = client.get(BASE + "engine/", HTTP_IF_NONE_MATCH=response.headers["ETag"])
    assert again.status_code == 304


def test_engine_says_when_the_bundle_was_compiled_for_another_engine(a):
    live(a.brand)
    client = device_client(a.device_key)
    client.get(BASE + "version/")
    BundleRelease.objects.filter(store=a.store).update(engine_version="0.9.0")
    from django.core.cache import cache

    cache.clear()

    response = client.get(BASE + "engine/")

    assert response.headers["X-Bundle-Engine-Version"] == "0.9.0"
    assert response.headers["X-Engine-Matches-Bundle"] == "false"
    # And the next publish releases the bundle again for the served engine
    release = sync.bundle_publish(store=a.store)
    assert (release.version, release.engine_version) == (2, ENGINE_VERSION)


# --- A real worker -----------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_saving_a_promotion_publishes_a_version_seen_by_the_version_endpoint(live_celery_worker):
    # Given a device that has polled version 1
    tenant = build_tenant("w")
    promotion = live(tenant.brand)
    client = device_client(tenant.device_key)
    deadline = time.monotonic() + 30
    while not BundleRelease.objects.filter(store=tenant.store).exists():
        assert time.monotonic() < deadline, live_celery_worker.log()
        time.sleep(0.1)
    first = client.get(BASE + "version/")
    assert first.json()["version"] == 1

    # When the promotion is saved (its on-commit task runs on the worker)
    promotion.priority = 40
    promotion_save(promotion=promotion)

    # Then the device's next polls see version 2
    while True:
        response = client.get(BASE + "version/", HTTP_IF_NONE_MATCH=first.headers["ETag"])
        if response.status_code == 200:
            break
        assert time.monotonic() < deadline, live_celery_worker.log()
        time.sleep(0.1)
    assert response.json()["version"] == 2
    assert "promotions.sync_promotions_to_stores[" in live_celery_worker.log()
    compiled = full_bundle(client)["promotions"]
    assert compiled[0]["priority"] == 40
    assert store_version(store=tenant.store).version == 2
