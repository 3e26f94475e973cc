"""The answer to a login attempt that met a lockout (django-axes' `AXES_LOCKOUT_CALLABLE`)."""

import ipaddress

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.throttling import BaseThrottle

from core.api.errors import error_body

LOCKED_OUT_MESSAGE = (
    "Too many failed sign-in attempts. Sign-in is paused for this account and address; "
    "try again in {minutes} minutes."
)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address by DRF's rule (`NUM_PROXIES`), the one its throttles use. A value
    that is not an address (a forged header) falls back to the peer's address."""
    ident = BaseThrottle().get_ident(request)
    try:
        return str(ipaddress.ip_address(ident))
    except ValueError:
        return request.META.get("REMOTE_ADDR")


def lockout_minutes(request: HttpRequest | None = None) -> int:
    cool_off = get_cool_off(request)
    return max(1, round(cool_off.total_seconds() / 60)) if cool_off else 1


def lockout_message(request: HttpRequest | None = None) -> str:
    return LOCKED_OUT_MESSAGE.format(minutes=lockout_minutes(request))


def retry_after_seconds(request: HttpRequest | None = None) -> int:
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds()) if cool_off else 60


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """The login views answer a lockout themselves (the API in the error format, the pages
    with the message on their form); this marks their answer 429 with `Retry-After`. Any other
    caller of `authenticate()` that met a lockout gets the message alone."""
    if original_response is not None and original_response.status_code in {200, 400, 429}:
        response = original_response
        response.status_code = 429
    elif request.path.startswith("/api/"):
        response = JsonResponse(error_body("locked_out", lockout_message(request)), status=429)
    else:
        response = HttpResponse(lockout_message(request), content_type="text/plain", status=429)
    response["Retry-After"] = str(retry_after_seconds(request))
    return response
