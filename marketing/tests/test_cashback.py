"""Cashback credited as points when an order is paid, taken back in proportion on refunds."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError
from django.test import TestCase
from django.utils import timezone

from brands.tests.factories import UserFactory
from catalog.tests.factories import ProductFactory
from core.models import OutboxMessage
from core.tests.api_world import token_client
from customers.tests.factories import CustomerFactory
from loyalty_management.models import LoyaltyAccount, LoyaltyTransaction
from loyalty_management.tests.factories import LoyaltyProgramFactory, make_order
from loyalty_management.tests.invariants import assert_ledger_invariants
from loyalty_management.tests.test_ledger_concurrency import run_together
from marketing.cashback import cashback_credit, cashback_reconcile, cashback_reverse
from marketing.tasks import credit_cashback_for_order_task, reverse_cashback_for_order_task
from orders.models import Order, OrderPromotion
from orders.services.payment import order_set_payment_status
from orders.tests.factories import place_order
from promotions.models import Promotion
from promotions.services.lifecycle import promotion_save
from promotions.tests.factories import PromotionFactory

PS = Order.PaymentStatus
Kind = LoyaltyTransaction.Kind


def live(brand, **fields):
    """An active promotion of `brand` on all products, saved and compiled through the service."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return promotion_save(
            promotion=PromotionFactory.build(
                brand=brand, status="active", all_products=True, **fields
            )
        )


def pay(order):
    return order_set_payment_status(order_id=order.pk, to_status=PS.PAID)


def refund(order, amount=None, partial=False):
    return order_set_payment_status(
        order_id=order.pk,
        to_status=PS.PARTIALLY_REFUNDED if partial else PS.REFUNDED,
        refund_amount=Decimal(amount) if amount else None,
    )


def cashback_of(order) -> LoyaltyTransaction | None:
    return LoyaltyTransaction.objects.filter(order=order, kind=Kind.CASHBACK).first()


def reversed_points(order) -> int:
    rows = LoyaltyTransaction.objects.filter(order=order, kind=Kind.CASHBACK_REVERSED)
    return -sum(row.points for row in rows)


@pytest.fixture
def discounted_order(brand, customer, program):
    """A pending order of one 50.00 item, 20% off (40.00 to pay), with a plain 10% cashback
    (standard stacking): 4.00 of cashback. The program credits 10 points per 1.00 of cashback."""
    program.cashback_points_per_unit = Decimal("10.00")
    program.save()
    live(brand, type="percent_discount", params={"percent": "20"}, priority=5)
    live(brand, type="cashback", params={"percent": "10"})
    product = ProductFactory(brand=brand, price=Decimal("50.00"))
    return place_order(brand=brand, products_and_quantities=[(product, 1)], customer=customer)


@pytest.mark.django_db
def test_a_paid_order_with_cashback_on_a_discounted_item_credits_the_expected_points(
    discounted_order, customer
):
    # Given the order is priced: 40.00 to pay, 4.00 of cashback on what is paid
    order = discounted_order
    assert (order.discount_total, order.total, order.cashback_total) == (
        Decimal("10.00"),
        Decimal("40.00"),
        Decimal("4.00"),
    )

    # When it is paid (the credit runs after commit, through the outbox)
    with TestCase.captureOnCommitCallbacks(execute=True):
        pay(order)

    # Then the customer earned 40 points for paying 40.00 and 40 points of cashback
    # (4.00 at 10 points per 1.00), with the promotion named in the rule
    credit = cashback_of(order)
    assert credit is not None
    assert credit.points == 40
    assert credit.rule["cashback_amount"] == "4.00"
    cashback_promotion = Promotion.objects.get(brand=order.brand, type="cashback")
    assert [p["promotion_id"] for p in credit.rule["promotions"]] == [cashback_promotion.pk]
    account = LoyaltyAccount.objects.get(customer=customer)
    assert LoyaltyTransaction.objects.get(order=order, kind=Kind.EARNED).points == 40
    assert account.available_points == 80
    assert account.lifetime_points == 80
    assert_ledger_invariants(account.pk)


@pytest.mark.django_db
def test_the_cashback_rate_defaults_to_the_earning_rate(brand, customer):
    # Given a program earning 2 points per 1.00 with no cashback rate of its own
    LoyaltyProgramFactory(brand=brand, points_per_unit=Decimal("2.00"))
    live(brand, type="cashback", params={"percent": "10"})
    product = ProductFactory(brand=brand, price=Decimal("35.00"))
    order = place_order(brand=brand, products_and_quantities=[(product, 1)], customer=customer)

    # When it is paid
    with TestCase.captureOnCommitCallbacks(execute=True):
        pay(order)

    # Then 3.50 of cashback is 7 points, without the earning's tier multiplier
    assert cashback_of(order).points == 7


@pytest.mark.django_db
def test_crediting_twice_credits_once(discounted_order, customer):
    # Given a paid order whose cashback was credited
    order = discounted_order
    with TestCase.captureOnCommitCallbacks(execute=True):
        pay(order)
    first = cashback_of(order)

    # When the task is delivered twice more
    results = [credit_cashback_for_order_task(order.pk) for _ in range(2)]

    # Then the same transaction is returned and the points count once
    assert results == ["credited", "credited"]
    assert cashback_credit(order_id=order.pk).points.pk == first.pk
    assert LoyaltyTransaction.objects.filter(order=order, kind=Kind.CASHBACK).count() == 1
    assert LoyaltyAccount.objects.get(customer=customer).available_points == 80


@pytest.mark.django_db
def test_the_database_refuses_a_second_cashback_credit_for_an_order(discounted_order):
    order = discounted_order
    with TestCase.captureOnCommitCallbacks(execute=True):
        pay(order)
    credit = cashback_of(order)

    with pytest.raises(IntegrityError):
        LoyaltyTransaction.objects.create(
            account_id=credit.account_id,
            kind=Kind.CASHBACK,
            points=1,
            order=order,
            idempotency_key="another-key",
        )


@pytest.mark.django_db
def test_partial_refunds_reverse_in_proportion_and_never_more_than_credited(
    discounted_order, customer
):
    # Given a paid order (40.00) credited 40 points of cashback
    order = discounted_order
    with TestCase.captureOnCommitCallbacks(execute=True):
        pay(order)

    # When 10.00 is refunded: a quarter of the total
    with TestCase.captureOnCommitCallbacks(execute=True):
        refund(order, "10.00", partial=True)
    # Then a quarter of the cashback points (10) is taken back
    assert reversed_points(order) == 10

    # When 5.01 more is refunded (15.01 of 40.00: 15.01 points, rounded down)
    with TestCase.captureOnCommitCallbacks(execute=True):
        refund(order, "5.01", partial=True)
    assert reversed_points(order) == 15

    # When the reversal runs again (a duplicate delivery), nothing more is taken
    assert reverse_cashback_for_order_task(order.pk) == "nothing"
    assert reversed_points(order) == 15

    # When the rest is refunded, everything credited is taken back, and no more
    with TestCase.captureOnCommitCallbacks(execute=True):
        refund(order)
    assert reversed_points(order) == 40
    assert cashback_reverse(order_id=order.pk) is None
    assert reversed_points(order) == 40
    account = LoyaltyAccount.objects.get(customer=customer)
    # The points earned on the order went the same way: nothing is left of the order
    assert account.available_points == 0
    assert account.lifetime_points == 0
    assert_ledger_invariants(account.pk)


@pytest.mark.django_db
def test_a_cancelled_paid_order_loses_all_its_cashback(discounted_order):
    order = discounted_order
    with TestCase.captureOnCommitCallbacks(execute=True):
        pay(order)

    with TestCase.captureOnCommitCallbacks(execute=True):
        order_set_payment_status(order_id=order.pk, to_status=PS.CANCELLED)

    assert reversed_points(order) == 40


@pytest.mark.django_db
def test_cashback_credited_after_a_partial_refund_keeps_only_the_unrefunded_share(
    discounted_order, customer
):
    # Given a paid order refunded by 20.00 (half) before its cashback was credited
    order = discounted_order
    Order.objects.filter(pk=order.pk).update(
        payment_status=PS.PARTIALLY_REFUNDED, refunded_amount=Decimal("20.00")
    )

    # When the credit runs late
    credit = cashback_credit(order_id=order.pk).points

    # Then 40 points are credited and half taken back at once: the customer keeps 20
    assert credit.points == 40
    assert reversed_points(order) == 20
    assert_ledger_invariants(credit.account_id)


@pytest.mark.django_db
def test_nothing_is_credited_without_cashback_customer_or_payment(brand, customer, program):
    # An order without cashback, an anonymous one, and an unpaid one
    product = ProductFactory(brand=brand, price=Decimal("20.00"))
    plain = place_order(brand=brand, products_and_quantities=[(product, 1)], customer=customer)
    live(brand, type="cashback", params={"percent": "10"})
    anonymous = place_order(brand=brand, products_and_quantities=[(product, 1)])
    unpaid = place_order(brand=brand, products_and_quantities=[(product, 1)], customer=customer)
    with TestCase.captureOnCommitCallbacks(execute=True):
        pay(plain)
        pay(anonymous)

    assert anonymous.cashback_total == Decimal("2.00")
    assert cashback_credit(order_id=plain.pk) is None
    assert cashback_credit(order_id=anonymous.pk) is None
    assert cashback_credit(order_id=unpaid.pk) is None
    assert cashback_credit(order_id=10**9) is None
    assert not LoyaltyTransaction.objects.filter(kind=Kind.CASHBACK).exists()


def order_with_cashback(*, brand, customer, total: str, cashback: str) -> Order:
    """A bare order with one cashback promotion row, created pending (no task runs)."""
    order = make_order(brand=brand, customer=customer, total=total)
    OrderPromotion.objects.create(
        order=order,
        promotion=None,
        promotion_version=1,
        name="Cashback",
        type="cashback",
        kind=OrderPromotion.Kind.CASHBACK,
        phase="cashback",
        amount=Decimal(cashback),
    )
    Order.objects.filter(pk=order.pk).update(cashback_total=Decimal(cashback))
    return order


@pytest.mark.django_db
def test_reconciliation_credits_a_paid_order_whose_cashback_was_lost(brand, customer, program):
    # Given an order paid an hour ago whose credit task never ran (a queryset update fires no
    # receiver), one paid a minute ago, and one whose cashback rounds to no point
    old = timezone.now() - timedelta(hours=1)
    lost = order_with_cashback(brand=brand, customer=customer, total="80.00", cashback="8.00")
    recent = order_with_cashback(brand=brand, customer=customer, total="30.00", cashback="3.00")
    tiny = order_with_cashback(brand=brand, customer=customer, total="5.00", cashback="0.50")
    Order.objects.filter(pk__in=[lost.pk, tiny.pk]).update(payment_status=PS.PAID, paid_at=old)
    Order.objects.filter(pk=recent.pk).update(payment_status=PS.PAID, paid_at=timezone.now())

    # When the sweep runs, twice
    first = cashback_reconcile()
    second = cashback_reconcile()

    # Then the lost one got its 8 points once; the recent one is left to its task
    assert (first.credited, second.credited) == (1, 0)
    assert cashback_of(lost).points == 8
    assert cashback_of(recent) is None
    assert cashback_of(tiny) is None


@pytest.mark.django_db
def test_reconciliation_reverses_a_refund_whose_reversal_was_lost(brand, customer, program):
    # Given a credited order fully refunded an hour ago without its reversal task
    order = order_with_cashback(brand=brand, customer=customer, total="80.00", cashback="8.00")
    Order.objects.filter(pk=order.pk).update(payment_status=PS.PAID, paid_at=timezone.now())
    cashback_credit(order_id=order.pk)
    Order.objects.filter(pk=order.pk).update(
        payment_status=PS.REFUNDED,
        refunded_amount=Decimal("80.00"),
        updated_at=timezone.now() - timedelta(hours=1),
    )

    # When the sweep runs
    result = cashback_reconcile()

    # Then the cashback is taken back
    assert result.reversed == 1
    assert reversed_points(order) == 8


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_deliveries_credit_once_and_reverse_once():
    # Given a paid order with 12.00 of cashback whose customer has no account yet
    program = LoyaltyProgramFactory(points_per_unit=Decimal("1.00"))
    customer = CustomerFactory()
    order = order_with_cashback(
        brand=program.brand, customer=customer, total="120.00", cashback="12.00"
    )
    Order.objects.filter(pk=order.pk).update(payment_status=PS.PAID, paid_at=timezone.now())

    # When 20 deliveries of the credit task run at once, each in its own thread and connection
    results = []
    errors = run_together([lambda: results.append(credit_cashback_for_order_task(order.pk))] * 20)

    # Then all succeed and the order is credited 12 points once
    assert errors == []
    assert results == ["credited"] * 20
    assert LoyaltyTransaction.objects.filter(order=order, kind=Kind.CASHBACK).count() == 1
    account = LoyaltyAccount.objects.get(customer=customer)
    assert account.available_points == 12

    # When half is refunded and 20 reversal deliveries run at once
    Order.objects.filter(pk=order.pk).update(
        payment_status=PS.PARTIALLY_REFUNDED, refunded_amount=Decimal("60.00")
    )
    errors = run_together([lambda: reverse_cashback_for_order_task(order.pk)] * 20)

    # Then exactly half is taken back, once
    assert errors == []
    assert reversed_points(order) == 6
    assert LoyaltyTransaction.objects.filter(order=order, kind=Kind.CASHBACK_REVERSED).count() == 1
    assert_ledger_invariants(account.pk)


@pytest.mark.django_db
def test_the_customer_and_staff_see_the_cashback_credited_in_the_api_and_admin(a, client):
    # Given brand A's program and a paid order with 10% cashback, a fifth of it refunded
    LoyaltyProgramFactory(brand=a.brand, points_per_unit=Decimal("1.00"))
    live(a.brand, type="cashback", params={"percent": "10"})
    order = place_order(
        brand=a.brand, products_and_quantities=[(a.product, 4)], customer=a.customer
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        pay(order)
    with TestCase.captureOnCommitCallbacks(execute=True):
        refund(order, "10.00", partial=True)

    # When the customer lists their ledger by kind and reads the order
    customer = token_client(a.customer.user)
    credited = customer.get("/api/v1/loyalty/me/transactions/", {"kind": "cashback"}).json()
    taken = customer.get("/api/v1/loyalty/me/transactions/", {"kind": "cashback_reversed"})
    detail = customer.get(f"/api/v1/orders/{order.pk}/").json()

    # Then 50.00 paid gave 5.00 of cashback, 5 points, and the 10.00 refund took 1 back
    assert [(row["kind"], row["points"]) for row in credited["results"]] == [("cashback", 5)]
    assert [(row["kind"], row["points"]) for row in taken.json()["results"]] == [
        ("cashback_reversed", -1)
    ]
    assert detail["cashback_total"] == "5.00"
    assert detail["cashback_points"] == {"credited": 5, "reversed": 1}
    assert token_client(a.staff).get(f"/api/v1/orders/{order.pk}/").json()["cashback_points"] == {
        "credited": 5,
        "reversed": 1,
    }

    # And the admin order page says it in a sentence
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert "5 points credited, 1 taken back by refunds." in page


@pytest.mark.django_db
def test_paying_writes_the_cashback_credit_to_the_outbox_only_for_orders_with_cashback(
    brand, customer, program
):
    # Given an order without cashback and one with 2.00 of it
    plain = make_order(brand=brand, customer=customer, total="20.00")
    with_cashback = order_with_cashback(
        brand=brand, customer=customer, total="20.00", cashback="2.00"
    )

    # When both are paid, then refunded
    with TestCase.captureOnCommitCallbacks(execute=False):
        for order in (plain, with_cashback):
            pay(order)
            refund(order)

    # Then the outbox owes the cashback credit and reversal of the second order only
    owed = list(
        OutboxMessage.objects.filter(task__contains="cashback")
        .order_by("pk")
        .values_list("task", "kwargs")
    )
    assert owed == [
        ("marketing.credit_cashback_for_order", {"order_id": with_cashback.pk}),
        ("marketing.reverse_cashback_for_order", {"order_id": with_cashback.pk}),
    ]
