"""Rate limits per scope and per client (device, user, IP): a 429 in the error format with
Retry-After, kept in Redis and in process memory while Redis is down."""

import time

import pytest
from django.core.cache import caches
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from core.tests.api_world import assert_error, device_client, token_client
from core.tests.redis_server import resilient_caches
from orders.models import Order
from promotions.models import PosLog

pytestmark = pytest.mark.django_db

QUOTE = "/api/v1/pricing/quote/"
ORDERS = "/api/v1/orders/"
LOGS = "/api/v1/sync/upload_logs/"
LOG_LINE = {"level": "info", "time": "2026-03-06T12:30:05+01:00", "message": "till opened"}


def basket(tenant) -> dict:
    return {"brand": tenant.brand.slug, "lines": [{"product": tenant.product.pk, "quantity": 1}]}


def wrong_password(client: APIClient):
    return client.post(
        "/api/v1/auth/token/", {"username": "nobody@example.com", "password": "x"}, format="json"
    )


# Each scope: who calls, and one request of that scope.
SCOPES = {
    "auth": ("anonymous", wrong_password),
    "quote": ("customer", lambda c, t: c.post(QUOTE, basket(t), format="json")),
    "order": ("customer", lambda c, t: c.post(ORDERS, basket(t), format="json")),
    "codes": (
        "customer",
        lambda c, t: c.post(QUOTE, {**basket(t), "codes": ["SPRING"]}, format="json"),
    ),
    "pos_sync": ("device", lambda c, t: c.get("/api/v1/sync/version/")),
    "pos_upload": ("device", lambda c, t: c.post(LOGS, {"lines": [LOG_LINE]}, format="json")),
    "default": ("staff", lambda c, t: c.get("/api/v1/customers/")),
}


def caller(kind: str, tenant) -> APIClient:
    if kind == "customer":
        return token_client(tenant.customer.user)
    if kind == "staff":
        return token_client(tenant.staff)
    if kind == "device":
        return device_client(tenant.device_key)
    return APIClient()


def send(scope: str, tenant, client: APIClient | None = None):
    kind, request = SCOPES[scope]
    client = client or caller(kind, tenant)
    return request(client) if kind == "anonymous" else request(client, tenant)


@pytest.mark.parametrize("scope", list(SCOPES))
def test_each_scope_answers_429_with_retry_after_past_its_rate(settings, a, scope):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, scope: "2/minute"}
    kind, _ = SCOPES[scope]
    client = caller(kind, a)
    orders_before = Order.objects.count()

    answers = [send(scope, a, client) for _ in range(3)]

    assert [r.status_code < 429 for r in answers] == [True, True, False]
    body = assert_error(answers[2], 429, "throttled")
    assert 1 <= int(answers[2]["Retry-After"]) <= 60
    assert body["message"].startswith("Request was throttled. Expected available in ")
    if scope == "order":
        assert Order.objects.count() == orders_before + 2  # the refused order is not placed


def test_code_attempts_are_counted_only_when_codes_are_sent(settings, a):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "codes": "1/minute"}
    client = token_client(a.customer.user)

    with_code = [send("codes", a, client) for _ in range(2)]
    without = client.post(QUOTE, basket(a), format="json")

    assert [r.status_code for r in with_code] == [200, 429]
    assert without.status_code == 200


def test_limits_are_kept_per_device_per_user_and_per_ip(settings, a, b):
    settings.THROTTLE_RATES = {
        **settings.THROTTLE_RATES,
        "pos_sync": "1/minute",
        "quote": "1/minute",
        "auth": "1/minute",
    }
    # Devices: one till's limit leaves the other's untouched
    assert send("pos_sync", a).status_code == 200
    assert send("pos_sync", a).status_code == 429
    assert send("pos_sync", b).status_code == 200
    # Users: a customer's limit is not the staff user's
    assert send("quote", a).status_code == 200
    assert send("quote", a).status_code == 429
    assert token_client(a.staff).post(QUOTE, basket(a), format="json").status_code == 200
    # IP addresses: another address has its own limit; a forged X-Forwarded-For does not
    here, there = APIClient(REMOTE_ADDR="10.0.0.1"), APIClient(REMOTE_ADDR="10.0.0.2")
    assert wrong_password(here).status_code == 400
    here.credentials(HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert wrong_password(here).status_code == 429
    assert wrong_password(there).status_code == 400


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(settings, a):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "auth": "1/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = APIClient(REMOTE_ADDR="10.0.0.1")

    proxy.credentials(HTTP_X_FORWARDED_FOR="203.0.113.9")
    first = [wrong_password(proxy).status_code for _ in range(2)]
    proxy.credentials(HTTP_X_FORWARDED_FOR="203.0.113.10")
    other = wrong_password(proxy).status_code

    assert first == [400, 429]
    assert other == 400


def test_log_lines_and_log_requests_are_counted_on_the_same_throttle_cache(settings, a):
    settings.POS_LOG_LINES_PER_MINUTE = 5
    client = device_client(a.device_key)

    first = client.post(LOGS, {"lines": [LOG_LINE] * 4}, format="json")
    over = client.post(LOGS, {"lines": [LOG_LINE] * 2}, format="json")
    fits = client.post(LOGS, {"lines": [LOG_LINE]}, format="json")

    assert (first.status_code, fits.status_code) == (200, 200)
    body = assert_error(over, 429, "throttled")
    assert body["message"].startswith("At most 5 log lines per minute per device; retry in ")
    assert 1 <= int(over["Retry-After"]) <= 60
    assert PosLog.objects.count() == 5
    keys, window = caches["throttle"], int(time.time() // 60)
    counters = [
        keys.get(f"throttle:pos_log_lines:device:{a.device.pk}:{w}") for w in (window, window - 1)
    ]
    assert 5 in counters  # the lines taken this minute, the refused ones given back


def test_with_redis_down_limits_hold_from_process_memory(settings, redis_server, a):
    settings.CACHES = resilient_caches(redis_server.url, prefix="throttled", cooldown=60)
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "pos_sync": "2/minute"}
    settings.POS_LOG_LINES_PER_MINUTE = 3
    till = device_client(a.device_key)
    assert till.get("/api/v1/sync/version/").status_code == 200
    assert redis_server.keys("throttled-throttle")  # counted in Redis while it is up

    redis_server.kill()
    answers = [till.get("/api/v1/sync/version/").status_code for _ in range(3)]
    logs = [till.post(LOGS, {"lines": [LOG_LINE] * 2}, format="json") for _ in range(2)]

    # The local count starts afresh when Redis goes, then holds the limit again
    assert answers == [200, 200, 429]
    assert [r.status_code for r in logs] == [200, 429]
    assert PosLog.objects.count() == 2


def test_the_schema_documents_429_on_throttled_operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    for path, method in (
        ("/api/v1/pricing/quote/", "post"),
        ("/api/v1/orders/", "post"),
        ("/api/v1/auth/token/", "post"),
        ("/api/v1/sync/version/", "get"),
        ("/api/v1/sync/upload_logs/", "post"),
        ("/api/v1/customers/", "get"),
    ):
        response = schema["paths"][path][method]["responses"]["429"]
        assert response["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }


def test_concurrent_requests_cannot_all_pass_on_the_same_count():
    # Given a limit of 20 a minute for one client, counted in Redis
    from concurrent.futures import ThreadPoolExecutor

    from django.test import RequestFactory
    from rest_framework.request import Request

    from core.api.throttling import ClientRateThrottle

    request = Request(RequestFactory().get("/", REMOTE_ADDR="203.0.113.7"), authenticators=[])

    def attempt(_) -> bool:
        return ClientRateThrottle(scope="codes", rate="20/minute").allow_request(request, None)

    # When 100 requests arrive at once
    with ThreadPoolExecutor(max_workers=16) as pool:
        allowed = sum(pool.map(attempt, range(100)))

    # Then exactly 20 pass (a read-then-write history let most of them through)
    assert allowed == 20
