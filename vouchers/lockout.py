"""Guessing lockout: who keeps entering codes that cannot be used is refused codes for a while.

A code entered in a quote, an order or on the basket page that pricing reports not usable (the
one reason `orders.services.pricing.CODE_NOT_USABLE`, for voucher and reward codes alike) is a
failure of each party of the request: the customer (if any), the client's IP address, and the
POS device (if any). `VOUCHER_FAILURE_LIMIT` failures of a party within
`VOUCHER_LOCKOUT_SECONDS` lock that party out for `VOUCHER_LOCKOUT_SECONDS`: a request that
enters a code while any of its parties is locked is refused (429 `code_attempts_locked` with
Retry-After on the API, the same sentence on the basket page) before any code is looked up.
Requests without codes are never refused.

- A code counts once per party within the window: a basket priced again with the same mistyped
  code (each page view, each quote of a till while items are scanned) is one failure, while each
  new guess is another.
- Failures are counted over a sliding window with atomic increments, by the rate limits' own
  counter (`core.api.throttling.sliding_window_add`).
  Checking a lock and counting are separate calls, so a burst of concurrent requests can make a
  few guesses more than the limit before the lock is seen; the code space makes that harmless.
- Kept in the `throttle` cache: Redis, or this process's memory while Redis is unreachable
  (`core.cache`). Any other cache failure is logged and lets the request through (the lockout
  is a second line behind the code space and the `codes` rate limit), never a 500.
"""

import hashlib
import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence

from django.conf import settings
from django.core.cache import caches
from django.http import JsonResponse

from accounts.lockout import client_ip
from core.api.errors import error_body
from core.api.permissions import is_device_request
from core.api.throttling import sliding_window_add
from orders.services.pricing import CODE_NOT_USABLE

logger = logging.getLogger(__name__)

LOCKED_CODE = "code_attempts_locked"
LOCKED_MESSAGE = "Too many codes entered could not be used. Try again in {when}."

_LOCK = "vouchers:code-lock:{party}"
_FAILURES = "vouchers:code-failures:{party}"  # + ":<window>" (`sliding_window_add`)
_SEEN = "vouchers:code-seen:{party}:{digest}"


def _cache():
    return caches["throttle"]


def _limit() -> int:
    return int(getattr(settings, "VOUCHER_FAILURE_LIMIT", 10))


def _duration() -> int:
    return max(1, int(getattr(settings, "VOUCHER_LOCKOUT_SECONDS", 900)))


def code_parties(request, *, customer=None) -> tuple[str, ...]:
    """The parties a request's codes count against: its customer, its client's IP address and
    its POS device, as cache key parts."""
    parties = []
    if customer is not None and customer.pk is not None:
        parties.append(f"customer:{customer.pk}")
    ip = client_ip(request)
    if ip:
        parties.append(f"ip:{ip}")
    if is_device_request(request):
        parties.append(f"device:{request.auth.pk}")
    return tuple(parties)


def _entered(codes: Iterable[str] | None) -> bool:
    return any(isinstance(code, str) and code.strip() for code in codes or ())


def code_lockout_seconds(*, parties: Sequence[str], codes: Iterable[str] | None) -> int:
    """Seconds until the request may enter codes again: 0 when it enters none, or when none of
    its parties is locked (or the cache cannot tell)."""
    if not parties or not _entered(codes):
        return 0
    try:
        ends = _cache().get_many([_LOCK.format(party=party) for party in parties])
    except Exception:
        logger.warning("Code lockout not checked: the throttle cache failed.", exc_info=True)
        return 0
    left = max((end for end in ends.values() if isinstance(end, int | float)), default=0)
    left -= time.time()
    return math.ceil(left) if left > 0 else 0


def not_usable_codes(results: Iterable[Mapping]) -> list[str]:
    """The codes that pricing reported not usable, from voucher and reward results (the
    `PricedBasket` lists, their wire form, or what an order stored)."""
    return sorted(
        {
            result["code"]
            for result in results
            if result.get("reason") == CODE_NOT_USABLE and result.get("code")
        }
    )


def code_failures_record(*, parties: Sequence[str], results: Iterable[Mapping]) -> int:
    """Count each code reported not usable against each party; lock out a party that reaches
    the limit. Returns the lock's length in seconds when this call locked a party, else 0."""
    codes = not_usable_codes(results)
    if not parties or not codes:
        return 0
    try:
        return _record(parties, codes)
    except Exception:
        logger.warning("Code failures not counted: the throttle cache failed.", exc_info=True)
        return 0


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()[:20]


def _record(parties: Sequence[str], codes: list[str]) -> int:
    cache, limit, duration = _cache(), _limit(), _duration()
    now = time.time()
    locked = 0
    for party in parties:
        new = sum(
            1
            for code in codes
            if cache.add(_SEEN.format(party=party, digest=_digest(code)), 1, duration)
        )
        if not new:
            continue
        count = sliding_window_add(
            cache, _FAILURES.format(party=party), amount=new, duration=duration, now=now
        )
        if count.weighted >= limit:
            cache.set(_LOCK.format(party=party), now + duration, duration)
            # After the lock the party starts afresh rather than one failure from another.
            cache.delete_many([count.key, count.previous_key])
            locked = duration
            logger.warning("Code entry locked for %s after %s failed codes.", party, limit)
    return locked


def code_lockout_message(seconds: int) -> str:
    """The sentence telling when codes may be entered again."""
    if seconds >= 60:
        minutes = math.ceil(seconds / 60)
        when = f"{minutes} minute{'s' if minutes != 1 else ''}"
    else:
        seconds = max(1, seconds)
        when = f"{seconds} second{'s' if seconds != 1 else ''}"
    return LOCKED_MESSAGE.format(when=when)


def code_lockout_response(seconds: int) -> JsonResponse:
    """The API's answer to a request entering codes while locked: 429 in the one error format,
    with Retry-After."""
    response = JsonResponse(error_body(LOCKED_CODE, code_lockout_message(seconds)), status=429)
    response["Retry-After"] = str(max(1, seconds))
    return response
