"""Concurrent orders paying from one wallet, against PostgreSQL: the wallet lock serialises the
debits, so the wallet never goes below zero and never pays more than it held."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from brands.tests.factories import BrandFactory
from catalog.tests.factories import ProductFactory
from core.errors import ApplicationError
from customers.services import customer_create
from orders.models import Order
from orders.services.payment import order_set_payment_status
from orders.services.placement import LineRequest, order_place
from wallets.models import Wallet, WalletTransaction
from wallets.services import order_wallet_settle, wallet_credit

Kind = WalletTransaction.Kind


def run_together(workers) -> list[BaseException]:
    """Start every worker at the same instant; each closes its own database connection."""
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def wrap(work):
        try:
            barrier.wait()
            work()
        except BaseException as error:  # collected and asserted by the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrap, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_orders_never_take_a_50_wallet_below_zero():
    # Given a wallet of 50.00 and orders of 12.50 that each ask 10.00 from it
    brand = BrandFactory(slug="wallet-race")
    product = ProductFactory(brand=brand, sku="W-1", price=Decimal("12.50"))
    customer = customer_create(brand=brand, email="race@example.com")
    wallet_credit(customer=customer, brand=brand, amount=Decimal("50.00"), idempotency_key="top")
    placed: list[Order] = []

    def order():
        order, _ = order_place(
            brand=brand,
            lines=[LineRequest(product_id=product.pk, quantity=1)],
            customer=customer,
            wallet_amount=Decimal("10.00"),
        )
        placed.append(order)

    # When 20 are placed at once
    errors = run_together([order for _ in range(20)])

    # Then exactly five are paid from the wallet, the others refused with nothing left behind
    assert len(placed) == 5
    assert len(errors) == 15
    assert all(
        isinstance(error, ApplicationError) and error.code == "wallet_insufficient"
        for error in errors
    )
    wallet = Wallet.objects.get(customer=customer, brand=brand)
    debits = WalletTransaction.objects.filter(wallet=wallet, kind=Kind.PAYMENT)
    assert wallet.balance == Decimal("0.00")
    assert -debits.aggregate(s=Sum("amount"))["s"] == Decimal("50.00")
    assert Order.objects.filter(brand=brand).count() == 5
    assert set(debits.values_list("order_id", flat=True)) == {o.pk for o in placed}
    assert min(debits.values_list("balance_after", flat=True)) == Decimal("0.00")


@pytest.mark.django_db(transaction=True)
def test_duplicate_refund_deliveries_at_once_credit_the_wallet_once():
    brand = BrandFactory(slug="wallet-refund-race")
    product = ProductFactory(brand=brand, sku="W-2", price=Decimal("20.00"))
    customer = customer_create(brand=brand, email="refund@example.com")
    wallet_credit(customer=customer, brand=brand, amount=Decimal("50.00"), idempotency_key="top")
    order, _ = order_place(
        brand=brand,
        lines=[LineRequest(product_id=product.pk, quantity=1)],
        customer=customer,
        wallet_amount=Decimal("20.00"),
    )
    order_set_payment_status(order_id=order.pk, to_status=Order.PaymentStatus.PAID)
    order_set_payment_status(order_id=order.pk, to_status=Order.PaymentStatus.REFUNDED)

    def settle():
        order_wallet_settle(order=Order.objects.get(pk=order.pk))

    errors = run_together([settle for _ in range(8)])

    assert errors == []
    wallet = Wallet.objects.get(customer=customer, brand=brand)
    assert wallet.balance == Decimal("50.00")
    assert WalletTransaction.objects.filter(order=order, kind=Kind.REFUND).count() == 1
