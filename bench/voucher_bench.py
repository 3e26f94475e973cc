"""Voucher generation and the cost of a code in a quote.

Generation: N codes of one batch (8 random characters and a check character) into PostgreSQL by
`voucher_batch_generate` (chunks of 50,000 COPYed into a temporary table and inserted with
ON CONFLICT DO NOTHING), timed without tracing; then the peak of Python allocations
(tracemalloc) for growing N in a separate run, to show that memory does not grow with N. Every
run checks that the batch holds N distinct codes.

Quote: `POST /api/v1/pricing/quote/` in process for 5 lines against a brand with 10 active
promotions, one of them a voucher promotion with 100,000 codes: median and p95 without a code
and with one, and the queries of each.

Run: .venv/bin/python -m bench vouchers [--vouchers N] (PostgreSQL only)
"""

import resource
import statistics
import time
import tracemalloc
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from knox.models import AuthToken

from brands.models import Brand
from catalog.models import Product
from customers.services import customer_create
from promotions.models import Promotion
from promotions.selectors import bundle_invalidate
from promotions.services.lifecycle import promotion_record_version, promotion_save
from vouchers.models import VoucherBatch, VoucherCode
from vouchers.services import voucher_batch_generate


def _brand(slug: str) -> tuple[Brand, Promotion]:
    brand = Brand.objects.create(name=slug, slug=slug, currency="EUR")
    promotion = promotion_save(
        promotion=Promotion(
            brand=brand,
            name="Voucher 10%",
            type=Promotion.Type.PERCENT_DISCOUNT,
            status="active",
            all_products=True,
            params={"percent": "10"},
        )
    )
    return brand, promotion


def _batch(brand: Brand, promotion: Promotion, quantity: int) -> VoucherBatch:
    # Written directly: the service would also owe the generation to a worker.
    return VoucherBatch.objects.create(
        brand=brand, promotion=promotion, name=f"{quantity}", quantity=quantity, length=8
    )


def _generate(slug: str, quantity: int, *, traced: bool) -> tuple[float, float, int]:
    """Seconds, tracemalloc peak MiB (0 untraced), distinct codes."""
    brand, promotion = _brand(slug)
    made = _batch(brand, promotion, quantity)
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    voucher_batch_generate(batch_id=made.pk)
    seconds = time.perf_counter() - started
    peak = 0.0
    if traced:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(DISTINCT code) FROM vouchers_vouchercode WHERE batch_id = %s", [made.pk]
        )
        distinct = cursor.fetchone()[0]
    return seconds, peak, distinct


def _quote_bench(runs: int) -> list[tuple[str, float, float, int]]:
    # One client sends every request: the bench measures pricing, not the rate limits.
    settings.THROTTLE_RATES = dict.fromkeys(settings.THROTTLE_RATES, "1000000/minute")
    brand, promotion = _brand("voucher-quote")
    products = Product.objects.bulk_create(
        Product(brand=brand, sku=f"V{i}", name=f"V{i}", price=Decimal("4.50")) for i in range(50)
    )
    for index in range(9):
        promotion_save(
            promotion=Promotion(
                brand=brand,
                name=f"Other {index}",
                type=Promotion.Type.AMOUNT_DISCOUNT,
                status="active",
                stacking="stackable",
                params={"amount": "0.10", "mode": "per_unit"},
            ),
            relations={"products": [products[index].pk]},
        )
    made = _batch(brand, promotion, 100_000)
    voucher_batch_generate(batch_id=made.pk)
    with transaction.atomic():
        promotion_record_version(promotion=promotion)
    bundle_invalidate(brand_id=brand.pk)
    code = (
        VoucherCode.objects.filter(batch=made).order_by("pk").values_list("code", flat=True)[50_000]
    )
    customer = customer_create(
        brand=brand,
        email="voucher-bench@example.com",
        password="bench-password-1",  # noqa: S106
    )
    _, token = AuthToken.objects.create(user=customer.user)
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    lines = [{"product": p.pk, "quantity": 2} for p in products[:5]]
    rows = []
    for label, codes in (("no code", []), ("one voucher code", [code])):
        body = {"brand": brand.slug, "lines": lines, "codes": codes}
        client.post("/api/v1/pricing/quote/", body, content_type="application/json")
        queries: list[str] = []

        def counted(execute, sql, *args, into=queries):
            into.append(sql)
            return execute(sql, *args)

        with connection.execute_wrapper(counted):
            response = client.post("/api/v1/pricing/quote/", body, content_type="application/json")
        assert response.status_code == 200, response.content
        if codes:
            assert response.json()["vouchers"][0]["applied"], response.json()
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            client.post("/api/v1/pricing/quote/", body, content_type="application/json")
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        rows.append((label, statistics.median(times), p95, len(queries)))
    return rows


def main(*, vouchers: int = 1_000_000, runs: int = 200) -> None:
    if connection.vendor != "postgresql":
        print("vouchers: the generation bench needs PostgreSQL (COPY); skipped.")
        return
    sizes = sorted({100_000, vouchers})
    print("\nVoucher generation (one batch, 8 characters + check, chunks of 50,000)")
    print(f"{'codes':>12}{'seconds':>10}{'codes/s':>12}{'distinct':>12}")
    for size in sizes:
        seconds, _, distinct = _generate(f"gen-{size}", size, traced=False)
        print(f"{size:>12,}{seconds:>10.2f}{size / seconds:>12,.0f}{distinct:>12,}")
    print("\nPeak Python allocations during generation (tracemalloc; slower, so timed apart)")
    print(f"{'codes':>12}{'peak MiB':>10}")
    for size in (50_000, 200_000, 400_000):
        _, peak, _ = _generate(f"mem-{size}", size, traced=True)
        print(f"{size:>12,}{peak:>10.1f}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process max RSS: {rss:.0f} MiB")
    print("\nQuote with a voucher code (10 promotions, 5 lines, 100,000 codes in the batch)")
    print(f"{'':<20}{'median ms':>10}{'p95 ms':>10}{'queries':>9}")
    for label, median, p95, queries in _quote_bench(runs):
        print(f"{label:<20}{median:>10.2f}{p95:>10.2f}{queries:>9}")
