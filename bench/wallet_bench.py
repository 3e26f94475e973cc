"""The wallet tender: what paying part of an order from a wallet costs, and orders per second
when many threads (each with its own database connection) pay from wallets at once: from
different wallets (independent rows), and from one wallet (the row every order locks, from its
debit to its commit)."""

import statistics
import threading
import time
from decimal import Decimal

from django.db import connection

from brands.models import Brand
from catalog.models import Product
from customers.models import Customer
from customers.services import customer_create
from orders.services.placement import LineRequest, order_place
from promotions.selectors import bundle_invalidate
from wallets.services import wallet_credit


def _brand(slug: str) -> tuple[Brand, Product]:
    brand = Brand.objects.create(name=slug, slug=slug, currency="EUR")
    # The cache outlives the throw-away database: drop what an earlier run cached for this id.
    bundle_invalidate(brand_id=brand.pk)
    product = Product.objects.create(
        brand=brand, sku=f"{slug}-1", name="Item", price=Decimal("12.50")
    )
    return brand, product


def _customer(brand: Brand, index: int, funds: Decimal) -> Customer:
    customer = customer_create(brand=brand, email=f"{brand.slug}-{index}@example.com")
    if funds:
        wallet_credit(
            customer=customer, brand=brand, amount=funds, idempotency_key=f"{brand.slug}-{index}"
        )
    return customer


def _place(brand, product, customer, wallet_amount) -> None:
    order_place(
        brand=brand,
        lines=[LineRequest(product_id=product.pk, quantity=1)],
        customer=customer,
        wallet_amount=wallet_amount,
    )


def _p95(values: list[float]) -> float:
    return sorted(values)[max(int(len(values) * 0.95) - 1, 0)]


def _concurrent(slug: str, threads: int, per_thread: int, shared: bool) -> float:
    brand, product = _brand(slug)
    funds = Decimal(10) * threads * per_thread * 2
    customers = (
        [_customer(brand, 0, funds)] * threads
        if shared
        else [_customer(brand, index, funds) for index in range(threads)]
    )
    _place(brand, product, customers[0], Decimal("1.00"))  # warm the bundle cache
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(customer) -> None:
        try:
            barrier.wait(timeout=30)
            for _ in range(per_thread):
                _place(brand, product, customer, Decimal("5.00"))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=work, args=(c,)) for c in customers]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return threads * per_thread / elapsed


def main(runs: int = 200) -> None:
    print("\nOrder placement with a wallet tender (sequential, one connection)")
    print("| tender | orders | median ms/order | p95 ms/order |")
    print("|---|---:|---:|---:|")
    for index, (label, amount) in enumerate(
        (("no wallet", None), ("5.00 from the wallet", Decimal("5.00")))
    ):
        brand, product = _brand(f"wallet-seq-{index}")
        customer = _customer(brand, 0, Decimal(10) * runs)
        _place(brand, product, customer, amount)  # warm the bundle cache
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            _place(brand, product, customer, amount)
            timings.append((time.perf_counter() - started) * 1000)
        print(f"| {label} | {runs} | {statistics.median(timings):.2f} | {_p95(timings):.2f} |")

    print("\nConcurrent orders paying 5.00 from wallets")
    print("| threads | wallets | orders | orders/s |")
    print("|---:|---|---:|---:|")
    for threads in (1, 8, 32):
        per_thread = max(1, runs // threads)
        for shared in (False, True):
            if threads == 1 and shared:
                continue
            rate = _concurrent(f"wallet-{threads}-{int(shared)}", threads, per_thread, shared)
            label = "one shared" if shared else "one per thread"
            print(f"| {threads} | {label} | {threads * per_thread} | {rate:.0f} |")
