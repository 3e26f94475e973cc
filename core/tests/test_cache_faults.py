"""Redis down or hung: checkout, quotes, payments and POS sync keep answering from PostgreSQL,
each failure costs one short wait and then the circuit breaker skips Redis, `/healthz` says
degraded, and once Redis is back the cache is used again without serving anything stale.

Each test runs its own `redis-server` and kills (SIGKILL) or freezes (SIGSTOP) it.
"""

import time
from decimal import Decimal

import pytest
from django.core.cache import caches
from django.test import TestCase

from core.tests.api_world import build_tenant, device_client, token_client
from core.tests.redis_server import resilient_caches
from orders.models import Order
from promotions.services.lifecycle import promotion_save, promotion_set_status
from promotions.tests.factories import PromotionFactory

pytestmark = pytest.mark.django_db


def live_percent(tenant, percent: str):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return promotion_save(
            promotion=PromotionFactory.build(
                brand=tenant.brand, status="active", params={"percent": percent}
            ),
            relations=None,
        )


class Shop:
    """The callers of a checkout: a customer, the brand's staff, its till; and their answers."""

    def __init__(self, tenant) -> None:
        self.tenant = tenant
        self.customer = token_client(tenant.customer.user)
        self.staff = token_client(tenant.staff)
        self.till = device_client(tenant.device_key)
        self.answers: list[tuple[str, int, float]] = []

    def _record(self, name: str, call):
        started = time.monotonic()
        response = call()
        self.answers.append((name, response.status_code, time.monotonic() - started))
        return response

    def quote(self):
        lines = [{"product": self.tenant.product.pk, "quantity": 2}]
        body = {"brand": self.tenant.brand.slug, "lines": lines}
        return self._record(
            "quote", lambda: self.customer.post("/api/v1/pricing/quote/", body, format="json")
        )

    def checkout(self) -> None:
        """One of each: quote, order, payment, the till's two sync reads, and /healthz."""
        self.quote()
        lines = [{"product": self.tenant.product.pk, "quantity": 1}]
        placed = self._record(
            "order",
            lambda: self.customer.post(
                "/api/v1/orders/", {"brand": self.tenant.brand.slug, "lines": lines}, format="json"
            ),
        )
        if placed.status_code == 201:
            order_id = placed.json()["id"]
            self._record(
                "payment",
                lambda: self.staff.post(
                    f"/api/v1/orders/{order_id}/payment-status/",
                    {"payment_status": "paid"},
                    format="json",
                ),
            )
        self._record("sync version", lambda: self.till.get("/api/v1/sync/version/"))
        self._record("sync bundle", lambda: self.till.get("/api/v1/sync/active_promotions/"))
        self._record("healthz", lambda: self.staff.get("/healthz"))

    def failures(self) -> list[tuple[str, int]]:
        return [(name, code) for name, code, _ in self.answers if not 200 <= code < 300]

    def report(self, title: str, figures) -> None:
        five_xx = sum(1 for _, code, _ in self.answers if code >= 500)
        slowest = max(elapsed for _, _, elapsed in self.answers)
        figures(
            f"{title}: requests sent {len(self.answers)}, 5xx {five_xx}, "
            f"non-2xx {len(self.failures())}, slowest {slowest * 1000:.0f} ms"
        )


def test_with_redis_killed_checkout_payments_and_sync_answer_from_the_database(
    settings, redis_server, client, figures
):
    # Given the production cache on a Redis of our own, warmed by a first checkout
    settings.CACHES = resilient_caches(redis_server.url, prefix="killed", cooldown=60)
    a = build_tenant("a")
    live_percent(a, "10")
    shop = Shop(a)
    shop.checkout()
    assert shop.failures() == []
    assert any(":promotions:bundle:" in key for key in redis_server.keys("killed"))

    # When Redis is killed and customers, staff and tills keep going
    redis_server.kill()
    shop.answers.clear()
    orders_before = Order.objects.count()
    for _ in range(5):
        shop.checkout()
    shop.report("Redis killed", figures)

    # Then every request succeeded, priced with the live promotion read from the database
    assert shop.failures() == []
    assert Order.objects.count() == orders_before + 5
    assert Order.objects.filter(payment_status="paid").count() >= 5
    assert shop.quote().json()["discount_total"] == "2.50"
    # Only the first call of each cache touched the network; the breaker skipped the rest
    assert caches["default"]._breaker.failures == 1
    assert caches["throttle"]._breaker.failures == 1
    # And /healthz keeps the app in rotation, naming the cache as down
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["checks"]["cache"]["status"] == "down"
    assert health.json()["checks"]["database"]["status"] == "ok"


def test_a_hung_redis_is_skipped_after_one_short_wait_and_nothing_stale_is_served_after(
    settings, redis_server, figures
):
    cooldown = 3.0
    settings.CACHES = resilient_caches(redis_server.url, prefix="hung", cooldown=cooldown)
    a = build_tenant("a")
    promotion = live_percent(a, "10")
    shop = Shop(a)
    # Given the brand's bundle (10% off) cached in Redis
    assert shop.quote().json()["discount_total"] == "2.50"
    stale_keys = [k for k in redis_server.keys("hung") if ":promotions:bundle:" in k]
    assert stale_keys
    accepted_before = redis_server.connections_received()

    # When Redis hangs (it accepts connections but never answers)...
    redis_server.freeze()
    started = time.monotonic()
    shop.answers.clear()
    assert shop.quote().json()["discount_total"] == "2.50"
    # ...the promotion ends while the cache cannot be told...
    with TestCase.captureOnCommitCallbacks(execute=True):
        promotion_set_status(promotion_id=promotion.pk, status="ended")
    # ...and checkouts go on
    for _ in range(3):
        shop.checkout()
    during = shop.quote().json()
    shop.report("Redis hung", figures)
    redis_server.thaw()
    attempts = redis_server.connections_received() - accepted_before - 1  # this INFO's own
    # Up to the count just read, so a probe after a cool-down is allowed for
    elapsed = time.monotonic() - started

    # Then everything answered, from the database (the ended promotion no longer applies)
    assert shop.failures() == []
    assert during["discount_total"] == "0.00"
    # And each cache waited once on Redis (a read timeout on its pooled connection), then
    # skipped it until the cool-down ended: no new connection per cache call (a timed-out
    # connection is dropped, so without the breaker every later call would open one)
    probes = int(elapsed // cooldown)
    figures(f"new connections to the hung Redis: {attempts} in {elapsed:.1f} s")
    assert attempts <= 2 * probes
    assert 1 <= caches["default"]._breaker.failures <= 1 + probes
    assert 1 <= caches["throttle"]._breaker.failures <= 1 + probes

    # When Redis answers again and the cool-down has passed
    time.sleep(cooldown + 0.2)
    quoted = shop.quote().json()

    # Then the bundle of the ended promotion is not served from the old cache entries: the
    # writes skipped during the outage made the cache drop this prefix before its next use
    assert quoted["discount_total"] == "0.00"
    assert quoted["promotions"] == []
    # And the cache is used again
    assert any(":promotions:bundle:" in key for key in redis_server.keys("hung"))
    assert caches["default"]._breaker.is_open() is False
    assert Decimal(quoted["total"]) == Decimal("25.00")
