"""Reward codes in the one pricing pipeline: priced last, reported on the wire, consumed once."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from core.tests.api_world import build_tenant, token_client
from orders.models import Order
from orders.services.payment import order_set_payment_status
from orders.services.placement import LineRequest, basket_price, order_place
from orders.services.pricing import (
    CODE_NOT_USABLE,
    REWARD_PRODUCT_MISSING,
    BasketLine,
    PricingContext,
    RewardOffer,
    price_basket,
)
from rewards.models import CustomerReward
from rewards.services import RewardSpec, reward_issue

pytestmark = pytest.mark.django_db

AT = timezone.now()


def issue(tenant, kind="discount_amount", customer=None, key=None, **spec) -> CustomerReward:
    spec.setdefault("name", "Five off")
    if kind == "discount_amount":
        spec.setdefault("amount", Decimal("5.00"))
    reward, _ = reward_issue(
        customer=customer or tenant.customer,
        brand=tenant.brand,
        spec=RewardSpec(kind=kind, **spec),
        idempotency_key=key or f"test:{kind}:{CustomerReward.objects.count()}",
        source=CustomerReward.Source.STAFF,
    )
    return reward


def line(product_id, unit_price, quantity=1) -> BasketLine:
    return BasketLine(
        product_id=product_id,
        sku=f"SKU{product_id}",
        name=f"P{product_id}",
        category_id=None,
        quantity=quantity,
        unit_price=unit_price,
    )


def priced(lines, *offers, codes=None, customer_id=1):
    codes = tuple(codes if codes is not None else (offer.code for offer in offers))
    context = PricingContext(
        brand_id=1,
        currency="EUR",
        channel="web",
        at=AT,
        customer_id=customer_id,
        codes=codes,
        rewards=offers,
        reward_codes=codes,
    )
    return price_basket(lines=lines, context=context)


def offer(reward_id=1, kind="discount_amount", **fields) -> RewardOffer:
    return RewardOffer(
        reward_id=reward_id, code=f"RW{reward_id:010d}", name="R", kind=kind, **fields
    )


# --- the stage, pure -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "reward", "discount", "parts"),
    [
        # an amount capped at what remains
        ([line(1, 300)], offer(amount=500), 300, [300]),
        # 1 cent over 3 equal lines: the earlier line takes the leftover
        ([line(1, 100), line(2, 100), line(3, 100)], offer(amount=1), 1, [1, 0, 0]),
        # 33.33% of 10.00 rounds half up once: 333.3 -> 333
        (
            [line(1, 700), line(2, 300)],
            offer(kind="discount_percentage", basis_points=3333),
            333,
            [233, 100],
        ),
        # 100% off takes everything, never below zero
        ([line(1, 999, 2)], offer(kind="discount_percentage", basis_points=10000), 1998, [1998]),
        # 12.5% of 0.99 = 12.375 -> 12
        ([line(1, 99)], offer(kind="discount_percentage", basis_points=1250), 12, [12]),
        # one unit of the product free, on its line only
        ([line(1, 500), line(2, 250, 3)], offer(kind="free_product", product_id=2), 250, [0, 250]),
    ],
)
def test_a_reward_code_discounts_and_allocates_by_the_engine_rules(lines, reward, discount, parts):
    basket = priced(lines, reward)

    assert basket.reward_discount_total == discount
    assert basket.total == basket.subtotal - discount >= 0
    assert [
        sum(a["amount"] for a in p.allocations if a.get("reward_id") == reward.reward_id)
        for p in basket.lines
    ] == parts
    assert basket.promotion_discount_total == 0
    assert basket.as_dict()["rewards"][0]["applied"] is True


def test_codes_apply_in_the_order_issued_each_to_what_remains():
    # 10.00 of goods; reward 1 takes 4.00, reward 2 (50%) half of the 6.00 left
    basket = priced(
        [line(1, 1000)],
        offer(reward_id=2, kind="discount_percentage", basis_points=5000),
        offer(reward_id=1, amount=400),
        # the minimum is checked against what remained before the stage (10.00)
        offer(reward_id=3, amount=100, minimum_order=1000),
    )

    amounts = {r["reward_id"]: r["amount"] for r in basket.reward_results}
    assert amounts == {1: 400, 2: 300, 3: 100}
    assert basket.total == 200


def test_a_free_product_is_capped_at_what_remains_of_its_line():
    basket = priced(
        [line(1, 500, 1), line(2, 100)], offer(amount=450), offer(2, "free_product", product_id=1)
    )

    # 4.50 split 5:1 leaves the product's line 1.25; the free unit takes only that
    assert basket.lines[0].total == 0
    assert basket.reward_results[1]["amount"] == 125


def test_a_code_not_applicable_is_reported_with_its_reason():
    basket = priced(
        [line(1, 1000)],
        offer(reward_id=1, amount=100, minimum_order=2000),
        offer(reward_id=2, kind="free_product", product_id=9),
        codes=("RW0000000001", "RW0000000002", "RWUNKNOWN222"),
    )

    wire = basket.as_dict()
    assert [(r["applied"], r["amount"]) for r in wire["rewards"]] == [(False, None)] * 3
    reasons = [r["reason"] for r in wire["rewards"]]
    assert reasons == [
        "The order must come to at least 20.00 EUR for this code.",
        REWARD_PRODUCT_MISSING,
        CODE_NOT_USABLE,
    ]
    assert wire["rewards"][2]["reward_id"] is None
    assert (wire["total"], wire["reward_discount_total"]) == ("10.00", "0.00")


# --- through the quote API and order placement -----------------------------------------------


def quote(client, tenant, codes, quantity=1):
    return client.post(
        "/api/v1/pricing/quote/",
        {
            "brand": tenant.brand.slug,
            "lines": [{"product": tenant.product.pk, "quantity": quantity}],
            "codes": codes,
        },
        format="json",
    )


def test_a_quote_shows_the_customers_code_and_hides_anothers(a):
    mine = issue(a)
    other = build_tenant("c").customer
    theirs = issue(a, customer=other)
    used = issue(a)
    used.status = CustomerReward.Status.USED
    used.save()
    expired = issue(a)
    expired.valid_until = timezone.now() - timedelta(seconds=1)
    expired.save()
    client = token_client(a.customer.user)

    body = quote(client, a, [mine.code.lower(), theirs.code, used.code, expired.code]).json()

    assert body["total"] == "7.50" and body["reward_discount_total"] == "5.00"
    rewards = {r["code"]: r for r in body["rewards"]}
    assert rewards[mine.code] == {
        "code": mine.code,
        "reward_id": mine.pk,
        "name": "Five off",
        "kind": "discount_amount",
        "applied": True,
        "amount": "5.00",
        "reason": "",
    }
    # another customer's code reads exactly like a used, an expired or an unknown one
    hidden = [rewards[c.code] | {"code": ""} for c in (theirs, used, expired)]
    assert hidden == [hidden[0]] * 3
    assert hidden[0]["reason"] == CODE_NOT_USABLE and hidden[0]["reward_id"] is None
    assert body["lines"][0]["allocations"] == [{"reward_id": mine.pk, "amount": "5.00"}]


def test_a_guest_basket_does_not_apply_reward_codes(a):
    reward = issue(a)

    basket = basket_price(
        brand=a.brand, lines=[LineRequest(product_id=a.product.pk, quantity=1)], codes=[reward.code]
    )

    assert basket.reward_discount_total == 0
    assert basket.reward_results[0]["reason"] == "Sign in to use this reward code."


def test_a_reward_code_costs_a_quote_one_query(a):
    reward = issue(a)
    client = token_client(a.customer.user)
    quote(client, a, [])  # warms the bundle cache and the token
    with CaptureQueriesContext(connection) as without:
        assert quote(client, a, []).status_code == 200
    with CaptureQueriesContext(connection) as promotion_code:
        assert quote(client, a, ["SUMMER10"]).status_code == 200
    with CaptureQueriesContext(connection) as with_code:
        response = quote(client, a, [reward.code])

    assert response.json()["reward_discount_total"] == "5.00"
    assert len(promotion_code) == len(without)
    assert len(with_code) == len(without) + 1


def place(tenant, codes, key=None, customer=None, quantity=1):
    return order_place(
        brand=tenant.brand,
        lines=[LineRequest(product_id=tenant.product.pk, quantity=quantity)],
        customer=customer or tenant.customer,
        codes=codes,
        idempotency_key=key,
    )


def test_an_order_consumes_its_code_once_and_records_it(a):
    reward = issue(a, kind="discount_percentage", percentage=Decimal("10.00"), name="Ten off")

    order, created = place(a, [reward.code], key="k1", quantity=2)
    replay, created_again = place(a, [reward.code], key="k1", quantity=2)
    second, _ = place(a, [reward.code], key="k2", quantity=2)

    assert created and not created_again and replay.pk == order.pk
    reward.refresh_from_db()
    assert (reward.status, reward.order_id, reward.discount) == ("used", order.pk, Decimal("2.50"))
    assert reward.used_at is not None
    assert (order.subtotal, order.discount_total, order.total) == (
        Decimal("25.00"),
        Decimal("2.50"),
        Decimal("22.50"),
    )
    assert order.calculate_total().discount_total == Decimal("2.50")
    assert order.reward_codes[0]["applied"] and order.reward_codes[0]["amount"] == "2.50"
    assert order.lines.get().allocations == [{"reward_id": reward.pk, "amount": "2.50"}]
    assert second.discount_total == Decimal("0.00")
    assert second.reward_codes[0]["reason"] == CODE_NOT_USABLE


def test_a_reward_code_costs_an_order_one_read_and_one_conditional_update(a):
    reward = issue(a)
    place(a, [])  # warms the bundle cache
    with CaptureQueriesContext(connection) as without:
        place(a, [])
    with CaptureQueriesContext(connection) as with_code:
        order, _ = place(a, [reward.code])

    assert order.discount_total == Decimal("5.00")
    added = len(with_code) - len(without)
    assert added == 2
    updates = [q["sql"] for q in with_code if 'UPDATE "rewards_customerreward"' in q["sql"]]
    assert len(updates) == 1 and "\"status\" = 'active'" in updates[0].replace("%s", "'active'")


def test_the_order_api_reports_the_code(a):
    reward = issue(a)
    client = token_client(a.customer.user)

    response = client.post(
        "/api/v1/orders/",
        {
            "brand": a.brand.slug,
            "lines": [{"product": a.product.pk, "quantity": 1}],
            "codes": [reward.code, "RW2222222222"],
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["discount_total"] == "5.00" and body["total"] == "7.50"
    assert {r["code"]: (r["applied"], r["amount"]) for r in body["reward_codes"]} == {
        reward.code: (True, "5.00"),
        "RW2222222222": (False, None),
    }
    assert body["lines"][0]["allocations"] == [{"reward_id": reward.pk, "amount": "5.00"}]


def test_cancelling_before_payment_gives_the_code_back_but_not_after(a):
    reward = issue(a)
    order, _ = place(a, [reward.code])

    order_set_payment_status(order_id=order.pk, to_status="cancelled")

    reward.refresh_from_db()
    assert (reward.status, reward.order_id, reward.discount) == ("active", None, None)
    paid, _ = place(a, [reward.code])
    assert paid.discount_total == Decimal("5.00")
    order_set_payment_status(order_id=paid.pk, to_status="paid")
    order_set_payment_status(order_id=paid.pk, to_status="cancelled")
    reward.refresh_from_db()
    assert (reward.status, reward.order_id) == ("used", paid.pk)


def test_a_cancelled_order_gives_back_an_expired_code_as_expired(a):
    reward = issue(a)
    order, _ = place(a, [reward.code])
    CustomerReward.objects.filter(pk=reward.pk).update(
        valid_until=timezone.now() - timedelta(seconds=1)
    )

    order_set_payment_status(order_id=order.pk, to_status="cancelled")

    reward.refresh_from_db()
    assert (reward.status, reward.order_id) == ("expired", None)


THREADS = 20


@pytest.mark.django_db(transaction=True)
def test_one_code_in_twenty_concurrent_orders_discounts_exactly_one():
    # Given one discount code of a customer
    a = build_tenant("a")
    reward = issue(a)
    barrier = threading.Barrier(THREADS)
    orders: list[Order] = []
    errors: list[BaseException] = []

    def order_with_code(index):
        try:
            barrier.wait(timeout=10)
            order, _ = place(a, [reward.code], key=f"order-{index}")
            orders.append(order)
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    # When twenty orders use it at the same moment
    threads = [threading.Thread(target=order_with_code, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # Then every order is placed, exactly one is discounted, and the reward points at it
    assert not errors
    assert len(orders) == THREADS
    discounted = Order.objects.filter(brand=a.brand, discount_total__gt=0)
    assert discounted.count() == 1
    winner = discounted.get()
    assert winner.total == Decimal("7.50")
    reward.refresh_from_db()
    assert (reward.status, reward.order_id, reward.discount) == ("used", winner.pk, Decimal("5.00"))
    assert (
        Order.objects.filter(
            brand=a.brand, discount_total=0, idempotency_key__startswith="order-"
        ).count()
        == THREADS - 1
    )
    # and a replay of any of them consumes nothing more
    _, created = place(a, [reward.code], key="order-0")
    assert not created
    assert CustomerReward.objects.get(pk=reward.pk).order_id == winner.pk


# --- properties ------------------------------------------------------------------------------

offers_strategy = st.lists(
    st.one_of(
        st.builds(
            lambda amount, minimum: (
                "discount_amount",
                {"amount": amount, "minimum_order": minimum},
            ),
            st.integers(1, 50_000),
            st.none() | st.integers(0, 50_000),
        ),
        st.builds(lambda bp: ("discount_percentage", {"basis_points": bp}), st.integers(1, 10_000)),
        st.builds(lambda product: ("free_product", {"product_id": product}), st.integers(1, 6)),
    ),
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(
    prices=st.lists(st.tuples(st.integers(0, 20_000), st.integers(1, 5)), min_size=1, max_size=5),
    specs=offers_strategy,
)
def test_reward_codes_never_exceed_the_basket_and_allocations_add_up(prices, specs):
    lines = [line(index + 1, price, quantity) for index, (price, quantity) in enumerate(prices)]
    offers = [offer(index + 1, kind, **fields) for index, (kind, fields) in enumerate(specs)]

    basket = priced(lines, *offers)

    assert 0 <= basket.total <= basket.subtotal
    assert all(0 <= p.discount <= p.subtotal for p in basket.lines)
    for result in basket.reward_results:
        allocated = sum(
            a["amount"]
            for p in basket.lines
            for a in p.allocations
            if a.get("reward_id") == result["reward_id"]
        )
        assert allocated == result["amount"] >= 0
        assert result["applied"] == (result["amount"] > 0)
        assert bool(result["reason"]) != result["applied"]
    assert basket.reward_discount_total == basket.discount_total
