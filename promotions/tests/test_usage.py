"""Promotion usage: the ledger (reserve, commit, release, offline) and the counters it moves.

The concurrency tests run real threads against PostgreSQL, each with its own connection.
"""

import importlib
import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.test import Client, TestCase

from core.tests.api_world import build_tenant, staff_user, token_client
from customers.tests.factories import CustomerFactory
from orders.models import Order, OrderPromotion
from orders.selectors import customer_promotion_usage, promotions_with_live_limits
from orders.services.payment import order_set_payment_status
from orders.services.placement import LineRequest, basket_price, order_place
from promotions.models import (
    Promotion,
    PromotionCustomerUsage,
    PromotionUsage,
    PromotionUsageCounter,
)
from promotions.selectors import brand_bundle, usage_drift
from promotions.services.lifecycle import promotion_save
from promotions.services.usage import (
    usage_commit,
    usage_reconcile,
    usage_record_offline,
    usage_release,
    usage_reserve,
)
from promotions.tasks import reconcile_usage_counters_task
from promotions.tests.factories import PromotionFactory

K = PromotionUsage.Kind
THREADS = 50


def live(tenant, **fields) -> Promotion:
    """An active, stackable promotion on every product of the tenant's brand."""
    fields.setdefault("params", {"percent": "10"})
    fields.setdefault("stacking", Promotion.Stacking.STACKABLE)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return promotion_save(
            promotion=PromotionFactory.build(
                brand=tenant.brand, status="active", all_products=True, **fields
            )
        )


def counter(promotion: Promotion) -> tuple[int, Decimal]:
    row = PromotionUsageCounter.objects.filter(pk=promotion.pk).first()
    return (row.uses, row.amount) if row else (0, Decimal("0.00"))


def given(order: Order, promotion: Promotion) -> Decimal:
    return order.applied_promotions.filter(promotion=promotion).aggregate(s=Sum("amount"))[
        "s"
    ] or Decimal("0.00")


def ledger(**match) -> list[tuple]:
    return sorted(
        PromotionUsage.objects.filter(**match).values_list("kind", "promotion_id", "uses", "amount")
    )


def run_threads(count: int, work) -> list:
    """Run `work(index, barrier)` in `count` threads at once; each closes its connection."""
    barrier = threading.Barrier(count)
    results: list = []
    errors: list[BaseException] = []

    def target(index: int) -> None:
        try:
            results.append(work(index, barrier))
        except BaseException as error:  # reported by the main thread
            errors.append(error)
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors[:3]
    assert len(results) == count
    return results


def place(tenant, customer=None, quantity=1) -> Order:
    order, _ = order_place(
        brand=tenant.brand,
        lines=[LineRequest(product_id=tenant.product.pk, quantity=quantity)],
        customer=customer,
    )
    return order


# --- exact under concurrency ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_fifty_quotes_turned_orders_on_ten_uses_left_give_exactly_ten_discounts():
    # Given a promotion with 10 of its 15 uses left, and one with 4 uses, both stackable
    a = build_tenant("a")
    ten_left = live(a, name="Ten left", max_uses_total=15)
    for _ in range(5):
        place(a)
    four = live(a, name="Four", params={"percent": "5"}, max_uses_total=4)
    user = a.customer.user
    token_client(user)  # the token exists before the threads start
    lines = [{"product": a.product.pk, "quantity": 1}]

    def quote_then_order(index, barrier):
        client = token_client(user)
        quoted = client.post(
            "/api/v1/pricing/quote/", {"brand": a.brand.slug, "lines": lines}, format="json"
        )
        connection.close()
        barrier.wait(timeout=30)
        placed = client.post(
            "/api/v1/orders/", {"brand": a.brand.slug, "lines": lines}, format="json"
        )
        return quoted.json(), placed.status_code, placed.json()

    # When 50 customers who were all quoted both discounts place their orders at once
    results = run_threads(THREADS, quote_then_order)

    # Then every quote showed both, every order was placed, and exactly the uses left were given
    assert all(
        {p["promotion_id"] for p in quoted["promotions"]} == {ten_left.pk, four.pk}
        for quoted, _, _ in results
    )
    assert [status for _, status, _ in results] == [201] * THREADS
    orders = Order.objects.filter(pk__in=[body["id"] for _, _, body in results])
    with_ten = [order for order in orders if given(order, ten_left)]
    with_four = [order for order in orders if given(order, four)]
    assert len(with_ten) == 10
    assert len(with_four) == 4
    assert all(given(order, ten_left) == Decimal("1.25") for order in with_ten)
    for order in orders:  # an order's discount is exactly what its promotions gave
        promotions = sum((p.amount for p in order.applied_promotions.all()), Decimal("0.00"))
        assert order.discount_total == promotions
    assert counter(ten_left) == (15, Decimal("18.75"))
    assert counter(four) == (4, sum(given(order, four) for order in with_four))
    assert PromotionUsage.objects.filter(promotion=ten_left, kind=K.RESERVE).count() == 15
    assert usage_drift() == []


@pytest.mark.django_db(transaction=True)
def test_a_per_customer_limit_is_exact_for_concurrent_orders_of_the_same_customers():
    # Given a promotion each customer may use twice, and five customers
    a = build_tenant("a")
    twice = live(a, max_uses_per_customer=2)
    customers = [CustomerFactory() for _ in range(5)]
    quoted = basket_price(
        brand=a.brand,
        lines=[LineRequest(product_id=a.product.pk, quantity=1)],
        customer=customers[0],
    )
    assert [entry["promotion_id"] for entry in quoted.result["applied"]] == [twice.pk]

    def order(index, barrier):
        customer = customers[index % len(customers)]
        barrier.wait(timeout=30)
        return customer.pk, place(a, customer=customer).pk

    # When each customer places ten orders at once
    results = run_threads(THREADS, order)

    # Then each customer got the discount exactly twice
    discounted = Counter(
        customer_id
        for customer_id, order_id in results
        if OrderPromotion.objects.filter(order_id=order_id, promotion=twice).exists()
    )
    assert discounted == {customer.pk: 2 for customer in customers}
    assert dict(
        PromotionCustomerUsage.objects.filter(promotion=twice).values_list("customer_id", "uses")
    ) == {customer.pk: 2 for customer in customers}
    assert counter(twice) == (10, Decimal("12.50"))
    assert usage_drift() == []


@pytest.mark.django_db(transaction=True)
def test_a_budget_is_never_exceeded_by_concurrent_orders_to_the_cent():
    # Given a 30% promotion with a 20.00 budget: five orders of 3.75, then 1.25 is left
    a = build_tenant("a")
    budgeted = live(a, params={"percent": "30"}, budget=Decimal("20.00"))

    def order(index, barrier):
        barrier.wait(timeout=30)
        return place(a).pk

    # When 50 orders are placed at once
    results = run_threads(THREADS, order)

    # Then the discounts add up to the budget exactly: the last order got what was left
    amounts = sorted(
        (given(order, budgeted) for order in Order.objects.filter(pk__in=results)), reverse=True
    )
    assert sum(amounts) == Decimal("20.00")
    assert amounts[:6] == [Decimal("3.75")] * 5 + [Decimal("1.25")]
    assert set(amounts[6:]) == {Decimal("0.00")}
    assert counter(budgeted) == (6, Decimal("20.00"))
    assert usage_drift() == []


# --- reserve, commit, release ---------------------------------------------------------------


def test_placing_an_order_reserves_one_use_and_the_amount_of_each_promotion(a):
    first = live(a, name="First", max_uses_total=5)
    second = live(a, name="Second", params={"percent": "20"})  # no limit: counted all the same

    order = place(a, customer=a.customer)

    amounts = {promotion: given(order, promotion) for promotion in (first, second)}
    assert all(amounts.values())
    assert ledger(source=f"order:{order.pk}") == sorted(
        (K.RESERVE, promotion.pk, 1, amount) for promotion, amount in amounts.items()
    )
    assert counter(first) == (1, amounts[first])
    assert counter(second) == (1, amounts[second])
    assert customer_promotion_usage(customer_id=a.customer.pk) == {first.pk: 1, second.pk: 1}


def test_cancelling_an_order_releases_its_use_for_the_next_order(a):
    once = live(a, max_uses_total=1)
    lines = [LineRequest(product_id=a.product.pk, quantity=1)]
    first = place(a)
    assert basket_price(brand=a.brand, lines=lines).result["applied"] == []

    order_set_payment_status(order_id=first.pk, to_status="cancelled")

    assert counter(once) == (0, Decimal("0.00"))
    assert [
        p["promotion_id"] for p in basket_price(brand=a.brand, lines=lines).result["applied"]
    ] == [once.pk]
    assert given(place(a), once) == Decimal("1.25")
    assert ledger(source=f"order:{first.pk}") == sorted(
        [(K.RESERVE, once.pk, 1, Decimal("1.25")), (K.RELEASE, once.pk, -1, Decimal("-1.25"))]
    )


def test_a_failed_payment_keeps_the_reservation_until_the_order_is_cancelled(a):
    once = live(a, max_uses_total=1)
    order = place(a)

    order_set_payment_status(order_id=order.pk, to_status="failed")
    assert counter(once) == (1, Decimal("1.25"))
    assert given(place(a), once) == Decimal("0.00")

    order_set_payment_status(order_id=order.pk, to_status="cancelled")
    assert counter(once) == (0, Decimal("0.00"))
    assert given(place(a), once) == Decimal("1.25")


def test_payment_commits_the_reservation_and_a_later_cancellation_releases_it(a):
    limited = live(a, max_uses_total=3)
    order = place(a, customer=a.customer)

    order_set_payment_status(order_id=order.pk, to_status="paid")

    assert ledger(source=f"order:{order.pk}") == sorted(
        [(K.RESERVE, limited.pk, 1, Decimal("1.25")), (K.COMMIT, limited.pk, 0, Decimal("0.00"))]
    )
    assert counter(limited) == (1, Decimal("1.25"))

    order_set_payment_status(order_id=order.pk, to_status="cancelled")

    assert counter(limited) == (0, Decimal("0.00"))
    assert customer_promotion_usage(customer_id=a.customer.pk) == {}
    assert PromotionUsage.objects.get(source=f"order:{order.pk}", kind=K.RELEASE).uses == -1


def test_duplicate_commit_and_release_deliveries_change_nothing(a):
    limited = live(a, max_uses_total=3, max_uses_per_customer=2)
    order = place(a, customer=a.customer)

    assert usage_commit(order=order) == [limited.pk]
    assert usage_commit(order=order) == []
    assert usage_release(order=order) == [limited.pk]
    assert usage_release(order=order) == []
    assert usage_commit(order=order) == []  # a released use is never committed

    assert ledger(source=f"order:{order.pk}") == sorted(
        [
            (K.RESERVE, limited.pk, 1, Decimal("1.25")),
            (K.COMMIT, limited.pk, 0, Decimal("0.00")),
            (K.RELEASE, limited.pk, -1, Decimal("-1.25")),
        ]
    )
    assert counter(limited) == (0, Decimal("0.00"))
    assert PromotionCustomerUsage.objects.get(promotion=limited, customer=a.customer).uses == 0
    assert usage_drift() == []


def test_a_reservation_is_all_or_nothing(a):
    other = place(a)  # placed before the promotions existed, to reserve by hand
    plenty = live(a, name="Plenty", max_uses_total=10)
    gone = live(a, name="Gone", max_uses_total=1)
    order = place(a, customer=a.customer)  # takes gone's only use

    refused = usage_reserve(
        order=other, applied={plenty.pk: Decimal("1.00"), gone.pk: Decimal("1.00")}
    )

    assert refused == {gone.pk}
    assert counter(plenty) == (1, Decimal("1.25"))  # the placed order; nothing from the refusal
    assert not PromotionUsage.objects.filter(source=f"order:{other.pk}").exists()
    assert order.applied_promotions.count() == 2
    assert usage_reserve(order=other, applied={plenty.pk: Decimal("1.00")}) == set()
    assert counter(plenty) == (2, Decimal("2.25"))


def test_a_reservation_past_the_budget_or_the_customer_limit_is_refused(a):
    # Orders placed before the promotions existed, to reserve by hand
    with_customer, without_customer = place(a, customer=a.customer), place(a)
    budgeted = live(a, name="Budget", budget=Decimal("2.00"))
    per_customer = live(a, name="Once each", max_uses_per_customer=1)
    first = place(a, customer=a.customer)
    assert given(first, budgeted) == Decimal("1.25")
    assert given(first, per_customer) > 0

    def reserve(order, promotion, amount):
        return usage_reserve(order=order, applied={promotion.pk: Decimal(amount)})

    assert reserve(without_customer, budgeted, "0.76") == {budgeted.pk}
    assert reserve(with_customer, per_customer, "1.00") == {per_customer.pk}
    assert reserve(without_customer, per_customer, "1.00") == {per_customer.pk}
    assert reserve(without_customer, budgeted, "0.75") == set()
    assert counter(budgeted) == (2, Decimal("2.00"))


def test_live_limits_are_read_from_the_counters_in_one_query(a, django_assert_num_queries):
    uses = live(a, name="Uses", max_uses_total=5)
    budget = live(a, name="Budget", budget=Decimal("10.00"))
    spent = given(place(a), budget)
    promotions, _ = brand_bundle(brand_id=a.brand.pk)

    with django_assert_num_queries(1):
        limited = promotions_with_live_limits(promotions=promotions, currency=a.brand.currency)

    remaining = {
        p["id"]: (p["limits"]["remaining_uses"], p["limits"]["remaining_budget"]) for p in limited
    }
    assert remaining == {uses.pk: (4, None), budget.pk: (None, 1000 - int(spent * 100))}


# --- offline ---------------------------------------------------------------------------------


def test_offline_uses_are_always_recorded_and_an_overrun_is_flagged(a):
    limited = live(a, max_uses_total=2, max_uses_per_customer=1, budget=Decimal("5.00"))
    place(a, customer=CustomerFactory())  # one online use

    def offline(source, customer=None, amount="1.00"):
        return usage_record_offline(
            promotion_id=limited.pk,
            customer_id=customer and customer.pk,
            amount=Decimal(amount),
            uses=1,
            source=source,
        )

    within = offline("pos-ticket:1", a.customer)
    past_uses = offline("pos-ticket:2")
    replayed = offline("pos-ticket:2")

    assert (within, past_uses, replayed) == (False, True, True)
    assert counter(limited) == (3, Decimal("3.25"))
    assert list(
        PromotionUsage.objects.filter(kind=K.OFFLINE)
        .order_by("source")
        .values_list("source", "overrun", "uses", "amount")
    ) == [
        ("pos-ticket:1", False, 1, Decimal("1.00")),
        ("pos-ticket:2", True, 1, Decimal("1.00")),
    ]
    assert usage_drift() == []


def test_offline_overruns_of_a_customer_limit_and_of_a_budget_are_flagged(a):
    per_customer = live(a, name="Once each", max_uses_per_customer=1)
    budgeted = live(a, name="Budget", budget=Decimal("5.00"))

    def offline(promotion, source, amount, customer=None):
        return usage_record_offline(
            promotion_id=promotion.pk,
            customer_id=customer and customer.pk,
            amount=Decimal(amount),
            uses=1,
            source=source,
        )

    assert offline(per_customer, "t:1", "1.00", a.customer) is False
    assert offline(per_customer, "t:2", "1.00", a.customer) is True
    assert offline(per_customer, "t:3", "1.00", CustomerFactory()) is False
    assert offline(budgeted, "t:1", "4.99") is False
    assert offline(budgeted, "t:2", "0.01") is False  # exactly the budget
    assert offline(budgeted, "t:3", "0.01") is True
    assert PromotionUsage.objects.filter(overrun=True).count() == 2


def test_an_offline_overrun_leaves_no_use_to_online_orders(a):
    once = live(a, max_uses_total=1)
    usage_record_offline(
        promotion_id=once.pk, customer_id=None, amount=Decimal("1.25"), uses=1, source="t:1"
    )
    usage_record_offline(
        promotion_id=once.pk, customer_id=None, amount=Decimal("1.25"), uses=1, source="t:2"
    )

    order = place(a)

    assert given(order, once) == Decimal("0.00")
    assert counter(once) == (2, Decimal("2.50"))


# --- audit ------------------------------------------------------------------------------------


def test_the_ledger_sums_equal_the_counters_after_a_mix_of_uses(a):
    limited = live(a, max_uses_total=10, max_uses_per_customer=3, budget=Decimal("100.00"))
    other, third = CustomerFactory(), CustomerFactory()
    orders = [place(a, customer=customer) for customer in (a.customer, a.customer, other, third)]
    order_set_payment_status(order_id=orders[0].pk, to_status="paid")
    order_set_payment_status(order_id=orders[1].pk, to_status="cancelled")
    order_set_payment_status(order_id=orders[2].pk, to_status="failed")
    usage_record_offline(
        promotion_id=limited.pk, customer_id=other.pk, amount=Decimal("0.50"), uses=1, source="t:1"
    )

    sums = PromotionUsage.objects.filter(promotion=limited).aggregate(
        uses=Sum("uses"), amount=Sum("amount")
    )
    assert counter(limited) == (sums["uses"], sums["amount"]) == (4, Decimal("4.25"))
    per_customer = dict(
        PromotionUsage.objects.filter(promotion=limited, customer__isnull=False)
        .values("customer_id")
        .annotate(total=Sum("uses"))
        .values_list("customer_id", "total")
    )
    assert per_customer == {a.customer.pk: 1, other.pk: 2, third.pk: 1}
    assert customer_promotion_usage(customer_id=other.pk) == {limited.pk: 2}
    assert usage_drift() == []


def test_drift_is_reported_and_reconciled_from_the_ledger(a, capsys):
    limited = live(a, max_uses_total=10, max_uses_per_customer=3)
    place(a, customer=a.customer)
    place(a, customer=a.customer)
    PromotionUsageCounter.objects.filter(pk=limited.pk).update(uses=7)
    PromotionCustomerUsage.objects.filter(promotion=limited).delete()

    drift = usage_drift()
    with pytest.raises(SystemExit):
        call_command("promotion_usage_audit")
    report = capsys.readouterr().out

    assert {(d.promotion_id, d.customer_id, d.counter_uses, d.ledger_uses) for d in drift} == {
        (limited.pk, None, 7, 2),
        (limited.pk, a.customer.pk, 0, 2),
    }
    assert f"promotion {limited.pk}: 7 uses counted, 2 in the ledger" in report

    assert len(usage_reconcile()) == 2
    assert reconcile_usage_counters_task() == 0  # run again: nothing left to fix
    assert usage_drift() == []
    assert counter(limited) == (2, Decimal("2.50"))
    call_command("promotion_usage_audit")
    assert "equal the ledger" in capsys.readouterr().out


def test_the_backfill_rebuilds_what_orders_record_live(a):
    # Given orders of every payment outcome, recorded live
    limited = live(a, max_uses_total=10, max_uses_per_customer=5, budget=Decimal("50.00"))
    orders = [place(a, customer=a.customer) for _ in range(4)] + [
        place(a, customer=CustomerFactory())
    ]
    order_set_payment_status(order_id=orders[0].pk, to_status="paid")
    order_set_payment_status(order_id=orders[1].pk, to_status="cancelled")
    order_set_payment_status(order_id=orders[2].pk, to_status="failed")
    live_ledger = ledger(kind__in=[K.RESERVE, K.COMMIT])

    # When the ledger and counters are rebuilt from the orders by the migration's backfill
    PromotionUsage.objects.all().delete()
    PromotionUsageCounter.objects.all().delete()
    PromotionCustomerUsage.objects.all().delete()
    migration = importlib.import_module("promotions.migrations.0004_usage_ledger")
    migration.backfill(django_apps, None)

    # Then paid and pending orders count, failed and cancelled ones do not (as before)
    counted = [orders[0], orders[3], orders[4]]
    assert (
        ledger()
        == [entry for entry in live_ledger if entry[0] == K.COMMIT]
        + [(K.RESERVE, limited.pk, 1, Decimal("1.25"))] * 3
    )
    assert set(PromotionUsage.objects.values_list("source", flat=True)) == {
        f"order:{order.pk}" for order in counted
    }
    assert counter(limited) == (3, Decimal("3.75"))
    assert PromotionCustomerUsage.objects.get(promotion=limited, customer=a.customer).uses == 2
    assert usage_drift() == []


# --- admin ------------------------------------------------------------------------------------


def test_the_admin_shows_the_ledger_read_only_and_the_counters_on_the_promotion(a):
    limited = live(a, name="Limited", max_uses_total=5, budget=Decimal("40.00"))
    place(a, customer=a.customer)
    usage_record_offline(
        promotion_id=limited.pk, customer_id=None, amount=Decimal("1.00"), uses=5, source="t:9"
    )
    b = build_tenant("b")
    client_a, client_b = Client(), Client()
    client_a.force_login(a.staff)
    client_b.force_login(b.staff)
    ledger_url = "/admin/promotions/promotionusage/"

    overruns = client_a.get(f"{ledger_url}?overrun__exact=1")
    reserves = client_a.get(f"{ledger_url}?kind__exact=reserve")
    promotion_page = client_a.get(f"/admin/promotions/promotion/{limited.pk}/change/")
    entry = PromotionUsage.objects.get(source="t:9")

    assert overruns.status_code == reserves.status_code == promotion_page.status_code == 200
    assert b"t:9" in overruns.content and b"order:" not in overruns.content
    assert b"order:" in reserves.content and b"t:9" not in reserves.content
    assert b"6 uses of 5, 2.25 given of a 40.00 budget" in promotion_page.content
    assert client_a.get(f"{ledger_url}{entry.pk}/change/").status_code == 200
    assert client_a.post(f"{ledger_url}{entry.pk}/change/", {"uses": 0}).status_code == 403
    assert client_a.get(f"{ledger_url}add/").status_code == 403
    assert b"t:9" not in client_b.get(ledger_url).content
    superuser = Client()
    superuser.force_login(staff_user("root", superuser=True))
    assert superuser.post(f"{ledger_url}{entry.pk}/delete/").status_code == 403
