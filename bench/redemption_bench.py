"""Redemption requests: what one request costs (hold the points, reserve the unit, write the
request), and requests per second when many threads (each with its own database connection)
redeem at once: different customers on one item with stock (the item row every request
updates), and on an item without stock (independent rows)."""

import statistics
import threading
import time

from django.db import connection

from brands.models import Brand
from customers.services import customer_create
from loyalty_management.models import LoyaltyProgram
from loyalty_management.services.catalogue import redemption_item_save
from loyalty_management.services.ledger import account_get_or_create, ledger_credit
from loyalty_management.services.redemptions import redemption_request


def _world(slug: str, customers: int, points: int, stock: int | None):
    brand = Brand.objects.create(name=slug, slug=slug, currency="EUR")
    program = LoyaltyProgram.objects.create(brand=brand, name=f"{slug} points")
    item = redemption_item_save(
        brand=brand,
        data={"name": "Mug", "points_cost": 10, "kind": "physical", "stock": stock},
    )
    people = []
    for index in range(customers):
        customer = customer_create(brand=brand, email=f"{slug}-{index}@example.com")
        account = account_get_or_create(customer=customer, program=program)
        ledger_credit(
            account_id=account.pk, kind="bonus", points=points, idempotency_key=f"{slug}-{index}"
        )
        people.append(customer)
    return brand, item, people


def _p95(values: list[float]) -> float:
    return sorted(values)[max(int(len(values) * 0.95) - 1, 0)]


def _concurrent(slug: str, threads: int, per_thread: int, stock: int | None) -> float:
    brand, item, people = _world(slug, threads, 10 * per_thread, stock)
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(customer) -> None:
        try:
            barrier.wait(timeout=30)
            for _ in range(per_thread):
                redemption_request(customer=customer, brand=brand, item_id=item.pk)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=work, args=(c,)) for c in people]
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
    print("\nRedemption requests (sequential, one connection, one customer)")
    print("| item | requests | median ms/request | p95 ms/request |")
    print("|---|---:|---:|---:|")
    for index, (label, stock) in enumerate((("unlimited", None), ("with stock", 10 * runs))):
        brand, item, (customer,) = _world(f"redeem-seq-{index}", 1, 10 * runs, stock)
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            redemption_request(customer=customer, brand=brand, item_id=item.pk)
            timings.append((time.perf_counter() - started) * 1000)
        print(f"| {label} | {runs} | {statistics.median(timings):.2f} | {_p95(timings):.2f} |")

    print("\nConcurrent redemption requests (one customer per thread)")
    print("| threads | item | requests | requests/s |")
    print("|---:|---|---:|---:|")
    for threads in (1, 8, 32):
        per_thread = max(1, runs // threads)
        for label, stock in (("unlimited", None), ("with stock", threads * per_thread)):
            rate = _concurrent(f"redeem-{threads}-{label[0]}", threads, per_thread, stock)
            print(f"| {threads} | {label} | {threads * per_thread} | {rate:.0f} |")
