"""Cashback credited to the wallet, per promotion: credited once when the order is paid, split
from the points cashback of the same order, taken back in proportion on refunds, never below
zero (what the customer already spent is recorded as not recovered)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from catalog.tests.factories import ProductFactory
from core.errors import ApplicationError
from core.tests.api_world import token_client
from customers.tests.factories import CustomerFactory
from loyalty_management.models import LoyaltyAccount, LoyaltyTransaction
from loyalty_management.tests.factories import LoyaltyProgramFactory, make_order
from loyalty_management.tests.invariants import assert_ledger_invariants
from loyalty_management.tests.test_ledger_concurrency import run_together
from marketing.cashback import (
    cashback_credit,
    cashback_reconcile,
    cashback_reverse,
    cashback_wallet_idempotency_key,
)
from marketing.tasks import credit_cashback_for_order_task, reverse_cashback_for_order_task
from marketing.tests.test_cashback import live, pay, refund
from orders.models import Order, OrderPromotion
from orders.services.payment import order_set_payment_status
from orders.tests.factories import place_order
from promotions.models import Promotion
from promotions.services.compiler import promotion_compile
from promotions.services.lifecycle import promotion_save
from promotions.tests.factories import PromotionFactory
from wallets.models import Wallet, WalletClawback, WalletTransaction
from wallets.services import wallet_credit, wallet_expire
from wallets.tests.invariants import assert_wallet_invariants

PS = Order.PaymentStatus
Kind = LoyaltyTransaction.Kind
WKind = WalletTransaction.Kind
WALLET = Promotion.CashbackTo.WALLET


def wallet_of(customer, brand) -> Wallet:
    return Wallet.objects.get(customer=customer, brand=brand)


def cashback_credits(order) -> list[WalletTransaction]:
    return list(WalletTransaction.objects.filter(order=order, kind=WKind.CREDIT).order_by("id"))


def taken_back(order) -> Decimal:
    return -sum(
        (row.amount for row in WalletTransaction.objects.filter(order=order, kind=WKind.CLAWBACK)),
        Decimal("0.00"),
    )


def not_recovered(order) -> Decimal:
    return sum(
        (row.not_recovered for row in WalletClawback.objects.filter(order=order)), Decimal("0.00")
    )


@pytest.fixture
def wallet_order(brand, customer, program):
    """A pending order of one 80.00 item with a 10% cashback credited to the wallet: 8.00."""
    live(brand, type="cashback", params={"percent": "10"}, cashback_to=WALLET)
    product = ProductFactory(brand=brand, price=Decimal("80.00"))
    return place_order(brand=brand, products_and_quantities=[(product, 1)], customer=customer)


@pytest.mark.django_db
def test_a_paid_order_with_wallet_cashback_credits_the_wallet_and_no_points(
    wallet_order, brand, customer
):
    # Given the order priced by the engine: 80.00 to pay, 8.00 of cashback
    order = wallet_order
    assert (order.total, order.cashback_total) == (Decimal("80.00"), Decimal("8.00"))

    # When it is paid (the credit runs after commit, through the outbox)
    with TestCase.captureOnCommitCallbacks(execute=True):
        pay(order)

    # Then the wallet at the brand holds 8.00, keyed by the order and the promotion, and no
    # cashback points were credited (the order's own earned points are unaffected)
    promotion = Promotion.objects.get(brand=brand, type="cashback")
    [credit] = cashback_credits(order)
    assert credit.amount == Decimal("8.00")
    assert credit.idempotency_key == cashback_wallet_idempotency_key(order.pk, promotion.pk)
    assert wallet_of(customer, brand).balance == Decimal("8.00")
    assert not LoyaltyTransaction.objects.filter(order=order, kind=Kind.CASHBACK).exists()
    assert LoyaltyTransaction.objects.get(order=order, kind=Kind.EARNED).points == 80
    assert_wallet_invariants(credit.wallet_id)


@pytest.mark.django_db
def test_crediting_the_wallet_twice_credits_once(wallet_order, brand, customer):
    # Given a paid order whose wallet cashback was credited
    with TestCase.captureOnCommitCallbacks(execute=True):
        pay(wallet_order)
    [first] = cashback_credits(wallet_order)

    # When the task is delivered twice more and the service is called again
    results = [credit_cashback_for_order_task(wallet_order.pk) for _ in range(2)]
    again = cashback_credit(order_id=wallet_order.pk)

    # Then the same credit is returned and the wallet holds it once
    assert results == ["credited", "credited"]
    assert again.wallet == (first,)
    assert again.points is None
    assert cashback_credits(wallet_order) == [first]
    assert wallet_of(customer, brand).balance == Decimal("8.00")


@pytest.mark.django_db
def test_a_target_changed_after_the_credit_does_not_credit_again(wallet_order, brand, customer):
    # Given a paid order whose cashback went to the wallet
    with TestCase.captureOnCommitCallbacks(execute=True):
        pay(wallet_order)

    # When the promotion is switched to points and the credit task is delivered again
    Promotion.objects.filter(brand=brand, type="cashback").update(cashback_to="points")
    again = cashback_credit(order_id=wallet_order.pk)

    # Then nothing new is credited: where the cashback went was decided once
    assert again.points is None and len(again.wallet) == 1
    assert not LoyaltyTransaction.objects.filter(order=wallet_order, kind=Kind.CASHBACK).exists()
    assert wallet_of(customer, brand).balance == Decimal("8.00")


@pytest.mark.django_db
def test_an_order_with_points_and_wallet_cashback_splits_them_by_target(brand, customer, program):
    # Given two stackable cashback promotions: 10% to points, 5% to the wallet; the program
    # credits 10 points per 1.00 of cashback
    program.cashback_points_per_unit = Decimal("10.00")
    program.save()
    points_promotion = live(
        brand, type="cashback", params={"percent": "10"}, stacking="stackable", name="Points back"
    )
    wallet_promotion = live(
        brand,
        type="cashback",
        params={"percent": "5"},
        stacking="stackable",
        name="Wallet back",
        cashback_to=WALLET,
    )
    product = ProductFactory(brand=brand, price=Decimal("60.00"))
    order = place_order(brand=brand, products_and_quantities=[(product, 1)], customer=customer)
    assert order.cashback_total == Decimal("9.00")

    # When it is paid
    with TestCase.captureOnCommitCallbacks(execute=True):
        pay(order)

    # Then 6.00 becomes 60 points naming only the points promotion, and 3.00 goes to the wallet
    points = LoyaltyTransaction.objects.get(order=order, kind=Kind.CASHBACK)
    assert points.points == 60
    assert points.rule["cashback_amount"] == "6.00"
    assert [p["promotion_id"] for p in points.rule["promotions"]] == [points_promotion.pk]
    [credit] = cashback_credits(order)
    assert credit.amount == Decimal("3.00")
    assert credit.idempotency_key.endswith(f":promotion:{wallet_promotion.pk}")

    # When the order is refunded in full
    with TestCase.captureOnCommitCallbacks(execute=True):
        refund(order)

    # Then both are taken back in full, each from where it went
    assert (
        -sum(
            t.points
            for t in LoyaltyTransaction.objects.filter(order=order, kind=Kind.CASHBACK_REVERSED)
        )
        == 60
    )
    assert taken_back(order) == Decimal("3.00")
    assert wallet_of(customer, brand).balance == Decimal("0.00")
    assert_ledger_invariants(points.account_id)
    assert_wallet_invariants(credit.wallet_id)


@pytest.mark.django_db
def test_partial_refunds_take_back_the_wallet_cashback_in_proportion_once_per_step(
    wallet_order, brand, customer
):
    # Given a paid 80.00 order with 8.00 of wallet cashback
    order = wallet_order
    with TestCase.captureOnCommitCallbacks(execute=True):
        pay(order)

    # When 30.00 is refunded (the reversal task delivered twice)
    with TestCase.captureOnCommitCallbacks(execute=True):
        refund(order, "30.00", partial=True)
    assert reverse_cashback_for_order_task(order.pk) == "nothing"

    # Then 3.00 (30/80 of 8.00) is taken back, once
    assert taken_back(order) == Decimal("3.00")
    assert WalletClawback.objects.filter(order=order).count() == 1

    # When 0.10 more is refunded: 30.10/80 of 8.00 is 3.01
    with TestCase.captureOnCommitCallbacks(execute=True):
        refund(order, "0.10", partial=True)
    assert taken_back(order) == Decimal("3.01")

    # When the rest is refunded: everything credited is taken back, never more
    with TestCase.captureOnCommitCallbacks(execute=True):
        refund(order)
    assert cashback_reverse(order_id=order.pk) is None
    assert taken_back(order) == Decimal("8.00")
    assert not_recovered(order) == Decimal("0.00")
    wallet = wallet_of(customer, brand)
    assert wallet.balance == Decimal("0.00")
    assert list(
        WalletClawback.objects.filter(order=order).order_by("id").values_list("owed", flat=True)
    ) == [Decimal("3.00"), Decimal("0.01"), Decimal("4.99")]
    assert_wallet_invariants(wallet.pk)


@pytest.mark.django_db
def test_cashback_already_spent_is_taken_as_far_as_the_wallet_holds_and_the_rest_recorded(
    wallet_order, brand, customer
):
    # Given a paid order with 8.00 of wallet cashback, of which the customer spent 6.50
    order = wallet_order
    with TestCase.captureOnCommitCallbacks(execute=True):
        pay(order)
    wallet = wallet_of(customer, brand)
    wallet_expire(wallet_id=wallet.pk, amount=Decimal("6.50"), idempotency_key="spent")

    # When half the order is refunded: 4.00 is owed back, 1.50 is there
    with TestCase.captureOnCommitCallbacks(execute=True):
        refund(order, "40.00", partial=True)

    # Then the wallet is emptied, never below zero, and 2.50 is recorded as not recovered
    step = WalletClawback.objects.get(order=order)
    assert (step.owed, step.taken, step.not_recovered) == (
        Decimal("4.00"),
        Decimal("1.50"),
        Decimal("2.50"),
    )
    assert step.transaction.amount == Decimal("-1.50")
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("0.00")

    # When the customer tops the wallet up and the rest of the order is refunded
    wallet_credit(customer=customer, brand=brand, amount=Decimal("10.00"), idempotency_key="top-up")
    with TestCase.captureOnCommitCallbacks(execute=True):
        refund(order)

    # Then only the other half is taken (what was not recovered is not asked again)
    assert taken_back(order) == Decimal("5.50")
    assert not_recovered(order) == Decimal("2.50")
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("6.00")
    assert_wallet_invariants(wallet.pk)


@pytest.mark.django_db
def test_an_empty_wallet_records_the_whole_step_as_not_recovered(wallet_order, brand, customer):
    # Given a paid order whose 8.00 of wallet cashback was all expired
    order = wallet_order
    with TestCase.captureOnCommitCallbacks(execute=True):
        pay(order)
    wallet = wallet_of(customer, brand)
    wallet_expire(wallet_id=wallet.pk, idempotency_key="expire-all")

    # When the order is refunded in full
    with TestCase.captureOnCommitCallbacks(execute=True):
        refund(order)

    # Then a step without ledger row records 8.00 as not recovered; a replay adds nothing
    step = WalletClawback.objects.get(order=order)
    assert (step.taken, step.not_recovered, step.transaction) == (
        Decimal("0.00"),
        Decimal("8.00"),
        None,
    )
    assert cashback_reverse(order_id=order.pk) is None
    assert WalletClawback.objects.filter(order=order).count() == 1
    assert_wallet_invariants(wallet.pk)


@pytest.mark.django_db
def test_wallet_cashback_credited_after_a_partial_refund_keeps_only_the_unrefunded_share(
    wallet_order, brand, customer
):
    # Given a paid order refunded by 20.00 (a quarter) before its cashback was credited
    order = wallet_order
    Order.objects.filter(pk=order.pk).update(
        payment_status=PS.PARTIALLY_REFUNDED,
        refunded_amount=Decimal("20.00"),
        paid_at=timezone.now(),
    )

    # When the credit runs late
    credited = cashback_credit(order_id=order.pk)

    # Then 8.00 is credited and 2.00 taken back in the same transaction
    assert [row.amount for row in credited.wallet] == [Decimal("8.00")]
    assert taken_back(order) == Decimal("2.00")
    assert wallet_of(customer, brand).balance == Decimal("6.00")


@pytest.mark.django_db
def test_a_cancelled_paid_order_loses_all_its_wallet_cashback(wallet_order, brand, customer):
    with TestCase.captureOnCommitCallbacks(execute=True):
        pay(wallet_order)
    with TestCase.captureOnCommitCallbacks(execute=True):
        order_set_payment_status(order_id=wallet_order.pk, to_status=PS.CANCELLED)
    assert taken_back(wallet_order) == Decimal("8.00")
    assert wallet_of(customer, brand).balance == Decimal("0.00")


def wallet_order_with_cashback(*, brand, customer, total: str, cashback: str) -> Order:
    """A bare order with one wallet cashback row, created pending (no task runs)."""
    promotion = PromotionFactory(brand=brand, type="cashback", cashback_to=WALLET)
    order = make_order(brand=brand, customer=customer, total=total)
    OrderPromotion.objects.create(
        order=order,
        promotion=promotion,
        promotion_version=1,
        name="Wallet cashback",
        type="cashback",
        kind=OrderPromotion.Kind.CASHBACK,
        phase="cashback",
        amount=Decimal(cashback),
    )
    Order.objects.filter(pk=order.pk).update(cashback_total=Decimal(cashback))
    return order


@pytest.mark.django_db
def test_reconciliation_credits_and_reverses_wallet_cashback_without_a_program(brand, customer):
    # Given a brand with no loyalty program and an order paid an hour ago whose wallet cashback
    # task was lost (a queryset update fires no receiver)
    old = timezone.now() - timedelta(hours=1)
    order = wallet_order_with_cashback(
        brand=brand, customer=customer, total="50.00", cashback="2.50"
    )
    Order.objects.filter(pk=order.pk).update(payment_status=PS.PAID, paid_at=old)

    # When the sweep runs twice
    first, second = cashback_reconcile(), cashback_reconcile()

    # Then the wallet is credited once
    assert (first.credited, second.credited) == (1, 0)
    assert wallet_of(customer, brand).balance == Decimal("2.50")

    # When the order is refunded in full without its reversal task, and the sweep runs later
    Order.objects.filter(pk=order.pk).update(
        payment_status=PS.REFUNDED, refunded_amount=Decimal("50.00"), updated_at=old
    )
    result = cashback_reconcile()

    # Then the cashback is taken back
    assert result.reversed == 1
    assert wallet_of(customer, brand).balance == Decimal("0.00")
    assert cashback_reconcile().reversed == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_deliveries_credit_the_wallet_once_and_take_back_once():
    # Given a paid order with 12.00 of wallet cashback whose customer has no wallet yet
    program = LoyaltyProgramFactory(points_per_unit=Decimal("1.00"))
    customer = CustomerFactory()
    order = wallet_order_with_cashback(
        brand=program.brand, customer=customer, total="120.00", cashback="12.00"
    )
    Order.objects.filter(pk=order.pk).update(payment_status=PS.PAID, paid_at=timezone.now())

    # When 20 deliveries of the credit task run at once, each in its own thread and connection
    results: list[str] = []
    errors = run_together([lambda: results.append(credit_cashback_for_order_task(order.pk))] * 20)

    # Then all succeed and the wallet is credited 12.00 once
    assert errors == []
    assert results == ["credited"] * 20
    assert len(cashback_credits(order)) == 1
    wallet = wallet_of(customer, program.brand)
    assert wallet.balance == Decimal("12.00")

    # When a third is refunded and 20 reversal deliveries run at once
    Order.objects.filter(pk=order.pk).update(
        payment_status=PS.PARTIALLY_REFUNDED, refunded_amount=Decimal("40.00")
    )
    errors = run_together([lambda: reverse_cashback_for_order_task(order.pk)] * 20)

    # Then exactly 4.00 is taken back, in one step
    assert errors == []
    assert taken_back(order) == Decimal("4.00")
    assert WalletClawback.objects.filter(order=order).count() == 1
    assert_wallet_invariants(wallet.pk)
    assert not LoyaltyAccount.objects.filter(customer=customer).exclude(available_points=0).exists()


# --- the promotion's field: validation, API, admin, engines ---------------------------------


@pytest.mark.django_db
def test_only_a_cashback_promotion_may_credit_the_wallet(brand):
    # A percent discount that asks for the wallet is refused, even as a draft, in plain words
    promotion = PromotionFactory.build(
        brand=brand, type="percent_discount", params={"percent": "10"}, cashback_to=WALLET
    )
    with pytest.raises(ApplicationError) as refused:
        promotion_save(promotion=promotion)
    assert "cashback_to" in refused.value.fields
    assert (
        "Only a cashback promotion can credit the wallet." in refused.value.fields["cashback_to"][0]
    )
    assert not Promotion.objects.filter(brand=brand).exists()

    # And the database refuses it too
    saved = PromotionFactory(brand=brand, type="percent_discount", params={"percent": "10"})
    with pytest.raises(IntegrityError):
        Promotion.objects.filter(pk=saved.pk).update(cashback_to=WALLET)


@pytest.mark.django_db
def test_the_compiled_form_does_not_depend_on_where_the_cashback_goes(brand):
    # Where the cashback is credited is decided after payment: the engines never see it
    promotion = PromotionFactory(brand=brand, type="cashback", params={"percent": "10"})
    to_points = promotion_compile(promotion=promotion)
    promotion.cashback_to = WALLET
    assert promotion_compile(promotion=promotion) == to_points


@pytest.mark.django_db
def test_the_api_sets_and_shows_where_the_cashback_goes(a):
    client = token_client(a.staff)
    url = reverse("promotion-list")
    body = {
        "brand": a.brand.slug,
        "name": "Wallet back",
        "type": "cashback",
        "all_products": True,
        "params": {"percent": "5"},
        "cashback_to": "wallet",
    }

    created = client.post(url, body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["cashback_to"] == "wallet"
    assert Promotion.objects.get(pk=created.json()["id"]).cashback_to == WALLET

    refused = client.post(url, {**body, "type": "percent_discount"}, format="json")
    assert refused.status_code == 400
    assert "cashback_to" in refused.json()["fields"]

    unknown = client.post(url, {**body, "cashback_to": "bank"}, format="json")
    assert unknown.status_code == 400
    assert "cashback_to" in unknown.json()["fields"]


@pytest.mark.django_db
def test_the_wallet_admin_shows_the_cashback_taken_back_and_not_recovered(a, client):
    # Given brand A's wallet cashback on a paid order, mostly spent, then the order refunded
    live(a.brand, type="cashback", params={"percent": "10"}, cashback_to=WALLET)
    order = place_order(
        brand=a.brand, products_and_quantities=[(a.product, 4)], customer=a.customer
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        pay(order)
    wallet = wallet_of(a.customer, a.brand)
    credited = wallet.balance
    wallet_expire(wallet_id=wallet.pk, amount=credited - Decimal("1.00"), idempotency_key="spent")
    with TestCase.captureOnCommitCallbacks(execute=True):
        refund(order)

    # When brand A's staff open the wallet
    client.force_login(a.staff)
    page = client.get(f"/admin/wallets/wallet/{wallet.pk}/change/").content.decode()

    # Then the claw-back step is listed, read-only, with what was not recovered
    assert "Taken back" in page and "Not recovered" in page
    assert str(credited) in page and str(credited - Decimal("1.00")) in page
    assert 'name="clawbacks-0-owed"' not in page
