"""Random sequences of earn, cashback, spend, hold and give back (redemptions), refund, expire,
release and time passing on a few accounts keep every ledger invariant (see `invariants.py`)."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from core.errors import ConflictError
from customers.tests.factories import CustomerFactory
from loyalty_management.models import LoyaltyAccount, LoyaltyProgram, LoyaltyTransaction
from loyalty_management.services.ledger import (
    ledger_credit,
    ledger_debit,
    ledger_hold,
    ledger_hold_release,
    pending_points_release,
    points_expire,
)
from loyalty_management.tests.factories import LoyaltyProgramFactory, make_order
from loyalty_management.tests.invariants import assert_ledger_invariants
from marketing.cashback import cashback_credit, cashback_reverse
from marketing.services import reverse_loyalty_points
from orders.models import Order, OrderPromotion

Kind = LoyaltyTransaction.Kind
PS = Order.PaymentStatus


def key() -> str:
    return uuid.uuid4().hex


class LedgerMachine(RuleBasedStateMachine):
    earned_orders = Bundle("earned_orders")
    holds = Bundle("holds")

    def __init__(self):
        super().__init__()
        self.program = LoyaltyProgramFactory(
            expiry_policy=LoyaltyProgram.ExpiryPolicy.AFTER_DAYS, expiry_days=20
        )
        self.accounts = [
            LoyaltyAccount.objects.create(customer=CustomerFactory(), program=self.program)
            for _ in range(2)
        ]
        self.now = timezone.now()

    def balances(self, account):
        account.refresh_from_db()
        return account.available_points, account.pending_points, account.lifetime_points

    @rule(
        target=earned_orders,
        index=st.integers(0, 1),
        points=st.integers(1, 120),
        pending_days=st.sampled_from([0, 0, 3]),
    )
    def earn(self, index, points, pending_days):
        account = self.accounts[index]
        order = make_order(
            brand=self.program.brand, customer=account.customer, total=f"{points}.00"
        )
        ledger_credit(
            account_id=account.pk,
            kind=Kind.EARNED,
            points=points,
            idempotency_key=key(),
            order=order,
            pending_days=pending_days,
            now=self.now,
        )
        return order

    @rule(order=earned_orders, amount=st.integers(1, 30), twice=st.booleans())
    def cashback(self, order, amount, twice):
        """The order's cashback (`amount` whole units, one point each) credited when it is
        paid; partly refunded already, the refunded share is taken back at once."""
        order.refresh_from_db()
        if not order.applied_promotions.exists():
            OrderPromotion.objects.create(
                order=order,
                promotion_version=1,
                name="Cashback",
                type="cashback",
                kind=OrderPromotion.Kind.CASHBACK,
                amount=Decimal(amount),
            )
            Order.objects.filter(pk=order.pk, payment_status=PS.PENDING).update(
                payment_status=PS.PAID
            )
        first = cashback_credit(order_id=order.pk)
        if twice:  # a duplicate delivery of the credit task
            again = cashback_credit(order_id=order.pk)
            assert again == first

    @rule(index=st.integers(0, 1), points=st.integers(1, 150))
    def spend(self, index, points):
        account = self.accounts[index]
        try:
            ledger_debit(
                account_id=account.pk,
                kind=Kind.REDEEMED,
                points=points,
                idempotency_key=key(),
                now=self.now,
            )
        except ConflictError:
            # The refusal rolled back the release and expiry the debit ran first; after them
            # the account is negative or short of points.
            pending_points_release(now=self.now)
            points_expire(now=self.now)
            account.refresh_from_db()
            assert account.available_points < points or account.available_points < 0

    @rule(target=holds, index=st.integers(0, 1), points=st.integers(1, 80))
    def hold(self, index, points):
        """Points held for a redemption request: refused like a redemption when short."""
        account = self.accounts[index]
        try:
            return ledger_hold(
                account_id=account.pk, points=points, idempotency_key=key(), now=self.now
            ).transaction
        except ConflictError:
            return multiple()

    @rule(hold=consumes(holds), twice=st.booleans())
    def give_back(self, hold, twice):
        """A rejected, cancelled or expired request gives its held points back, once."""
        first = ledger_hold_release(hold=hold, idempotency_key=f"release:{hold.pk}", now=self.now)
        assert first.created and first.transaction.points == -hold.points
        if twice:
            again = ledger_hold_release(
                hold=hold, idempotency_key=f"release:{hold.pk}", now=self.now
            )
            assert not again.created and again.transaction.pk == first.transaction.pk

    @rule(index=st.integers(0, 1), points=st.integers(1, 50), sign=st.sampled_from([1, -1]))
    def adjust(self, index, points, sign):
        account = self.accounts[index]
        write = ledger_credit if sign > 0 else ledger_debit
        write(
            account_id=account.pk,
            kind=Kind.ADJUSTED,
            points=points,
            idempotency_key=key(),
            reason="Goodwill" if sign > 0 else "Correction",
            now=self.now,
        )

    @rule(order=earned_orders, share=st.integers(1, 100), twice=st.booleans())
    def refund(self, order, share, twice):
        order.refresh_from_db()
        if order.payment_status == PS.REFUNDED:
            return
        remaining_cents = int((order.total - order.refunded_amount) * 100)
        amount = Decimal(max(1, remaining_cents * share // 100)) / 100
        refunded = order.refunded_amount + amount
        status = PS.REFUNDED if refunded == order.total else PS.PARTIALLY_REFUNDED
        Order.objects.filter(pk=order.pk).update(payment_status=status, refunded_amount=refunded)
        order.refresh_from_db()
        reverse_loyalty_points(order=order)
        cashback_reverse(order_id=order.pk)
        if twice:  # a duplicate delivery of the reversal tasks
            assert reverse_loyalty_points(order=order) is None
            assert cashback_reverse(order_id=order.pk) is None
        credited = order.loyalty_transactions.filter(kind=Kind.CASHBACK).first()
        if credited is not None:  # never more taken back than was credited
            taken = -sum(
                row.points for row in order.loyalty_transactions.filter(kind=Kind.CASHBACK_REVERSED)
            )
            assert taken <= credited.points
            assert (taken == credited.points) == (order.payment_status == PS.REFUNDED)

    @rule(days=st.integers(1, 15))
    def time_passes(self, days):
        self.now += timedelta(days=days)

    @rule(twice=st.booleans())
    def expire(self, twice):
        points_expire(now=self.now)
        if twice:
            assert points_expire(now=self.now) == 0

    @rule(twice=st.booleans())
    def release(self, twice):
        pending_points_release(now=self.now)
        if twice:
            assert pending_points_release(now=self.now) == 0

    @invariant()
    def ledger_is_whole(self):
        for account in self.accounts:
            assert_ledger_invariants(account.pk)


@pytest.mark.django_db
def test_random_ledger_histories_keep_every_invariant():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
