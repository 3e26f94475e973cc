"""`POST /api/v1/sync/upload_usage/` end to end: a batch of 100 tickets through Django's full
request stack in process, each ticket re-verified with the Python calculator against the store's
release and its usage recorded. Cold (new tickets, everything written) and replayed (the same
batch again: every ticket a duplicate), for {10, 100} promotions x {5, 20} lines per ticket."""

import random
import statistics
import time
from datetime import timedelta
from decimal import Decimal

from django.test import Client
from django.utils import timezone

from bench.quote_bench import random_promotion
from brands.models import Brand, Store
from brands.services import pos_device_create
from catalog.models import Product
from core.money import to_minor
from promotions.models import PosTicket, Promotion
from promotions.services.calculator import ENGINE_VERSION, calculate
from promotions.services.engine_input import engine_context
from promotions.services.sync import bundle_publish

T = Promotion.Type
BATCH = 100
UPLOAD = "/api/v1/sync/upload_usage/"


def _tickets(rng, store, products, bundle, lines: int, prefix: str) -> list[dict]:
    """A batch priced the way a device prices it offline (not timed)."""
    promotions, bundle_hash = bundle["promotions"], bundle["hash"]
    now = timezone.now().replace(microsecond=0)
    tickets = []
    for n in range(BATCH):
        at = now - timedelta(seconds=n)
        chosen = [(p, rng.randint(1, 3)) for p in rng.sample(products, lines)]
        basket = {
            "lines": [
                {
                    "line_id": f"L{i}",
                    "product_id": p.pk,
                    "category_id": None,
                    "label_ids": [],
                    "quantity": q,
                    "unit_price": to_minor(p.price, "EUR"),
                }
                for i, (p, q) in enumerate(chosen)
            ]
        }
        context = engine_context(at=at, time_zone=store.time_zone, channel="pos", store_id=store.pk)
        result = calculate(
            basket=basket, context=context, promotions=promotions, bundle_hash=bundle_hash
        )
        tickets.append(
            {
                "ticket_id": f"{prefix}-{n}",
                "local_time": at.isoformat(),
                "lines": [
                    {"line_id": f"L{i}", "product": p.pk, "quantity": q, "unit_price": str(p.price)}
                    for i, (p, q) in enumerate(chosen)
                ],
                "result": result,
                "engine_version": ENGINE_VERSION,
                "bundle_hash": bundle_hash,
            }
        )
    return tickets


def _timed_post(client: Client, tickets: list[dict], expect: str) -> float:
    started = time.perf_counter()
    response = client.post(UPLOAD, {"tickets": tickets}, content_type="application/json")
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.content[:300]
    counts = response.json()["counts"]
    assert counts[expect] == BATCH, counts
    return elapsed


def main(runs: int = 200) -> None:
    runs = max(3, min(runs, 15))
    rng = random.Random(11)
    brand = Brand.objects.create(name="Upload", slug="upload-bench", currency="EUR")
    store = Store.objects.create(brand=brand, code="bench", name="Bench", time_zone="Europe/Paris")
    _, key = pos_device_create(store=store, name="Bench till")
    client = Client(HTTP_X_DEVICE_KEY=key)
    products = list(
        Product.objects.bulk_create(
            Product(
                brand=brand,
                sku=f"U{i}",
                name=f"U{i}",
                price=Decimal(rng.choice(["1.99", "4.50", "9.90", "24.00"])),
            )
            for i in range(300)
        )
    )
    created = 0
    print(f"\nupload_usage, {BATCH}-ticket batch with re-verification ({runs} batches each)")
    print(
        f"{'promotions':>10} {'lines':>6} {'case':>9} {'median ms':>10} {'p95 ms':>10} "
        f"{'ms/ticket':>10}"
    )
    for count in (10, 100):
        while created < count:
            random_promotion(brand, rng, products, created)
            created += 1
        bundle_publish(store=store)
        bundle = client.get("/api/v1/sync/active_promotions/").json()
        assert len(bundle["promotions"]) == count, len(bundle["promotions"])
        for lines in (5, 20):
            batches = [
                _tickets(rng, store, products, bundle, lines, f"{count}-{lines}-{run}")
                for run in range(runs + 1)
            ]
            _timed_post(client, batches[-1], "accepted")  # warm up
            cold = [_timed_post(client, batch, "accepted") for batch in batches[:runs]]
            replayed = [_timed_post(client, batch, "duplicates") for batch in batches[:runs]]
            for case, times in (("cold", cold), ("replayed", replayed)):
                times.sort()
                median = statistics.median(times)
                p95 = times[max(0, int(len(times) * 0.95) - 1)]
                print(
                    f"{count:>10} {lines:>6} {case:>9} {median:>10.1f} {p95:>10.1f} "
                    f"{median / BATCH:>10.2f}"
                )
    assert not PosTicket.objects.exclude(status=PosTicket.Status.ACCEPTED).exists()
