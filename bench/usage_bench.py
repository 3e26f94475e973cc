"""Promotion usage limits: what reserving a use costs an order, and orders per second when many
threads (each with its own database connection) place orders on one promotion at once: its
counter row is the one every order locks, from its reservation to its commit."""

import statistics
import threading
import time
from decimal import Decimal

from django.db import connection, transaction

from brands.models import Brand
from catalog.models import Product
from orders.models import Order
from orders.services.placement import LineRequest, order_place
from promotions.models import Promotion, PromotionUsageCounter
from promotions.selectors import bundle_invalidate
from promotions.services.lifecycle import promotion_save
from promotions.services.usage import usage_reserve


def _brand(slug: str) -> tuple[Brand, Product]:
    brand = Brand.objects.create(name=slug, slug=slug, currency="EUR")
    # The cache outlives the throw-away database: drop what an earlier run cached for this id.
    bundle_invalidate(brand_id=brand.pk)
    product = Product.objects.create(
        brand=brand, sku=f"{slug}-1", name="Item", price=Decimal("12.50")
    )
    return brand, product


def _promotion(brand: Brand, **limits) -> Promotion:
    return promotion_save(
        promotion=Promotion(
            brand=brand,
            name="Bench",
            type=Promotion.Type.PERCENT_DISCOUNT,
            status="active",
            all_products=True,
            params={"percent": "10"},
            **limits,
        )
    )


def _place(brand: Brand, product: Product) -> Order:
    order, _ = order_place(brand=brand, lines=[LineRequest(product_id=product.pk, quantity=1)])
    return order


def _concurrent(
    slug: str, threads: int, per_thread: int, limits: dict | None
) -> tuple[float, int, int]:
    """Orders per second, orders placed and discounts given."""
    brand, product = _brand(slug)
    promotion = None if limits is None else _promotion(brand, **limits)
    _place(brand, product)
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait(timeout=30)
            for _ in range(per_thread):
                _place(brand, product)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    uses = 0
    if promotion is not None:  # less the warm-up order
        uses = PromotionUsageCounter.objects.get(pk=promotion.pk).uses - 1
    return threads * per_thread / elapsed, threads * per_thread, uses


class _Rollback(Exception):
    pass


def _reserve_alone(runs: int) -> list[float]:
    """`usage_reserve` of one limited promotion for one order, rolled back each time."""
    brand, product = _brand("usage-reserve")
    order = _place(brand, product)  # placed before the promotion: it reserved nothing
    promotion = _promotion(brand, max_uses_total=10**6, budget=Decimal(10**6))
    timings = []
    for _ in range(runs):
        try:
            with transaction.atomic():
                started = time.perf_counter()
                usage_reserve(order=order, applied={promotion.pk: Decimal("1.25")})
                timings.append((time.perf_counter() - started) * 1000)
                raise _Rollback
        except _Rollback:
            pass
    return timings


def _p95(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.95) - 1]


def main(runs: int = 200) -> None:
    print("\nOrder placement with usage reservation (sequential, one connection)")
    print("| promotion | orders | median ms/order | p95 ms/order |")
    print("|---|---:|---:|---:|")
    cases = [
        ("no promotion", None),
        ("10%, no limit (use counted)", {}),
        ("10%, use and budget limits", {"max_uses_total": 10**6, "budget": Decimal(10**6)}),
    ]
    for index, (label, limits) in enumerate(cases):
        brand, product = _brand(f"usage-seq-{index}")
        if limits is not None:
            _promotion(brand, **limits)
        _place(brand, product)  # warm the bundle cache
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            _place(brand, product)
            timings.append((time.perf_counter() - started) * 1000)
        print(f"| {label} | {runs} | {statistics.median(timings):.2f} | {_p95(timings):.2f} |")
    timings = _reserve_alone(runs)
    print(
        f"| `usage_reserve` alone (one limited promotion) | {runs} "
        f"| {statistics.median(timings):.2f} | {_p95(timings):.2f} |"
    )

    print("\nConcurrent orders on one promotion (one counter row for all)")
    print("| threads | promotion | orders | orders/s | discounts given |")
    print("|---:|---|---:|---:|---:|")
    for threads in (1, 8, 32):
        per_thread = max(1, runs // threads)
        for label, limits in (("none", None), ("1,000,000 uses", {"max_uses_total": 10**6})):
            rate, placed, given = _concurrent(
                f"usage-hot-{threads}-{len(label)}", threads, per_thread, limits
            )
            print(f"| {threads} | {label} | {placed} | {rate:.0f} | {given} |")
    rate, placed, given = _concurrent("usage-last", 32, max(1, runs // 32), {"max_uses_total": 101})
    print(f"| 32 | 100 uses left | {placed} | {rate:.0f} | {given} |")
