"""The resilient Redis cache on its own: every cache call answers while Redis is down, the
breaker stops network attempts, and after the outage the cache comes back clean."""

import time

import pytest
from django.core.cache import caches

from core.cache import CacheUnavailable
from core.tests.redis_server import resilient_caches

COOLDOWN = 1.0


@pytest.fixture
def cache(settings, redis_server):
    settings.CACHES = resilient_caches(redis_server.url, prefix="unit", cooldown=COOLDOWN)
    return caches["default"]


def wait_for_cooldown(cache) -> None:
    time.sleep(max(0.0, cache._breaker.open_until - time.monotonic()) + 0.1)


def test_every_call_answers_as_a_miss_while_redis_is_dead(cache, redis_server):
    cache.set("kept", 1)
    redis_server.kill()

    assert cache.get("kept") is None
    assert cache.get("kept", "fallback") == "fallback"
    assert cache.get_or_set("kept", 5) == 5
    assert cache.add("new", 1) is False
    assert cache.set("new", 1) is None
    assert cache.touch("new") is False
    assert cache.has_key("new") is False
    assert cache.delete("new") is False
    assert cache.get_many(["a", "b"]) == {}
    assert cache.set_many({"a": 1, "b": 2}) == ["a", "b"]
    assert cache.delete_many(["a", "b"]) is None
    assert cache.clear() is False
    with pytest.raises(ValueError):
        cache.incr("counter")
    with pytest.raises(ValueError):
        cache.decr("counter")
    with pytest.raises(CacheUnavailable):
        cache.ping()
    # One network attempt in all, then the breaker answered alone
    assert cache._breaker.failures == 1
    assert cache._breaker.dirty is True


def test_after_a_restart_on_the_same_port_the_cache_is_used_again(cache, redis_server):
    cache.set("kept", 1)
    redis_server.kill()
    cache.set("during", 1)  # skipped
    redis_server.start()
    assert cache.get("kept") is None  # the breaker is still open: no attempt yet

    wait_for_cooldown(cache)
    cache.set("after", 2)

    assert cache.get("after") == 2
    assert redis_server.client().exists("unit:1:after") == 1
    assert cache._breaker.dirty is False
    cache.ping()


def test_a_dirty_process_drops_its_prefix_without_another_request(cache, redis_server):
    # Given entries in Redis and a write this process could not make while Redis hung
    cache.set("bundle", "old")
    other = redis_server.client()
    other.set("elsewhere", "kept")
    redis_server.freeze()
    cache.set("bundle", "new")  # times out: skipped, the cache is dirty
    redis_server.thaw()
    assert other.get("unit:1:bundle") is not None

    # When the cool-down passes and this process makes no cache call at all
    deadline = time.monotonic() + 10 * COOLDOWN
    while other.exists("unit:1:bundle") and time.monotonic() < deadline:
        time.sleep(0.1)

    # Then the stale entry is gone anyway, and nothing outside the prefix was touched
    assert other.exists("unit:1:bundle") == 0
    assert other.get("elsewhere") == b"kept"
    assert cache._breaker.dirty is False


def test_log_lines_name_the_redis_without_its_password(settings, caplog):
    url = "redis://:s3cret-pass@127.0.0.1:1/0"
    settings.CACHES = resilient_caches(url, prefix="secret", cooldown=COOLDOWN)

    assert caches["default"].get("anything") is None

    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "redis://127.0.0.1:1/0 (secret) unreachable" in logged
    assert "s3cret-pass" not in logged
