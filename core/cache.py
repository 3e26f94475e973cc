"""A Redis cache that never fails a request, and the key prefix that keeps databases apart.

`ResilientRedisCache` is Django's `RedisCache` with three additions:

- Short socket timeouts (100 ms by default), so a dead or hung Redis costs a request at most
  one short wait.
- A circuit breaker per process and cache: the first Redis error opens it, and for the
  cool-down every cache call is skipped without touching the network (reads miss, writes do
  nothing, `incr` raises `ValueError` as for a missing key). The callers fall back to the
  database, which is the source of truth. After the cool-down the next call probes Redis again.
- No stale data after an outage: a write or delete skipped while Redis was unreachable (an
  invalidation that never happened) marks the cache dirty, and before the cache is used again
  every key of this cache's prefix is deleted. Until that clear has succeeded nothing is read
  from Redis. A dirty process that gets no more requests retries the clear by itself after
  each cool-down, so other processes do not keep serving what it failed to invalidate.

With `"FALLBACK": True` in its OPTIONS, a cache answers from a process-local memory cache while
the breaker is open instead (used by the throttles, so that rate limits still hold per process
when Redis is down).

`clear()` deletes this cache's prefix only, never the whole Redis database (which may hold the
Celery broker's queues or another database's cache).
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

DEFAULT_SOCKET_TIMEOUT = 0.1
DEFAULT_COOLDOWN = 30.0
_CLEAR_BATCH = 500


class CacheUnavailable(Exception):
    """Redis did not answer, or the circuit breaker is open."""


class CircuitBreaker:
    """Per-process state of one cache: open until a time, and whether writes were skipped."""

    def __init__(self, *, name: str, cooldown: float) -> None:
        self.name = name
        self.cooldown = cooldown
        self.open_until = 0.0
        self.failures = 0
        self.dirty = False
        self.lock = threading.Lock()
        self.retired = False
        self._timer: threading.Timer | None = None

    def is_open(self) -> bool:
        return time.monotonic() < self.open_until

    def trip(self, error: Exception) -> None:
        was_open = self.open_until > 0
        self.failures += 1
        self.open_until = time.monotonic() + self.cooldown
        if not was_open:
            logger.warning(
                "Cache %s unreachable (%s: %s); skipping it for %.1f s.",
                self.name,
                type(error).__name__,
                error,
                self.cooldown,
            )

    def close(self) -> None:
        if self.open_until:
            self.open_until = 0.0
            logger.warning("Cache %s reachable again.", self.name)

    def mark_dirty(self, recover: Callable[[], None]) -> None:
        """Remember a skipped write; retry the clear after the cool-down even if idle."""
        self.dirty = True
        with self.lock:
            if self.retired:
                return
            if self._timer is None or not self._timer.is_alive():
                self._timer = threading.Timer(self.cooldown, self._retry, args=(recover,))
                self._timer.daemon = True
                self._timer.start()

    def _retry(self, recover: Callable[[], None]) -> None:
        self._timer = None
        if not self.dirty or self.retired:
            return
        try:
            recover()
        except RedisError as error:
            self.trip(error)
            self.mark_dirty(recover)

    def retire(self) -> None:
        with self.lock:
            self.retired = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None


_breakers: dict[tuple, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def _without_credentials(location: str) -> str:
    """`redis://:password@host:6379/0` as `redis://host:6379/0`, for log lines."""
    return ",".join(
        urlsplit(url)._replace(netloc=urlsplit(url).netloc.rpartition("@")[2]).geturl()
        for url in location.split(",")
    )


def breaker_for(*, location: str, prefix: str, cooldown: float) -> CircuitBreaker:
    """The process's breaker of a cache (Django builds one backend object per thread)."""
    with _breakers_lock:
        key = (location, prefix)
        if key not in _breakers:
            name = f"{_without_credentials(location)} ({prefix})"
            _breakers[key] = CircuitBreaker(name=name, cooldown=cooldown)
        _breakers[key].cooldown = cooldown
        return _breakers[key]


def breakers_reset() -> None:
    """Forget every breaker's state (tests that start and kill their own Redis)."""
    with _breakers_lock:
        for breaker in _breakers.values():
            breaker.retire()
        _breakers.clear()


def _glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


class ResilientRedisCache(RedisCache):
    def __init__(self, server, params):
        options = dict(params.get("OPTIONS") or {})
        cooldown = float(options.pop("CIRCUIT_BREAKER_COOLDOWN", DEFAULT_COOLDOWN))
        fallback = bool(options.pop("FALLBACK", False))
        options.setdefault("socket_connect_timeout", DEFAULT_SOCKET_TIMEOUT)
        options.setdefault("socket_timeout", DEFAULT_SOCKET_TIMEOUT)
        super().__init__(server, {**params, "OPTIONS": options})
        location = server if isinstance(server, str) else ",".join(server)
        self._breaker = breaker_for(location=location, prefix=self.key_prefix, cooldown=cooldown)
        self._fallback = (
            LocMemCache(f"fallback:{location}:{self.key_prefix}", params) if fallback else None
        )

    # --- the breaker ------------------------------------------------------------------------

    def _guarded(self, name: str, write: bool, default: Any, *args, **kwargs) -> Any:
        breaker = self._breaker
        if not breaker.is_open():
            try:
                if breaker.dirty:
                    self._recover()
                result = getattr(super(), name)(*args, **kwargs)
            except RedisError as error:
                breaker.trip(error)
            else:
                breaker.close()
                return result
        if write:
            breaker.mark_dirty(self._recover)
        if self._fallback is not None:
            return getattr(self._fallback, name)(*args, **kwargs)
        if isinstance(default, Exception):
            raise default
        return default

    def _recover(self) -> None:
        """Delete this prefix once after skipped writes; callers wait until it is done."""
        breaker = self._breaker
        with breaker.lock:
            if breaker.dirty:
                # Cleared before the scan, so a write skipped meanwhile by another thread marks
                # it again (and is cleared by the next recovery) instead of being forgotten.
                breaker.dirty = False
                try:
                    deleted = self._delete_prefix()
                except BaseException:
                    breaker.dirty = True
                    raise
                breaker.close()
                logger.warning(
                    "Cache %s: deleted %d entries after writes skipped during an outage.",
                    breaker.name,
                    deleted,
                )

    def _delete_prefix(self) -> int:
        client = self._cache.get_client(None, write=True)
        pattern = _glob_escape(self.key_prefix) + ":*"
        deleted = 0
        batch = []
        for key in client.scan_iter(match=pattern, count=_CLEAR_BATCH):
            batch.append(key)
            if len(batch) >= _CLEAR_BATCH:
                deleted += client.unlink(*batch)
                batch = []
        if batch:
            deleted += client.unlink(*batch)
        return deleted

    def ping(self) -> None:
        """Raise `CacheUnavailable` unless Redis answers (not while the breaker is open)."""
        if self._breaker.is_open():
            raise CacheUnavailable("Redis is unreachable; the cache is skipped for now.")
        try:
            if self._breaker.dirty:
                self._recover()
            self._cache.get_client(None, write=True).ping()
        except RedisError as error:
            self._breaker.trip(error)
            raise CacheUnavailable(f"Redis is unreachable ({type(error).__name__}).") from None
        self._breaker.close()

    # --- the cache API ----------------------------------------------------------------------

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded("add", True, False, key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._guarded("get", False, default, key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded("set", True, None, key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded("touch", True, False, key, timeout, version)

    def delete(self, key, version=None):
        return self._guarded("delete", True, False, key, version)

    def get_many(self, keys, version=None):
        return self._guarded("get_many", False, {}, keys, version)

    def has_key(self, key, version=None):
        return self._guarded("has_key", False, False, key, version)

    def incr(self, key, delta=1, version=None):
        missing = ValueError(f"Key '{key}' not found (the cache is unavailable).")
        return self._guarded("incr", True, missing, key, delta, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded("set_many", True, list(data), data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._guarded("delete_many", True, None, keys, version)

    def clear(self):
        """Delete this cache's keys only (Django's Redis backend flushes the whole database)."""
        breaker = self._breaker
        if not breaker.is_open():
            try:
                with breaker.lock:
                    self._delete_prefix()
                    breaker.dirty = False
            except RedisError as error:
                breaker.trip(error)
            else:
                breaker.close()
                if self._fallback is not None:
                    self._fallback.clear()
                return True
        breaker.mark_dirty(self._recover)
        if self._fallback is not None:
            self._fallback.clear()
        return False
