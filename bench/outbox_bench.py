"""The outbox: what it adds to a commit, and how fast the sweep sends a backlog.

1. A transaction that owes one effect: `outbox_enqueue` (one INSERT) and, after the commit, the
   send to the broker. With the broker up (the configured Redis) and with the broker down (a
   port nothing listens on): the commit must stay fast and never fail.
2. The sweep over a backlog of owed messages (the broker was down for a while): messages sent
   per second.

Messages go to a queue of their own that no worker reads; it is emptied at the end.
"""

import logging
import statistics
import time
import uuid

from django.db import transaction
from django.utils import timezone

from config.celery_app import app
from core.models import OutboxMessage
from core.outbox import outbox_enqueue, outbox_sweep
from core.tests.celery_worker import broker_at
from core.tests.redis_server import free_port

TASK = "core.outbox_purge"  # cheap and harmless; never run here, only sent


def _commit_times(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        with transaction.atomic():
            outbox_enqueue(task=TASK, kwargs={})
        times.append((time.perf_counter() - started) * 1000)
    return times


def _row(label: str, times: list[float]) -> None:
    times = sorted(times)
    p95 = times[int(len(times) * 0.95) - 1]
    print(f"| {label:<34} | {statistics.median(times):>8.2f} | {p95:>8.2f} |")


def main(*, runs: int = 200, backlog: int = 10_000) -> None:
    queue = f"bench-outbox-{uuid.uuid4().hex[:8]}"
    broker = app.conf.broker_url
    print("\nOutbox: one owed effect per transaction (ms per commit, send included)")
    print(f"| {'broker':<34} | {'median':>8} | {'p95':>8} |")
    print(f"|{'-' * 36}|{'-' * 10}|{'-' * 10}|")
    with broker_at(broker, queue=queue):
        _row("up (Redis)", _commit_times(runs))
        outbox_log = logging.getLogger("core.outbox")
        level = outbox_log.level
        outbox_log.setLevel(logging.ERROR)  # one warning per refused send is the point here
        try:
            with broker_at(f"redis://127.0.0.1:{free_port()}/0", queue=queue):
                _row("down (connection refused)", _commit_times(runs))
        finally:
            outbox_log.setLevel(level)

        OutboxMessage.objects.all().delete()
        now = timezone.now()
        OutboxMessage.objects.bulk_create(
            (OutboxMessage(task=TASK, kwargs={}, due_at=now) for _ in range(backlog)),
            batch_size=5000,
        )
        started = time.perf_counter()
        sent = outbox_sweep(now=now)
        elapsed = time.perf_counter() - started
        print(
            f"\nSweep of a backlog: {sent} of {backlog} messages sent in {elapsed:.2f} s, "
            f"{sent / elapsed:,.0f} messages/s"
        )
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(queue)
