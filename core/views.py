"""Health check and the JSON error pages of the API."""

import logging
import time

from django.conf import settings
from django.core.cache import cache, caches
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.defaults import bad_request, page_not_found, server_error

from core.api.errors import error_body, json_not_found, json_server_error
from core.cache import ResilientRedisCache

logger = logging.getLogger(__name__)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    backend = caches["default"]
    if isinstance(backend, ResilientRedisCache):
        backend.ping()  # raises CacheUnavailable; skips the network while the breaker is open
        return
    key = "healthz:probe"
    cache.set(key, "ok", 10)
    if cache.get(key) != "ok":
        raise RuntimeError("cache did not return the value it was given")


def _check_broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager"
    from config.celery_app import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=0, timeout=2)  # one attempt: a check, not a wait
    return "ok"


def _check_outbox() -> dict:
    """What is owed after commits and not done yet; late when the oldest has waited longer
    than a sweep and a resend would take (the broker or the workers are not keeping up)."""
    from core.outbox import outbox_backlog

    backlog = outbox_backlog()
    if backlog["oldest_seconds"] > settings.OUTBOX_LATE_AFTER_SECONDS:
        raise RuntimeError(
            f"{backlog['pending']} effects owed, the oldest for {backlog['oldest_seconds']} s"
        )
    return {"status": "ok", **backlog}


# Without the database the app cannot answer. Without the cache it answers from the database,
# and without the broker tasks wait for it (`degraded`, still 200: keep the app in rotation).
REQUIRED = {"database"}


@never_cache
def healthz(request) -> JsonResponse:
    """200 `ok` when the database, the cache and the broker answer and the outbox keeps up;
    200 `degraded` when the cache or the broker is down or the outbox is late; 503 `error`
    when the database is down."""
    checks: dict[str, dict] = {}
    failed: set[str] = set()
    for name, check in (
        ("database", _check_database),
        ("cache", _check_cache),
        ("broker", _check_broker),
        ("outbox", _check_outbox),
    ):
        started = time.perf_counter()
        try:
            detail = check() or "ok"
            checks[name] = detail if isinstance(detail, dict) else {"status": detail}
        except Exception as exc:  # a health check reports failures, it does not raise them
            failed.add(name)
            status = "error" if name in REQUIRED else "down"
            # The page is public: the kind of failure only (hosts, users and ports go to the log).
            logger.warning("Health check %s failed: %s: %s", name, type(exc).__name__, exc)
            checks[name] = {"status": status, "error": type(exc).__name__}
        checks[name]["ms"] = round((time.perf_counter() - started) * 1000, 2)
    if failed & REQUIRED:
        overall, code = "error", 503
    else:
        overall, code = ("degraded" if failed else "ok"), 200
    return JsonResponse({"status": overall, "checks": checks}, status=code)


def handler_bad_request(request, exception=None):
    """Requests Django refuses before any view (a bad Host header, too many fields)."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("bad_request", "Bad request."), status=400)
    return bad_request(request, exception)


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    return page_not_found(request, exception)


def handler_server_error(request):
    if request.path.startswith("/api/"):
        return json_server_error(request)
    return server_error(request)
