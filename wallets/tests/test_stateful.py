"""Random sequences of credits, order payments, refunds, cancellations, expiries and
adjustments on two wallets: the cached balance always equals the sum of the ledger, the
balance after each row is the running sum, and nothing is ever negative."""

import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from brands.tests.factories import BrandFactory
from catalog.tests.factories import ProductFactory
from core.errors import ApplicationError
from customers.services import customer_create
from orders.models import Order
from orders.services.payment import order_set_payment_status
from orders.services.placement import LineRequest, order_place
from wallets.models import Wallet, WalletTransaction
from wallets.services import (
    order_wallet_settle,
    wallet_adjust,
    wallet_credit,
    wallet_expire,
)

PS = Order.PaymentStatus
cents = st.integers(min_value=1, max_value=6_000).map(lambda c: Decimal(c) / 100)


class WalletMachine(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self):
        super().__init__()
        self.brand = BrandFactory()
        self.product = ProductFactory(brand=self.brand, price=Decimal("7.35"))
        self.customers = [
            customer_create(brand=self.brand, email=f"{uuid.uuid4().hex}@example.com")
            for _ in range(2)
        ]
        self.root = None

    def wallet(self, index: int) -> Wallet | None:
        return Wallet.objects.filter(customer=self.customers[index], brand=self.brand).first()

    @rule(index=st.integers(0, 1), amount=cents)
    def credit(self, index, amount):
        wallet_credit(
            customer=self.customers[index],
            brand=self.brand,
            amount=amount,
            idempotency_key=uuid.uuid4().hex,
        )

    @rule(target=orders, index=st.integers(0, 1), quantity=st.integers(1, 5), asked=cents)
    def order(self, index, quantity, asked):
        try:
            order, _ = order_place(
                brand=self.brand,
                lines=[LineRequest(product_id=self.product.pk, quantity=quantity)],
                customer=self.customers[index],
                wallet_amount=asked,
            )
        except ApplicationError as error:
            assert error.code == "wallet_insufficient"
            return None
        order_set_payment_status(order_id=order.pk, to_status=PS.PAID)
        return order.pk

    @rule(order_id=orders, share=st.integers(1, 100))
    def refund(self, order_id, share):
        if order_id is None:
            return
        order = Order.objects.get(pk=order_id)
        remaining = order.total - order.refunded_amount
        if order.payment_status not in (PS.PAID, PS.PARTIALLY_REFUNDED) or remaining <= 0:
            return
        amount = max((remaining * share / 100).quantize(Decimal("0.01")), Decimal("0.01"))
        order_set_payment_status(
            order_id=order_id, to_status=PS.PARTIALLY_REFUNDED, refund_amount=min(amount, remaining)
        )
        order_wallet_settle(order=Order.objects.get(pk=order_id))  # a duplicate delivery

    @rule(order_id=orders)
    def cancel(self, order_id):
        if order_id is None or Order.objects.get(pk=order_id).payment_status != PS.PAID:
            return
        order_set_payment_status(order_id=order_id, to_status=PS.CANCELLED)

    @rule(index=st.integers(0, 1), amount=st.none() | cents)
    def expire(self, index, amount):
        wallet = self.wallet(index)
        if wallet is not None:
            wallet_expire(wallet_id=wallet.pk, amount=amount, idempotency_key=uuid.uuid4().hex)

    @rule(index=st.integers(0, 1), amount=cents, debit=st.booleans())
    def adjust(self, index, amount, debit):
        wallet = self.wallet(index)
        if wallet is None:
            return
        try:
            wallet_adjust(
                wallet_id=wallet.pk,
                amount=-amount if debit else amount,
                reason="Machine",
                actor=None,
            )
        except ApplicationError as error:
            assert debit and error.code == "wallet_insufficient"

    @invariant()
    def balances_equal_their_ledgers(self):
        for wallet in Wallet.objects.filter(brand=self.brand):
            rows = list(wallet.transactions.order_by("created_at", "id"))
            running = Decimal("0.00")
            for row in rows:
                running += row.amount
                assert row.balance_after == running
                assert running >= 0
            assert wallet.balance == running
            assert wallet.balance >= 0

    @invariant()
    def each_order_gets_back_at_most_what_it_paid(self):
        for order in Order.objects.filter(brand=self.brand, wallet_amount__gt=0):
            back = sum(
                (
                    t.amount
                    for t in WalletTransaction.objects.filter(
                        order=order, kind=WalletTransaction.Kind.REFUND
                    )
                ),
                Decimal("0.00"),
            )
            assert back <= order.wallet_amount
            if order.payment_status in (PS.REFUNDED, PS.CANCELLED):
                assert back == order.wallet_amount


@pytest.mark.django_db
def test_wallet_balances_always_equal_their_ledgers():
    run_state_machine_as_test(
        WalletMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
