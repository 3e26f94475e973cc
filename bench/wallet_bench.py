"""The wallet tender: what paying part of an order from a wallet costs, and orders per second
when many threads (each with its own database connection) pay from wallets at once: from
different wallets (independent rows), and from one wallet (the row every order locks, from its
debit to its commit); and what crediting a paid order's cashback costs, as points or to the
wallet (the credit task's service, sequential)."""

import statistics
import threading
import time
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from brands.models import Brand
from catalog.models import Product
from customers.models import Customer
from customers.services import customer_create
from loyalty_management.models import LoyaltyProgram
from marketing.cashback import cashback_credit
from orders.models import Order
from orders.services.placement import LineRequest, order_place
from promotions.models import Promotion
from promotions.selectors import bundle_invalidate
from promotions.services.lifecycle import promotion_save
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


def _place(brand, product, customer, wallet_amount) -> Order:
    order, _ = order_place(
        brand=brand,
        lines=[LineRequest(product_id=product.pk, quantity=1)],
        customer=customer,
        wallet_amount=wallet_amount,
    )
    return order


def _cashback_timings(slug: str, cashback_to: str, runs: int) -> list[float]:
    """Orders with 10% cashback to `cashback_to`, paid by an update (no task runs), then
    credited one by one through the service the credit task calls."""
    brand, product = _brand(slug)
    LoyaltyProgram.objects.create(brand=brand, name=f"{slug} points")
    promotion_save(
        promotion=Promotion(
            brand=brand,
            name="Cashback",
            type=Promotion.Type.CASHBACK,
            status=Promotion.Status.ACTIVE,
            all_products=True,
            params={"percent": "10"},
            cashback_to=cashback_to,
        )
    )
    bundle_invalidate(brand_id=brand.pk)
    customer = _customer(brand, 0, Decimal("0"))
    orders = [_place(brand, product, customer, None).pk for _ in range(runs + 1)]
    Order.objects.filter(pk__in=orders).update(
        payment_status=Order.PaymentStatus.PAID, paid_at=timezone.now()
    )
    cashback_credit(order_id=orders[0])  # warm the account or wallet
    timings = []
    for order_id in orders[1:]:
        started = time.perf_counter()
        credited = cashback_credit(order_id=order_id)
        timings.append((time.perf_counter() - started) * 1000)
        assert credited is not None
    return timings


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

    print("\nCashback credited on payment (the credit task's service, sequential)")
    print("| cashback to | orders | median ms/order | p95 ms/order |")
    print("|---|---:|---:|---:|")
    for label, target in (
        ("points", Promotion.CashbackTo.POINTS),
        ("wallet", Promotion.CashbackTo.WALLET),
    ):
        timings = _cashback_timings(f"cashback-{target}", target, runs)
        print(f"| {label} | {runs} | {statistics.median(timings):.2f} | {_p95(timings):.2f} |")
