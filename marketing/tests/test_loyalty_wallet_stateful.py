"""One machine over the whole loyalty money flow, through the real services: orders paid (points
earned, cashback credited as points and to the wallet, part paid from the wallet), redemption
requests holding points, released by a rejection or a cancellation, redeemed by an approval
(wallet credit at once), refunds full and partial (points, cashback and the wallet tender taken
back or given back, each task delivered twice at random), cancellations and wallet expiry.

After every step each loyalty account's cached balances equal its ledger (`invariants.py` of
the loyalty app) and each wallet's balance equals its ledger (`wallets.tests.invariants`)."""

import uuid
from decimal import Decimal

import pytest
from django.test import TestCase
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from brands.tests.factories import BrandFactory, StaffUserFactory
from catalog.tests.factories import ProductFactory
from core.errors import ApplicationError
from customers.services import customer_create
from loyalty_management.models import (
    LoyaltyAccount,
    LoyaltyTransaction,
    RedemptionItem,
    RedemptionRequest,
)
from loyalty_management.services.redemptions import (
    redemption_approve,
    redemption_cancel,
    redemption_reject,
    redemption_request,
)
from loyalty_management.tests.factories import LoyaltyProgramFactory
from loyalty_management.tests.invariants import assert_ledger_invariants
from marketing.cashback import cashback_credit, cashback_reverse
from marketing.services import award_loyalty_points, reverse_loyalty_points
from marketing.tests.test_cashback import live
from orders.models import Order
from orders.services.payment import order_set_payment_status
from orders.services.placement import LineRequest, order_place
from promotions.models import Promotion
from wallets.models import Wallet, WalletTransaction
from wallets.services import order_wallet_settle, wallet_expire
from wallets.tests.invariants import assert_wallet_invariants

PS = Order.PaymentStatus
Kind = LoyaltyTransaction.Kind
STOCK = 3
CENT = Decimal("0.01")
on_commit = TestCase.captureOnCommitCallbacks


class LoyaltyWalletMachine(RuleBasedStateMachine):
    orders = Bundle("orders")
    requests = Bundle("requests")

    def __init__(self):
        super().__init__()
        self.brand = BrandFactory()
        self.program = LoyaltyProgramFactory(
            brand=self.brand,
            points_per_unit=Decimal("10.00"),
            cashback_points_per_unit=Decimal("10.00"),
        )
        # Both apply to every order: 10% back as points, 5% back to the wallet.
        live(self.brand, type="cashback", params={"percent": "10"}, stacking="stackable")
        live(
            self.brand,
            type="cashback",
            params={"percent": "5"},
            stacking="stackable",
            cashback_to=Promotion.CashbackTo.WALLET,
        )
        self.products = [
            ProductFactory(brand=self.brand, price=Decimal(price)) for price in ("7.35", "19.99")
        ]
        self.customers = [
            customer_create(brand=self.brand, email=f"{uuid.uuid4().hex}@example.com")
            for _ in range(2)
        ]
        self.staff = StaffUserFactory()
        self.items = [
            RedemptionItem.objects.create(
                brand=self.brand,
                name="Wallet 3.00",
                points_cost=30,
                kind=RedemptionItem.Kind.WALLET_CREDIT,
                wallet_amount=Decimal("3.00"),
                auto_approve=False,
            ),
            RedemptionItem.objects.create(
                brand=self.brand,
                name="Mug",
                points_cost=45,
                kind=RedemptionItem.Kind.PHYSICAL,
                stock=STOCK,
                auto_approve=False,
            ),
            # Approved at once: the hold is spent and the wallet credited in one step.
            RedemptionItem.objects.create(
                brand=self.brand,
                name="Wallet 1.50 now",
                points_cost=15,
                kind=RedemptionItem.Kind.WALLET_CREDIT,
                wallet_amount=Decimal("1.50"),
            ),
        ]

    def wallet(self, index: int) -> Wallet | None:
        return Wallet.objects.filter(customer=self.customers[index], brand=self.brand).first()

    def deliver_order_tasks_again(self, order_id: int) -> None:
        """A duplicate delivery of every order task: nothing may change."""
        order = Order.objects.get(pk=order_id)
        before = self.totals()
        award_loyalty_points(order=order)
        cashback_credit(order_id=order_id)
        reverse_loyalty_points(order=order)
        cashback_reverse(order_id=order_id)
        order_wallet_settle(order=Order.objects.get(pk=order_id))
        assert self.totals() == before

    def totals(self):
        return (
            list(LoyaltyTransaction.objects.order_by("id").values_list("id", flat=True)),
            list(WalletTransaction.objects.order_by("id").values_list("id", flat=True)),
        )

    # --- orders: earn, pay from the wallet, refund, cancel -----------------------------------

    def place_and_pay(self, *, index: int, product: int, quantity: int, asked: Decimal | None):
        try:
            with on_commit(execute=True):
                order, _ = order_place(
                    brand=self.brand,
                    lines=[LineRequest(product_id=self.products[product].pk, quantity=quantity)],
                    customer=self.customers[index],
                    wallet_amount=asked,
                )
        except ApplicationError as error:
            wallet = self.wallet(index)
            assert error.code == "wallet_insufficient"
            assert asked > (wallet.balance if wallet else 0)
            return None
        with on_commit(execute=True):
            order_set_payment_status(order_id=order.pk, to_status=PS.PAID)
        order.refresh_from_db()
        assert order.cashback_total > 0
        assert WalletTransaction.objects.filter(order=order, kind="credit").exists()
        return order

    @initialize(target=orders)
    def first_orders(self):
        """Each customer starts with a paid order: points to redeem, cashback in the wallet."""
        return multiple(
            *(
                self.place_and_pay(index=index, product=1, quantity=3, asked=None).pk
                for index in (0, 1)
            )
        )

    @rule(
        target=orders,
        index=st.integers(0, 1),
        product=st.integers(0, 1),
        quantity=st.integers(1, 4),
        wallet_share=st.sampled_from([None, None, "0.5", "1", "3"]),
        twice=st.booleans(),
    )
    def pay_order(self, index, product, quantity, wallet_share, twice):
        """Earn: an order placed and paid, part of it asked from the wallet (a share of its
        balance; more than it holds is refused and writes nothing); its tasks run after the
        commit through the outbox."""
        wallet = self.wallet(index)
        asked = None
        if wallet_share is not None and wallet is not None and wallet.balance > 0:
            asked = max((wallet.balance * Decimal(wallet_share)).quantize(CENT), CENT)
        order = self.place_and_pay(index=index, product=product, quantity=quantity, asked=asked)
        if order is None:
            return multiple()
        if twice:
            self.deliver_order_tasks_again(order.pk)
        return order.pk

    @rule(
        order_id=orders,
        share=st.one_of(st.just(100), st.integers(1, 99)),
        twice=st.booleans(),
    )
    def refund(self, order_id, share, twice):
        """A refund: a share of what is left, in percent; 100 refunds the rest (full)."""
        order = Order.objects.get(pk=order_id)
        remaining = order.total - order.refunded_amount
        if order.payment_status not in (PS.PAID, PS.PARTIALLY_REFUNDED) or remaining <= 0:
            return
        amount = max((remaining * share / 100).quantize(CENT), CENT)
        with on_commit(execute=True):
            order_set_payment_status(
                order_id=order_id,
                to_status=PS.PARTIALLY_REFUNDED if share < 100 else PS.REFUNDED,
                refund_amount=min(amount, remaining),
            )
        if twice:
            self.deliver_order_tasks_again(order_id)

    @rule(order_id=orders, twice=st.booleans())
    def cancel(self, order_id, twice):
        if Order.objects.get(pk=order_id).payment_status != PS.PAID:
            return
        with on_commit(execute=True):
            order_set_payment_status(order_id=order_id, to_status=PS.CANCELLED)
        if twice:
            self.deliver_order_tasks_again(order_id)

    # --- redemptions: hold, release, redeem ---------------------------------------------------

    @rule(target=requests, index=st.integers(0, 1), item=st.integers(0, 2))
    def hold(self, index, item):
        """A redemption request holds the item's points (and a unit of the mug); the third
        item is approved at once (hold and redeem in one step)."""
        try:
            request, created = redemption_request(
                customer=self.customers[index], brand=self.brand, item_id=self.items[item].pk
            )
        except ApplicationError as error:
            assert error.code in {"insufficient_points", "out_of_stock", "loyalty_account_negative"}
            return multiple()
        assert created
        if item == 2:
            assert request.status == RedemptionRequest.Status.FULFILLED
            assert request.wallet_transaction.amount == Decimal("1.50")
            return multiple()
        assert request.status == RedemptionRequest.Status.REQUESTED
        return request.pk

    @rule(request_id=consumes(requests), reject=st.booleans(), twice=st.booleans())
    def release(self, request_id, reject, twice):
        """Release: staff reject the request, or the customer cancels it; the points go back."""
        request = RedemptionRequest.objects.get(pk=request_id)
        for _ in range(2 if twice else 1):
            if reject:
                redemption_reject(request_id=request_id, actor=self.staff, reason="Out of range.")
            else:
                redemption_cancel(request_id=request_id, customer=request.customer)

    @rule(request_id=consumes(requests), twice=st.booleans())
    def redeem(self, request_id, twice):
        """Redeem: staff approve; the points are spent, wallet credit is credited at once."""
        for _ in range(2 if twice else 1):
            redemption_approve(request_id=request_id, actor=self.staff)
        request = RedemptionRequest.objects.get(pk=request_id)
        if request.item.kind == RedemptionItem.Kind.WALLET_CREDIT:
            assert request.wallet_transaction.amount == Decimal("3.00")

    # --- wallet movements besides orders and redemptions -------------------------------------

    @rule(index=st.integers(0, 1), cents=st.none() | st.integers(1, 2_000))
    def expire_wallet(self, index, cents):
        wallet = self.wallet(index)
        if wallet is not None:
            wallet_expire(
                wallet_id=wallet.pk,
                amount=None if cents is None else Decimal(cents) / 100,
                idempotency_key=uuid.uuid4().hex,
            )

    # --- after every step ---------------------------------------------------------------------

    @invariant()
    def balances_equal_their_ledgers(self):
        for account in LoyaltyAccount.objects.filter(program=self.program):
            assert_ledger_invariants(account.pk)
        for wallet in Wallet.objects.filter(brand=self.brand):
            assert_wallet_invariants(wallet.pk)

    @invariant()
    def units_and_holds_add_up(self):
        mug = RedemptionItem.objects.get(pk=self.items[1].pk)
        reserved = RedemptionRequest.objects.filter(
            item=mug, stock_reserved=True, release__isnull=True
        ).count()
        assert mug.stock + reserved == STOCK
        for request in RedemptionRequest.objects.filter(brand=self.brand).select_related("hold"):
            assert request.hold.points == -request.points
            released = request.status in (
                RedemptionRequest.Status.REJECTED,
                RedemptionRequest.Status.CANCELLED,
            )
            assert (request.release_id is not None) == released

    @invariant()
    def orders_get_back_at_most_what_they_paid_and_lose_at_most_what_they_got(self):
        for order in Order.objects.filter(brand=self.brand):
            back = WalletTransaction.objects.filter(order=order, kind="refund")
            returned = sum((row.amount for row in back), Decimal("0.00"))
            assert returned <= order.wallet_amount
            if order.payment_status in (PS.REFUNDED, PS.CANCELLED):
                assert returned == order.wallet_amount
                # Everything the order earned and got back is taken back, or written off.
                for kind, reversed_kind in (
                    (Kind.EARNED, Kind.REVERSED),
                    (Kind.CASHBACK, Kind.CASHBACK_REVERSED),
                ):
                    credited = sum(t.points for t in order.loyalty_transactions.filter(kind=kind))
                    taken = -sum(
                        t.points for t in order.loyalty_transactions.filter(kind=reversed_kind)
                    )
                    assert taken == credited
                cashback = sum(
                    (
                        t.amount
                        for t in WalletTransaction.objects.filter(order=order, kind="credit")
                    ),
                    Decimal("0.00"),
                )
                owed = sum((step.owed for step in order.wallet_clawbacks.all()), Decimal("0.00"))
                assert owed == cashback


@pytest.mark.django_db
def test_random_loyalty_and_wallet_histories_keep_every_balance_equal_to_its_ledger():
    run_state_machine_as_test(
        LoyaltyWalletMachine,
        settings=settings(
            max_examples=10,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
