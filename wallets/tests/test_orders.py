"""The wallet as a tender of orders: the payment split, refunds and cancellation back to the
wallet, points earned on the money part only."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.errors import ApplicationError
from loyalty_management.models import LoyaltyTransaction
from loyalty_management.tests.factories import LoyaltyProgramFactory
from marketing.services import award_loyalty_points
from orders.models import Order
from orders.services.payment import order_set_payment_status
from orders.services.placement import LineRequest, order_place
from wallets.models import Wallet, WalletTransaction
from wallets.services import order_wallet_settle, wallet_credit

pytestmark = pytest.mark.django_db
PS = Order.PaymentStatus
Kind = WalletTransaction.Kind


def fund(tenant, amount: str) -> Wallet:
    wallet_credit(
        customer=tenant.customer,
        brand=tenant.brand,
        amount=Decimal(amount),
        idempotency_key=f"fund-{tenant.brand.pk}-{amount}",
    )
    return Wallet.objects.get(customer=tenant.customer, brand=tenant.brand)


def place(tenant, quantity=2, wallet_amount=None, **kwargs) -> Order:
    """An order of `quantity` apples at 12.50 (no promotions): 25.00 for two."""
    order, _ = order_place(
        brand=tenant.brand,
        lines=[LineRequest(product_id=tenant.product.pk, quantity=quantity)],
        customer=kwargs.pop("customer", tenant.customer),
        wallet_amount=wallet_amount,
        **kwargs,
    )
    return order


def balance(wallet) -> Decimal:
    wallet.refresh_from_db()
    return wallet.balance


def test_the_wallet_pays_part_of_an_order_and_the_order_stores_the_split(a):
    wallet = fund(a, "50.00")

    order = place(a, wallet_amount=Decimal("10.00"))

    assert (order.total, order.wallet_amount, order.amount_due) == (
        Decimal("25.00"),
        Decimal("10.00"),
        Decimal("15.00"),
    )
    assert balance(wallet) == Decimal("40.00")
    payment = WalletTransaction.objects.get(kind=Kind.PAYMENT)
    assert (payment.amount, payment.balance_after, payment.order_id) == (
        Decimal("-10.00"),
        Decimal("40.00"),
        order.pk,
    )


def test_the_wallet_never_pays_more_than_the_order_total(a):
    wallet = fund(a, "50.00")

    order = place(a, wallet_amount=Decimal("40.00"))

    assert (order.wallet_amount, order.amount_due) == (Decimal("25.00"), Decimal("0.00"))
    assert balance(wallet) == Decimal("25.00")


@pytest.mark.parametrize("funded", [None, "5.00"])
def test_asking_for_more_than_the_wallet_holds_is_refused_and_writes_nothing(a, funded):
    wallet = fund(a, funded) if funded else None
    orders, rows = Order.objects.count(), WalletTransaction.objects.count()

    with pytest.raises(ApplicationError) as caught:
        place(a, wallet_amount=Decimal("10.00"))

    assert caught.value.code == "wallet_insufficient"
    assert "wallet_amount" in caught.value.fields
    assert (Order.objects.count(), WalletTransaction.objects.count()) == (orders, rows)
    if wallet is not None:
        assert balance(wallet) == Decimal("5.00")


def test_an_order_without_a_customer_cannot_use_a_wallet(a):
    with pytest.raises(ApplicationError) as caught:
        place(a, wallet_amount=Decimal("1.00"), customer=None)
    assert caught.value.code == "wallet_requires_customer"


def test_cancellation_gives_the_whole_wallet_part_back_once(a):
    wallet = fund(a, "50.00")
    order = place(a, wallet_amount=Decimal("10.00"))
    order_set_payment_status(order_id=order.pk, to_status=PS.PAID)

    cancelled = order_set_payment_status(order_id=order.pk, to_status=PS.CANCELLED)
    duplicate = order_wallet_settle(order=cancelled)

    assert duplicate is None
    assert balance(wallet) == Decimal("50.00")
    assert WalletTransaction.objects.filter(order=order, kind=Kind.REFUND).count() == 1


def test_refunds_give_the_wallet_its_share_in_proportion_and_all_of_it_at_the_end(a):
    wallet = fund(a, "50.00")
    order = place(a, wallet_amount=Decimal("10.00"))  # 10 of 25 from the wallet
    order_set_payment_status(order_id=order.pk, to_status=PS.PAID)

    order_set_payment_status(
        order_id=order.pk, to_status=PS.PARTIALLY_REFUNDED, refund_amount=Decimal("5.00")
    )
    after_partial = balance(wallet)
    order_set_payment_status(
        order_id=order.pk, to_status=PS.PARTIALLY_REFUNDED, refund_amount=Decimal("0.01")
    )
    after_a_cent = balance(wallet)  # 10 * 5.01 / 25 = 2.004: still 2.00
    refunded = order_set_payment_status(order_id=order.pk, to_status=PS.REFUNDED)

    assert after_partial == Decimal("42.00")  # 10 * 5 / 25
    assert after_a_cent == Decimal("42.00")
    assert refunded.payment_status == PS.REFUNDED
    assert balance(wallet) == Decimal("50.00")
    refunds = WalletTransaction.objects.filter(order=order, kind=Kind.REFUND)
    assert sorted(r.amount for r in refunds) == [Decimal("2.00"), Decimal("8.00")]


def test_a_duplicate_refund_delivery_credits_the_wallet_once(a):
    wallet = fund(a, "50.00")
    order = place(a, wallet_amount=Decimal("10.00"))
    order_set_payment_status(order_id=order.pk, to_status=PS.PAID)
    refunded = order_set_payment_status(
        order_id=order.pk, to_status=PS.PARTIALLY_REFUNDED, refund_amount=Decimal("12.50")
    )

    # The same refund handled again (a redelivered message, a retried settle)
    order_wallet_settle(order=refunded)
    order_wallet_settle(order=Order.objects.get(pk=order.pk))

    assert balance(wallet) == Decimal("45.00")
    assert WalletTransaction.objects.filter(order=order, kind=Kind.REFUND).count() == 1


def test_points_are_earned_on_the_money_part_only(a):
    LoyaltyProgramFactory(brand=a.brand)  # 1 point per 1.00
    fund(a, "50.00")
    order = place(a, wallet_amount=Decimal("10.00"))
    order_set_payment_status(order_id=order.pk, to_status=PS.PAID)

    earned = award_loyalty_points(order=order)

    assert earned.points == 15


def test_points_after_an_early_refund_count_only_the_money_kept(a):
    LoyaltyProgramFactory(brand=a.brand)
    fund(a, "50.00")
    order = place(a, wallet_amount=Decimal("10.00"))
    order_set_payment_status(order_id=order.pk, to_status=PS.PAID)
    order_set_payment_status(
        order_id=order.pk, to_status=PS.PARTIALLY_REFUNDED, refund_amount=Decimal("5.00")
    )

    earned = award_loyalty_points(order=order)

    assert earned.points == 12  # (25 - 5) * 15 / 25


def test_an_order_paid_wholly_from_the_wallet_earns_nothing(a):
    LoyaltyProgramFactory(brand=a.brand)
    fund(a, "50.00")
    order = place(a, wallet_amount=Decimal("25.00"))
    order_set_payment_status(order_id=order.pk, to_status=PS.PAID)

    assert award_loyalty_points(order=order) is None
    assert not LoyaltyTransaction.objects.filter(order=order).exists()


def _queries(work) -> int:
    with CaptureQueriesContext(connection) as captured:
        work()
    return len(captured)


def test_placement_without_a_wallet_adds_no_query_and_with_one_adds_three(a):
    fund(a, "100.00")
    place(a)  # warms the promotions bundle cache

    without = _queries(lambda: place(a))
    with_wallet = _queries(lambda: place(a, wallet_amount=Decimal("1.00")))

    # Without a wallet: the same queries as before wallets existed.
    assert without == 10
    # With one: lock the wallet, move its balance, write its ledger row.
    assert with_wallet == without + 3
