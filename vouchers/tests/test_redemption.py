"""Vouchers in the one pricing pipeline: a checked code unlocks its promotion; an order
reserves its use, payment makes it final, cancelling gives it back; exact under concurrency."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.tests.api_world import build_tenant, token_client
from orders.models import Order
from orders.services.payment import order_set_payment_status
from orders.services.placement import LineRequest, basket_price, order_place
from orders.services.pricing import CODE_NOT_USABLE, VOUCHER_CONDITIONS_NOT_MET
from vouchers.models import VoucherCode, VoucherRedemption
from vouchers.services import voucher_batch_void, voucher_code_void
from vouchers.tests.factories import batch, voucher_promotion

pytestmark = pytest.mark.django_db


def quote(tenant, codes, customer=None, quantity=1):
    return basket_price(
        brand=tenant.brand,
        lines=[LineRequest(product_id=tenant.product.pk, quantity=quantity)],
        customer=customer,
        codes=codes,
    )


def place(tenant, codes, key=None, customer=None):
    order, _ = order_place(
        brand=tenant.brand,
        lines=[LineRequest(product_id=tenant.product.pk, quantity=1)],
        customer=customer,
        codes=codes,
        idempotency_key=key,
    )
    return order


def test_a_voucher_promotion_applies_only_with_one_of_its_codes(a):
    promotion = voucher_promotion(a)
    made = batch(promotion, quantity=3)
    code = made.codes.first().code

    without = quote(a, [])
    with_code = quote(a, [code.lower()])

    assert without.discount_total == 0
    assert [r["reason"] for r in without.result["rejected"]] == ["code_required"]
    assert with_code.money(with_code.discount_total) == Decimal("1.25")
    assert with_code.voucher_results == [
        {
            "code": code,
            "code_id": made.codes.first().pk,
            "promotion_id": promotion.pk,
            "applied": True,
            "reason": "",
        }
    ]


def test_unknown_used_voided_and_expired_codes_get_one_answer(a):
    promotion = voucher_promotion(a)
    made = batch(promotion, quantity=4)
    used, voided, spare, _ = made.codes.order_by("pk")
    place(a, [used.code])
    voucher_code_void(code_id=voided.pk)
    expired_batch = batch(
        promotion,
        valid_until=timezone.now() - timedelta(days=1),
        valid_from=timezone.now() - timedelta(days=9),
        quantity=1,
    )
    codes = [used.code, voided.code, expired_batch.codes.get().code, "NOSUCHCODE2"]

    answers = quote(a, codes).voucher_results

    assert [(r["applied"], r["reason"], r["code_id"]) for r in answers] == [
        (False, CODE_NOT_USABLE, None)
    ] * 4
    assert quote(a, [spare.code]).voucher_results[0]["applied"]


def test_a_code_bound_to_a_customer_is_only_theirs(a):
    promotion = voucher_promotion(a)
    code = batch(promotion, quantity=1, customer=a.customer).codes.get().code
    other = build_tenant("z").customer

    assert quote(a, [code], customer=a.customer).voucher_results[0]["applied"]
    assert quote(a, [code], customer=other).voucher_results[0]["reason"] == CODE_NOT_USABLE
    assert quote(a, [code]).voucher_results[0]["reason"] == CODE_NOT_USABLE


def test_a_code_whose_promotion_conditions_fail_says_so(a):
    promotion = voucher_promotion(a, min_eligible_subtotal=Decimal("100.00"))
    code = batch(promotion, quantity=1).codes.get().code

    answer = quote(a, [code]).voucher_results[0]

    assert (answer["applied"], answer["reason"]) == (False, VOUCHER_CONDITIONS_NOT_MET)


def test_an_order_reserves_payment_redeems_and_cancelling_releases(a):
    promotion = voucher_promotion(a)
    code = batch(promotion, quantity=1).codes.get()

    order = place(a, [code.code], customer=a.customer)
    code.refresh_from_db()
    assert (code.status, code.uses, code.redeemed) == ("reserved", 1, 0)
    assert order.vouchers[0]["applied"] and order.discount_total == Decimal("1.25")
    assert quote(a, [code.code]).voucher_results[0]["reason"] == CODE_NOT_USABLE
    redemption = VoucherRedemption.objects.get(code=code)
    assert (redemption.order_id, redemption.customer_id, redemption.status) == (
        order.pk,
        a.customer.pk,
        "reserved",
    )

    order_set_payment_status(order_id=order.pk, to_status="paid")
    order_set_payment_status(order_id=order.pk, to_status="cancelled")
    code.refresh_from_db()
    redemption.refresh_from_db()
    assert (code.status, code.uses, code.redeemed) == ("available", 0, 0)
    assert redemption.status == "released" and redemption.redeemed_at is not None


def test_paying_makes_the_use_final(a):
    promotion = voucher_promotion(a)
    code = batch(promotion, quantity=1).codes.get()
    order = place(a, [code.code])

    order_set_payment_status(order_id=order.pk, to_status="paid")

    code.refresh_from_db()
    assert (code.status, code.uses, code.redeemed) == ("redeemed", 1, 1)
    assert VoucherRedemption.objects.get(code=code).status == "redeemed"


def test_a_code_of_three_uses_serves_three_orders(a):
    promotion = voucher_promotion(a)
    code = batch(promotion, quantity=1, uses_per_code=3).codes.get()

    orders = [place(a, [code.code]) for _ in range(4)]

    assert [o.discount_total > 0 for o in orders] == [True, True, True, False]
    code.refresh_from_db()
    assert (code.status, code.uses) == ("reserved", 3)
    for order in orders[:3]:
        order_set_payment_status(order_id=order.pk, to_status="paid")
    code.refresh_from_db()
    assert (code.status, code.redeemed) == ("redeemed", 3)


def test_a_voided_batch_refuses_its_codes_at_once(a, django_capture_on_commit_callbacks):
    promotion = voucher_promotion(a)
    made = batch(promotion, quantity=3)
    code = made.codes.first().code

    with django_capture_on_commit_callbacks(execute=True):
        voucher_batch_void(batch_id=made.pk)

    assert quote(a, [code]).voucher_results[0]["reason"] == CODE_NOT_USABLE
    # and the promotion stays a voucher promotion: without a code it gives nothing
    assert quote(a, []).discount_total == 0
    assert set(made.codes.values_list("status", flat=True)) == {"voided"}


def test_only_one_code_of_a_promotion_counts(a):
    promotion = voucher_promotion(a)
    first, second = batch(promotion, quantity=2).codes.order_by("pk")

    order = place(a, [second.code, first.code])

    applied = {v["code"]: v["applied"] for v in order.vouchers}
    assert applied == {first.code: True, second.code: False}
    assert VoucherCode.objects.get(pk=first.pk).uses == 1
    assert VoucherCode.objects.get(pk=second.pk).uses == 0


THREADS = 50


@pytest.mark.django_db(transaction=True)
def test_one_single_use_code_in_fifty_concurrent_orders_discounts_exactly_one():
    # Given a single-use code
    a = build_tenant("a")
    code = batch(voucher_promotion(a), quantity=1).codes.get()
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def order_with_code(index):
        try:
            barrier.wait(timeout=30)
            place(a, [code.code], key=f"voucher-{index}")
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    # When fifty orders use it at the same moment
    threads = [threading.Thread(target=order_with_code, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)

    # Then every order is placed and exactly one is discounted, holding the code
    assert not errors
    placed = Order.objects.filter(brand=a.brand, idempotency_key__startswith="voucher-")
    assert placed.count() == THREADS
    winner = placed.get(discount_total__gt=0)
    code.refresh_from_db()
    assert (code.status, code.uses) == ("reserved", 1)
    assert list(VoucherRedemption.objects.values_list("order_id", flat=True)) == [winner.pk]


def _count(run) -> int:
    with CaptureQueriesContext(connection) as queries:
        run()
    return len(queries)


def test_a_voucher_code_costs_one_query_in_a_quote_and_three_in_an_order(a, b):
    # Given a voucher promotion at brand A, the same promotion without vouchers at brand B
    promotion = voucher_promotion(a)
    voucher_promotion(b)
    first, second, third = batch(promotion, quantity=3).codes.order_by("pk")
    client = token_client(a.customer.user)
    body = {"brand": a.brand.slug, "lines": [{"product": a.product.pk, "quantity": 1}]}

    def quote_with(codes):
        def run():
            response = client.post(
                "/api/v1/pricing/quote/", {**body, "codes": codes}, format="json"
            )
            assert response.status_code == 200, response.content

        return run

    quote_with([])()  # warms the bundle cache

    # Then a quote with a voucher code reads one query more than one without
    assert _count(quote_with([first.code])) == _count(quote_with([])) + 1
    # and an unknown code of a brand with vouchers costs the same one query
    assert _count(quote_with(["NOSUCHCODE2"])) == _count(quote_with([])) + 1

    # And an order applying it with a code costs three queries more than an order applying the
    # same promotion without one: the look-up, the conditional update, the redemption row
    place(a, [third.code], customer=a.customer)
    place(b, [], customer=b.customer)
    with_code = _count(lambda: place(a, [second.code], customer=a.customer))
    without = _count(lambda: place(b, [], customer=b.customer))
    assert with_code == without + 3


def test_codes_cost_nothing_at_a_brand_without_voucher_promotions(a):
    client = token_client(a.customer.user)
    body = {"brand": a.brand.slug, "lines": [{"product": a.product.pk, "quantity": 1}]}

    def run(codes):
        return lambda: client.post(
            "/api/v1/pricing/quote/", {**body, "codes": codes}, format="json"
        )

    run([])()
    assert _count(run(["SOMECODE23"])) == _count(run([]))


def test_the_quote_and_the_order_api_report_each_voucher_code(a):
    code = batch(voucher_promotion(a), quantity=1).codes.get()
    client = token_client(a.customer.user)
    body = {
        "brand": a.brand.slug,
        "lines": [{"product": a.product.pk, "quantity": 1}],
        "codes": [code.code.lower(), "NOSUCHCODE2"],
    }

    quoted = client.post("/api/v1/pricing/quote/", body, format="json")
    ordered = client.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="v-1")

    expected = [
        {
            "code": code.code,
            "code_id": code.pk,
            "promotion_id": code.batch.promotion_id,
            "applied": True,
            "reason": "",
        },
        {
            "code": "NOSUCHCODE2",
            "code_id": None,
            "promotion_id": None,
            "applied": False,
            "reason": CODE_NOT_USABLE,
        },
    ]
    assert quoted.status_code == 200 and ordered.status_code == 201, ordered.content
    assert sorted(quoted.json()["vouchers"], key=str) == sorted(expected, key=str)
    assert sorted(ordered.json()["vouchers"], key=str) == sorted(expected, key=str)
    assert ordered.json()["discount_total"] == "1.25"


def test_the_basket_page_shows_whether_each_voucher_code_applied(a, client):
    code = batch(voucher_promotion(a, name="Spring voucher"), quantity=1).codes.get()
    client.post("/basket/add/", {"sku": a.product.sku, "quantity": 1})

    client.post("/basket/codes/", {"code": code.code.lower()})
    client.post("/basket/codes/", {"code": "NOSUCHCODE2"})
    html = client.get("/basket/").content.decode()

    assert "Applied: Spring voucher" in html
    assert f"Not applied: {CODE_NOT_USABLE}" in html
