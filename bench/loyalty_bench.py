"""Loyalty ledger throughput.

1. Awards per second with one worker: the award task run in process, one delivery after
   another as a solo worker does, for paid orders plus 10% duplicate deliveries. Reports the
   orders that earned more than once (must be 0).
2. The reconciliation sweep over those orders and 1% more whose task was lost.
3. The drift sweep over many accounts, 0.1% of them with a drifted cache.
"""

import random
import time
from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Count
from django.utils import timezone

from brands.models import Brand
from customers.models import Customer
from loyalty_management.models import (
    LoyaltyAccount,
    LoyaltyLot,
    LoyaltyProgram,
    LoyaltyTransaction,
)
from loyalty_management.services.ledger import balances_drift_repair
from marketing.services import loyalty_points_reconcile
from marketing.tasks import award_loyalty_points_for_order_task
from orders.models import Order

BATCH = 5000


def _customers(count: int, prefix: str) -> list[Customer]:
    # No email address: the earn notice goes to the inbox only, no email task is queued.
    return Customer.objects.bulk_create(
        (Customer(external_id=f"{prefix}-{i}") for i in range(count)), batch_size=BATCH
    )


def _paid_orders(brand, customers, count: int, rng, paid_at) -> list[Order]:
    orders = []
    for _ in range(count):
        total = Decimal(rng.randint(100, 20000)) / 100
        orders.append(
            Order(
                brand=brand,
                customer=rng.choice(customers),
                currency="EUR",
                subtotal=total,
                total=total,
                payment_status=Order.PaymentStatus.PAID,
                paid_at=paid_at,
            )
        )
    # bulk_create sends no signals: the tasks are run below, as the worker would.
    return Order.objects.bulk_create(orders, batch_size=BATCH)


def bench_awards(*, orders: int, rng) -> None:
    brand = Brand.objects.create(name="Loyalty", slug="loyalty-bench", currency="EUR")
    LoyaltyProgram.objects.create(brand=brand, name="Bench points")
    customers = _customers(max(1, orders // 5), "award")
    paid_at = timezone.now() - timedelta(hours=1)
    placed = _paid_orders(brand, customers, orders, rng, paid_at)
    # Paid while the broker was down: their task never reaches the worker.
    lost = _paid_orders(brand, customers, max(1, orders // 100), rng, paid_at)
    deliveries = [order.pk for order in placed]
    deliveries += rng.sample(deliveries, orders // 10)
    rng.shuffle(deliveries)

    started = time.perf_counter()
    for order_id in deliveries:
        award_loyalty_points_for_order_task(order_id)
    elapsed = time.perf_counter() - started

    earned = LoyaltyTransaction.objects.filter(kind="earned", order__brand=brand)
    duplicates = earned.values("order").annotate(n=Count("id")).filter(n__gt=1).count()
    print(f"Awards, one worker: {orders} paid orders, {len(deliveries)} deliveries")
    awarded = earned.count()
    print(f"  {len(deliveries) / elapsed:8.0f} deliveries/s   {awarded / elapsed:8.0f} awards/s")
    print(f"  orders awarded: {awarded}   duplicates found: {duplicates}")

    started = time.perf_counter()
    result = loyalty_points_reconcile()
    elapsed = time.perf_counter() - started
    print(
        f"Reconciliation over {orders + len(lost)} paid orders ({len(lost)} lost): "
        f"{elapsed:.2f} s, awarded {result.awarded}"
    )


def bench_drift(*, accounts: int, rng) -> None:
    brand = Brand.objects.create(name="Drift", slug="drift-bench", currency="EUR")
    program = LoyaltyProgram.objects.create(brand=brand, name="Drift points")
    customers = _customers(accounts, "drift")
    points = [rng.randint(1, 5000) for _ in range(accounts)]
    rows = LoyaltyAccount.objects.bulk_create(
        (
            LoyaltyAccount(customer=c, program=program, available_points=p, lifetime_points=p)
            for c, p in zip(customers, points, strict=True)
        ),
        batch_size=BATCH,
    )
    now = timezone.now()
    credits = LoyaltyTransaction.objects.bulk_create(
        (
            LoyaltyTransaction(
                account=a, kind="bonus", points=p, idempotency_key=f"drift-{a.pk}", created_at=now
            )
            for a, p in zip(rows, points, strict=True)
        ),
        batch_size=BATCH,
    )
    LoyaltyLot.objects.bulk_create(
        (
            LoyaltyLot(
                credit=c,
                account_id=c.account_id,
                points=c.points,
                remaining_points=c.points,
                available_at=now,
            )
            for c in credits
        ),
        batch_size=BATCH,
    )
    drifted = rng.sample([a.pk for a in rows], max(1, accounts // 1000))
    LoyaltyAccount.objects.filter(pk__in=drifted).update(available_points=0)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    started = time.perf_counter()
    repaired = balances_drift_repair()
    elapsed = time.perf_counter() - started
    print(
        f"Drift sweep over {accounts} accounts: {elapsed:.2f} s, "
        f"{len(repaired)} repaired of {len(drifted)} drifted"
    )


def main(*, orders: int = 10_000, accounts: int = 100_000) -> None:
    rng = random.Random(11)
    bench_awards(orders=orders, rng=rng)
    bench_drift(accounts=accounts, rng=rng)
