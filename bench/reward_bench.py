"""The birthday sweep over many customers: time, rewards issued, rewards per second and peak
memory of a first run (every customer whose birthday is today gets a code) and of a second run
the same day (nothing to issue: the batches only find the keys already used), and what the
month/day lookup costs with and without the `customer_birthday` expression index.

The customers are written with COPY (PostgreSQL) in the throw-away database, one brand, birth
dates spread evenly over the year so about 1 in 365 has a birthday today.

Run: .venv/bin/python -m bench rewards [--customers N] (PostgreSQL only)
"""

import io
import resource
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import connection

from brands.models import Brand
from customers.models import Customer
from rewards.models import CustomerReward, RewardTemplate
from rewards.sweeps import BIRTHDAY_BATCH, birthday_filter, birthday_rewards_issue

NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
COPY_CHUNK = 100_000


def _customers(brand: Brand, count: int) -> float:
    """COPY `count` customers known to `brand`; returns the seconds it took."""
    started = time.perf_counter()
    base = date(1960, 1, 1)
    stamp = NOW.isoformat()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        written = 0
        while written < count:
            chunk = min(COPY_CHUNK, count - written)
            buffer = io.StringIO()
            for index in range(written, written + chunk):
                # Evenly over 365 days of the year, years spread over four decades.
                born = base + timedelta(days=(index % 365) + 365 * (index % 40))
                buffer.write(f"{stamp}\t{stamp}\t\t\t\t{born.isoformat()}\n")
            buffer.seek(0)
            with raw.copy(
                "COPY customers_customer (created_at, updated_at, phone, first_name, "
                "last_name, birth_date) FROM STDIN"
            ) as copy:
                copy.write(buffer.read())
            written += chunk
        cursor.execute(
            "INSERT INTO customers_customerbrand (customer_id, brand_id, first_seen_at) "
            "SELECT id, %s, %s FROM customers_customer",
            [brand.pk, NOW],
        )
        cursor.execute("ANALYZE customers_customer")
        cursor.execute("ANALYZE customers_customerbrand")
    return time.perf_counter() - started


def _lookup_ms(brand: Brand) -> tuple[float, str]:
    """The first batch's query: milliseconds (median of 5) and the plan's first line."""
    query = (
        Customer.objects.filter(
            birthday_filter(NOW.date()), brand_links__brand_id=brand.pk, erased_at__isnull=True
        )
        .order_by("pk")
        .filter(pk__gt=0)[:BIRTHDAY_BATCH]
    )
    sql, params = query.query.sql_with_params()
    times = []
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        plan = " / ".join(row[0].strip() for row in cursor.fetchall()[:4])
        for _ in range(5):
            started = time.perf_counter()
            cursor.execute(sql, params)
            cursor.fetchall()
            times.append((time.perf_counter() - started) * 1000)
    return sorted(times)[2], plan


def _run() -> tuple[float, int, float, float]:
    """One sweep: seconds, rewards issued, tracemalloc peak MiB, batches."""
    tracemalloc.start()
    started = time.perf_counter()
    result = birthday_rewards_issue(now=NOW)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, result.issued, peak / 2**20, result.batches


def main(*, customers: int = 1_000_000) -> None:
    if connection.vendor != "postgresql":
        print("rewards: the birthday bench needs PostgreSQL (COPY); skipped.")
        return
    brand = Brand.objects.create(name="Birthday bench", slug="birthday-bench", currency="EUR")
    RewardTemplate.objects.create(
        brand=brand,
        name="Birthday coffee",
        kind="discount_amount",
        amount=Decimal("3.00"),
        trigger=RewardTemplate.Trigger.BIRTHDAY,
    )
    setup = _customers(brand, customers)
    with_index, plan = _lookup_ms(brand)
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX customer_birthday")
    without_index, plan_without = _lookup_ms(brand)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE INDEX customer_birthday ON customers_customer "
            "(EXTRACT(MONTH FROM birth_date), EXTRACT(DAY FROM birth_date))"
        )
        cursor.execute("ANALYZE customers_customer")

    first = _run()
    second = _run()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert first[1] == CustomerReward.objects.count()

    print(f"\nBirthday sweep over {customers:,} customers of one brand (COPY in {setup:.1f} s)")
    print(f"batch size {BIRTHDAY_BATCH}; birthdays today: {first[1]:,}")
    print(
        f"{'run':<28}{'seconds':>10}{'issued':>10}{'rewards/s':>12}{'peak MiB':>10}{'batches':>9}"
    )
    for label, (seconds, issued, peak, batches) in (
        ("first (issues)", first),
        ("second, same day (nothing)", second),
    ):
        rate = f"{issued / seconds:,.0f}" if issued else "-"
        print(f"{label:<28}{seconds:>10.2f}{issued:>10,}{rate:>12}{peak:>10.1f}{batches:>9}")
    print(f"process max RSS: {rss:.0f} MiB")
    print(f"\n{'first batch lookup':<28}{'ms':>10}  plan")
    print(f"{'with customer_birthday':<28}{with_index:>10.1f}  {plan[:110]}")
    print(f"{'without it':<28}{without_index:>10.1f}  {plan_without[:110]}")
