"""Guessing lockout: ten codes that cannot be used lock the customer, the IP address and the
till out of codes for a while (429 in the one error format); requests without codes pass."""

from datetime import timedelta

import pytest
from django.core.cache import caches
from django.http import HttpRequest
from django.test import Client
from django.utils import timezone

from core.tests.api_world import assert_error, device_client, token_client
from core.tests.redis_server import resilient_caches
from customers.services import customer_create
from orders.models import Order
from orders.services.pricing import CODE_NOT_USABLE
from orders.tests.factories import place_order
from vouchers import lockout
from vouchers.tests.factories import batch, voucher_promotion

pytestmark = pytest.mark.django_db

QUOTE = "/api/v1/pricing/quote/"
ORDERS = "/api/v1/orders/"
BASKET = "/basket/"
LIMIT = 10
LOCKED_SENTENCE = "Too many codes entered could not be used. Try again in 15 minutes."


@pytest.fixture(autouse=True)
def _lockout_settings(settings):
    settings.VOUCHER_FAILURE_LIMIT = LIMIT
    settings.VOUCHER_LOCKOUT_SECONDS = 900


def body(tenant, codes=()) -> dict:
    return {
        "brand": tenant.brand.slug,
        "lines": [{"product": tenant.product.pk, "quantity": 1}],
        "codes": list(codes),
    }


def quote(client, tenant, codes=(), ip="10.0.0.1"):
    return client.post(QUOTE, body(tenant, codes), format="json", REMOTE_ADDR=ip)


def guesses(count: int, start: int = 0) -> list[str]:
    return [f"GUESS{i:04d}" for i in range(start, start + count)]


def lock_out(client, tenant, ip="10.0.0.1", failures=LIMIT) -> None:
    for code in guesses(failures):
        response = quote(client, tenant, [code], ip=ip)
        assert response.status_code == 200, response.content
        assert response.json()["vouchers"][0]["reason"] == CODE_NOT_USABLE


def test_ten_bad_codes_lock_the_customer_and_the_ip_out_even_for_a_valid_code(a):
    good = batch(voucher_promotion(a), quantity=1).codes.get().code
    customer = token_client(a.customer.user)
    lock_out(customer, a)

    refused = quote(customer, a, [good])

    body_ = assert_error(refused, 429, "code_attempts_locked")
    assert body_ == {"code": "code_attempts_locked", "message": LOCKED_SENTENCE, "fields": {}}
    assert 890 <= int(refused["Retry-After"]) <= 900
    # The customer is locked from another address too, and the address for another customer
    assert quote(customer, a, [good], ip="10.9.9.9").status_code == 429
    other = customer_create(brand=a.brand, email="other@example.com", password="pass-word-123")
    assert quote(token_client(other.user), a, [good]).status_code == 429
    # Another customer at another address is not locked, and the code works for them
    free = quote(token_client(other.user), a, [good], ip="10.0.0.2")
    assert free.status_code == 200
    assert free.json()["vouchers"][0]["applied"] is True


def test_the_tenth_failure_locks_and_not_the_ninth(a):
    customer = token_client(a.customer.user)
    for code in guesses(LIMIT - 1):
        quote(customer, a, [code])

    assert quote(customer, a, ["GOODLOOKING"]).status_code == 200  # the tenth failure
    assert quote(customer, a, ["ANYTHING"]).status_code == 429


def test_the_lock_ends_after_its_time_and_the_party_starts_afresh(a, monkeypatch):
    customer = token_client(a.customer.user)
    lock_out(customer, a)
    assert quote(customer, a, ["ANY"]).status_code == 429
    started = lockout.time.time()

    class Later:
        @staticmethod
        def time():
            return started + 901

    monkeypatch.setattr(lockout, "time", Later)

    for code in guesses(LIMIT - 1, start=100):
        assert quote(customer, a, [code]).status_code == 200
    assert quote(customer, a, ["LASTGUESS"]).status_code == 200  # the tenth again
    assert quote(customer, a, ["ANY"]).status_code == 429


def test_requests_without_codes_are_never_refused(a):
    customer = token_client(a.customer.user)
    lock_out(customer, a)
    orders_before = Order.objects.count()

    assert quote(customer, a).status_code == 200
    placed = customer.post(ORDERS, body(a), format="json", REMOTE_ADDR="10.0.0.1")
    assert placed.status_code == 201
    refused = customer.post(ORDERS, body(a, ["SPRING"]), format="json", REMOTE_ADDR="10.0.0.1")
    assert_error(refused, 429, "code_attempts_locked")
    assert Order.objects.count() == orders_before + 1  # the refused order is not placed


def test_bad_codes_in_orders_count_too_and_a_replay_still_gets_its_order(a):
    customer = token_client(a.customer.user)
    for index, codes in enumerate((guesses(5), guesses(5, start=5))):
        response = customer.post(
            ORDERS,
            body(a, codes),
            format="json",
            REMOTE_ADDR="10.0.0.1",
            HTTP_IDEMPOTENCY_KEY=f"guess-{index}",
        )
        assert response.status_code == 201

    assert quote(customer, a, ["ANY"]).status_code == 429
    replay = customer.post(
        ORDERS,
        body(a, guesses(5, start=5)),
        format="json",
        REMOTE_ADDR="10.0.0.1",
        HTTP_IDEMPOTENCY_KEY="guess-1",
    )
    assert replay.status_code == 200  # the order placed before, not a refusal


def test_the_same_bad_code_priced_again_counts_once(a):
    customer = token_client(a.customer.user)
    for _ in range(3 * LIMIT):
        assert quote(customer, a, ["MISTYPED"]).status_code == 200

    assert quote(customer, a, ["MISTYPED", "OTHER"]).status_code == 200


def test_unknown_used_and_expired_codes_get_the_identical_answer(a):
    promotion = voucher_promotion(a)
    used = batch(promotion, quantity=1).codes.get().code
    place_order(brand=a.brand, products_and_quantities=[(a.product, 1)], codes=[used])
    expired = (
        batch(
            promotion,
            quantity=1,
            valid_from=timezone.now() - timedelta(days=9),
            valid_until=timezone.now() - timedelta(days=1),
        )
        .codes.get()
        .code
    )
    valid = batch(promotion, quantity=1).codes.get().code
    customer = token_client(a.customer.user)

    answers = []
    for code in ("NOSUCHCODE", used, expired):
        response = quote(customer, a, [code])
        entry = dict(response.json()["vouchers"][0])
        assert entry.pop("code") == code
        answers.append((response.status_code, entry))
    lock_out(customer, a, failures=LIMIT - len(answers))
    refusals = [quote(customer, a, [code]) for code in ("NOSUCHCODE2", used, expired, valid)]

    assert len(set(map(repr, answers))) == 1
    assert answers[0] == (
        200,
        {"code_id": None, "promotion_id": None, "applied": False, "reason": CODE_NOT_USABLE},
    )
    assert len({(r.status_code, r.content) for r in refusals}) == 1
    assert refusals[0].status_code == 429


def test_unusable_reward_codes_count_as_failures(a):
    customer = token_client(a.customer.user)
    for i in range(LIMIT):
        response = quote(customer, a, [f"RW222222222{'23456789AB'[i]}"])
        assert response.json()["rewards"][0]["reason"] == CODE_NOT_USABLE

    assert quote(customer, a, ["ANY"]).status_code == 429


def test_a_till_is_locked_from_any_address_and_another_till_is_not(a, b):
    till = device_client(a.device_key)
    lock_out(till, a, ip="10.0.0.7")

    assert_error(quote(till, a, ["ANY"], ip="10.0.0.8"), 429, "code_attempts_locked")
    assert quote(device_client(b.device_key), b, ["ANY"], ip="10.0.0.9").status_code == 200


def signed_in(customer) -> Client:
    client = Client(REMOTE_ADDR="10.0.0.1")
    assert client.login(
        request=HttpRequest(), username=customer.user.username, password="pass-word-123"
    )
    return client


def test_the_basket_page_shows_the_sentence_instead_of_pricing_the_codes(a):
    promotion = voucher_promotion(a)
    good = batch(promotion, quantity=1).codes.get().code
    client = signed_in(a.customer)
    client.post(f"{BASKET}add/", {"sku": a.product.sku, "quantity": 1})
    for code in guesses(LIMIT):
        client.post(f"{BASKET}codes/", {"code": code})
        assert client.get(BASKET).status_code == 200  # priced: the failure is counted
        client.post(f"{BASKET}codes/remove/", {"code": code})

    client.post(f"{BASKET}codes/", {"code": good})
    page = client.get(BASKET)

    assert page.status_code == 200
    content = page.content.decode()
    assert LOCKED_SENTENCE in content
    assert promotion.name not in content  # the code unlocked nothing
    placed = client.post(f"{BASKET}place/", {"idempotency_key": "basket-locked"})
    assert placed.status_code == 429
    assert LOCKED_SENTENCE in placed.content.decode()
    assert not Order.objects.filter(idempotency_key="basket-locked").exists()
    # The API says the same for this customer
    assert quote(token_client(a.customer.user), a, [good], ip="10.5.5.5").json()["message"] == (
        LOCKED_SENTENCE
    )


def test_a_broken_cache_lets_requests_through_instead_of_failing_them(a, monkeypatch):
    class Broken:
        def __getattr__(self, name):
            raise ConnectionError("cache down")

    monkeypatch.setattr(lockout, "_cache", Broken)
    parties = ("customer:1", "ip:10.0.0.1")

    assert (
        lockout.code_failures_record(
            parties=parties, results=[{"code": "X", "reason": CODE_NOT_USABLE}]
        )
        == 0
    )
    assert lockout.code_lockout_seconds(parties=parties, codes=["X"]) == 0


def test_with_redis_killed_quotes_answer_and_the_lockout_holds_in_process_memory(
    settings, redis_server, a
):
    settings.CACHES = resilient_caches(redis_server.url, prefix="lockout", cooldown=60)
    customer = token_client(a.customer.user)
    assert quote(customer, a, ["WARMUP"]).status_code == 200
    redis_server.kill()

    lock_out(customer, a, ip="10.0.0.3")

    assert quote(customer, a, ["ANY"], ip="10.0.0.3").status_code == 429
    assert quote(customer, a, ip="10.0.0.3").status_code == 200
    assert caches["throttle"]._breaker.failures == 1
