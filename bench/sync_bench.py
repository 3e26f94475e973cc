"""POS sync: publishing a store's bundle, building the full bundle (JSON and gzip) from the
database, the full bundle endpoint on a cache hit, and `version/` answering 304, for 100,
1,000 and 10,000 active promotions. Endpoints go through Django's whole request stack in
process (device authentication included)."""

import gzip
import random
import statistics
import time
from decimal import Decimal

from django.core.cache import cache
from django.test import Client

from brands.models import Brand, Store
from brands.services import pos_device_create
from catalog.models import Product
from promotions.models import Promotion
from promotions.selectors import release_bundle_build, store_bundle_gzip, store_version
from promotions.services.compiler import promotion_compile
from promotions.services.sync import bundle_publish, store_bundle_compute

COUNTS = (100, 1_000, 10_000)
BUILD_RUNS = 5


def _percentile(times: list[float], share: float) -> float:
    ordered = sorted(times)
    return ordered[max(0, int(len(ordered) * share) - 1)]


def _timed(function, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _brand_with_promotions(count: int, rng: random.Random) -> Store:
    """A brand with `count` active promotions: one compiled for real, the others copies of
    it with their own id, name, priority, products and (one in ten) use limit."""
    brand = Brand.objects.create(name=f"Sync {count}", slug=f"sync-bench-{count}", currency="EUR")
    store = Store.objects.create(brand=brand, code="main", name="Main")
    products = Product.objects.bulk_create(
        Product(brand=brand, sku=f"S{i}", name=f"S{i}", price=Decimal("4.50")) for i in range(300)
    )
    template = Promotion.objects.create(
        brand=brand, name="Template", type="percent_discount", status="active",
        params={"percent": "10"},
    )  # fmt: skip
    template.products.set(products[:8])
    compiled = promotion_compile(promotion=template)
    rows = Promotion.objects.bulk_create(
        Promotion(
            brand=brand,
            name=f"Bench {i}",
            type="percent_discount",
            status="active",
            priority=rng.randint(0, 10),
            params={"percent": "10"},
            max_uses_total=1000 if i % 10 == 0 else None,
        )
        for i in range(count - 1)
    )
    for row in rows:
        form = {**compiled, "id": row.pk, "name": row.name, "priority": row.priority}
        form["scope"] = {
            **compiled["scope"],
            "product_ids": sorted(p.pk for p in rng.sample(products, 8)),
        }
        form["limits"] = {**compiled["limits"], "remaining_uses": row.max_uses_total}
        row.compiled = form
    Promotion.objects.bulk_update(rows, ["compiled"], batch_size=1000)
    Promotion.objects.filter(pk=template.pk).update(compiled={**compiled, "id": template.pk})
    return store


def main(runs: int = 200) -> None:
    rng = random.Random(11)
    print("\nPOS sync bundles (server time; build = from the database to JSON and gzip)")
    print(
        f"{'promotions':>10} {'compute ms':>10} {'publish ms':>10} {'build ms':>9} "
        f"{'JSON KB':>8} {'gzip KB':>8} {'full GET ms':>11}"
    )
    last_client = None
    for count in COUNTS:
        store = _brand_with_promotions(count, rng)
        _device, key = pos_device_create(store=store, name="Till")
        compute = statistics.median(_timed(lambda s=store: store_bundle_compute(store=s), 3))
        started = time.perf_counter()
        release = bundle_publish(store=store)
        publish = (time.perf_counter() - started) * 1000
        assert release.version == 1
        current = store_version(store=store)

        def build(s=store, c=current, r=release):
            cache.clear()
            store_bundle_gzip(store=s, current=c)

        build_ms = statistics.median(_timed(build, BUILD_RUNS))
        raw = release_bundle_build(release=release)
        compressed = store_bundle_gzip(store=store, current=current)
        assert gzip.decompress(compressed) == raw
        client = Client(HTTP_X_DEVICE_KEY=key, HTTP_ACCEPT_ENCODING="gzip")
        response = client.get("/api/v1/sync/active_promotions/")
        assert response.status_code == 200 and response.content == compressed
        full = statistics.median(
            _timed(lambda c=client: c.get("/api/v1/sync/active_promotions/"), 20)
        )
        print(
            f"{count:>10} {compute:>10.1f} {publish:>10.1f} {build_ms:>9.1f} "
            f"{len(raw) / 1024:>8.0f} {len(compressed) / 1024:>8.0f} {full:>11.2f}"
        )
        last_client = client

    response = last_client.get("/api/v1/sync/version/")
    etag = response.headers["ETag"]
    assert last_client.get("/api/v1/sync/version/", HTTP_IF_NONE_MATCH=etag).status_code == 304
    times = _timed(lambda: last_client.get("/api/v1/sync/version/", HTTP_IF_NONE_MATCH=etag), runs)
    fresh = _timed(lambda: last_client.get("/api/v1/sync/version/"), runs)
    print(f"\nGET /api/v1/sync/version/ end to end in process ({runs} requests, cache hit)")
    print(f"{'answer':>8} {'median ms':>10} {'p95 ms':>8}")
    print(f"{'304':>8} {statistics.median(times):>10.2f} {_percentile(times, 0.95):>8.2f}")
    print(f"{'200':>8} {statistics.median(fresh):>10.2f} {_percentile(fresh, 0.95):>8.2f}")
