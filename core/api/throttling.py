"""Rate limits per client and scope, kept in the `throttle` cache (Redis, falling back to
process-local memory while Redis is unreachable; see core/cache.py).

A client is a POS device (its key), a signed-in user, or else an IP address (`REMOTE_ADDR`;
`X-Forwarded-For` only as far as `TRUSTED_PROXY_COUNT` proxies are trusted). A view names its
scope with `throttle_scope`, or per action with `throttle_scopes = {"create": "order"}`; a
view with neither counts under `default`. The rates are the `THROTTLE_RATES` setting.

Every request costs one unit; `throttle_take` charges a request several (one per log line).
"""

import contextlib
import math
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from rest_framework.exceptions import Throttled
from rest_framework.throttling import SimpleRateThrottle

from core.api.permissions import is_device_request

DEFAULT_SCOPE = "default"
CODES_SCOPE = "codes"


@dataclass(frozen=True)
class WindowCount:
    """A sliding-window count after adding to it: `weighted` is the current window's count plus
    the previous window's weighted by how much of it still overlaps."""

    key: str  # the current window's counter
    previous_key: str
    weighted: float
    window_left: float  # seconds until the current window ends


def sliding_window_add(
    cache, prefix: str, *, amount: int, duration: int, now: float
) -> WindowCount:
    """Add `amount` to the counter of `prefix` for the window of `duration` seconds holding
    `now`, with an atomic increment (concurrent callers cannot all read the same count)."""
    window = int(now // duration)
    window_left = (window + 1) * duration - now
    key, previous_key = f"{prefix}:{window}", f"{prefix}:{window - 1}"
    cache.add(key, 0, duration * 2)
    try:
        current = cache.incr(key, amount)
    except ValueError:  # expired between the two calls: start the window again
        cache.add(key, amount, duration * 2)
        current = amount
    previous = cache.get(previous_key, 0)
    return WindowCount(key, previous_key, previous * window_left / duration + current, window_left)


def client_ident(throttle: SimpleRateThrottle, request) -> str:
    if is_device_request(request):
        return f"device:{request.auth.pk}"
    if request.user is not None and request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return f"ip:{throttle.get_ident(request)}"


class ClientRateThrottle(SimpleRateThrottle):
    """At most the scope's rate of requests per client, over a sliding window.

    Counted with atomic increments, so concurrent requests cannot all read the same count and
    all pass: one counter per client and window of the rate's length, and the window before it
    weighted by how much of it still overlaps the sliding window (the usual sliding-window
    counter). A refused request gives back what it took."""

    cache_format = "throttle:%(scope)s:%(ident)s"

    def __init__(self, scope: str | None = None, rate: str | None = None) -> None:
        # The scope, and with it the rate, is known once the view is (in `allow_request`).
        self.scope = scope
        self.fixed_rate = rate

    @property
    def cache(self):
        return caches["throttle"]

    def get_rate(self) -> str | None:
        if self.fixed_rate is not None:
            return self.fixed_rate
        try:
            return settings.THROTTLE_RATES[self.scope]
        except KeyError:
            raise ImproperlyConfigured(f"No throttle rate for the scope {self.scope!r}.") from None

    def view_scope(self, view) -> str:
        action_scope = getattr(view, "throttle_scopes", {}).get(getattr(view, "action", None))
        return action_scope or getattr(view, "throttle_scope", None) or DEFAULT_SCOPE

    def get_cache_key(self, request, view) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": client_ident(self, request)}

    def allow_request(self, request, view, cost: int = 1) -> bool:
        if self.scope is None:
            self.scope = self.view_scope(view)
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.cost = cost
        self.now = self.timer()
        count = sliding_window_add(
            self.cache, self.key, amount=cost, duration=self.duration, now=self.now
        )
        self.window_left, self.weighted = count.window_left, count.weighted
        if self.weighted > self.num_requests:
            # A refused request takes nothing: what it would have used is free again.
            with contextlib.suppress(ValueError):
                self.cache.decr(count.key, cost)
            return self.throttle_failure()
        return True

    def wait(self) -> float:
        """Seconds until this window ends (and with it most of what counts against the client)."""
        if self.cost > self.num_requests:
            return self.duration
        return max(1.0, self.window_left)


class CodeAttemptThrottle(ClientRateThrottle):
    """Requests that submit promotion codes, per client, on top of the view's own limit."""

    def __init__(self) -> None:
        super().__init__(scope=CODES_SCOPE)

    def allow_request(self, request, view, cost: int = 1) -> bool:
        data = request.data
        if not (isinstance(data, dict) and data.get("codes")):
            return True
        return super().allow_request(request, view, cost)


def throttle_take(request, *, scope: str, cost: int, message: str, rate: str | None = None) -> None:
    """Charge the request's client `cost` units of `scope` (at `rate`, else the scope's rate
    in `THROTTLE_RATES`); raise `Throttled` if over it. `message` may use `{limit}` and
    `{wait}`."""
    throttle = ClientRateThrottle(scope=scope, rate=rate)
    if not throttle.allow_request(request, None, cost=cost):
        wait = throttle.wait()
        raise Throttled(
            wait=wait, detail=message.format(limit=throttle.num_requests, wait=math.ceil(wait))
        )
