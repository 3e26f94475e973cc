"""The points catalogue: requests hold points and stock through the ledger, and every step
happens once, against PostgreSQL (threads for the races)."""

import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from brands.tests.factories import StaffUserFactory
from core.errors import ApplicationError, ConflictError
from customers.tests.factories import CustomerFactory
from loyalty_management.models import (
    LoyaltyAccount,
    LoyaltyLot,
    LoyaltyProgram,
    LoyaltyTransaction,
    RedemptionItem,
    RedemptionRequest,
)
from loyalty_management.services.ledger import account_get_or_create, ledger_credit
from loyalty_management.services.redemptions import (
    redemption_approve,
    redemption_cancel,
    redemption_fulfil,
    redemption_reject,
    redemption_request,
    redemptions_expire,
)
from loyalty_management.tests.factories import LoyaltyProgramFactory, TierFactory
from loyalty_management.tests.invariants import assert_ledger_invariants
from notifications.models import Notification
from wallets.models import Wallet

Kind = LoyaltyTransaction.Kind
Status = RedemptionRequest.Status


def funded(program, points: int, customer=None) -> LoyaltyAccount:
    customer = customer or CustomerFactory()
    account = account_get_or_create(customer=customer, program=program)
    if points:
        ledger_credit(
            account_id=account.pk,
            kind=Kind.BONUS,
            points=points,
            idempotency_key=f"fund:{account.pk}",
        )
    account.refresh_from_db()
    return account


def make_item(program, **fields) -> RedemptionItem:
    values = {
        "brand": program.brand,
        "name": f"Item {RedemptionItem.objects.count() + 1}",
        "points_cost": 30,
        "kind": RedemptionItem.Kind.WALLET_CREDIT,
        "wallet_amount": Decimal("5.00"),
    }
    values.update(fields)
    return RedemptionItem.objects.create(**values)


def run_together(jobs, threads: int) -> list[BaseException | object]:
    """Run `jobs` on `threads` threads released together; each job's result or error."""
    barrier = threading.Barrier(threads)
    results: list = [None] * len(jobs)
    lanes = [list(range(lane, len(jobs), threads)) for lane in range(threads)]

    def lane_run(indexes):
        try:
            barrier.wait()
            for index in indexes:
                try:
                    results[index] = jobs[index]()
                except BaseException as error:  # collected and asserted by the test
                    results[index] = error
        finally:
            connection.close()

    workers = [threading.Thread(target=lane_run, args=(lane,)) for lane in lanes]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    return results


def codes(results) -> Counter:
    return Counter(
        result.code if isinstance(result, ApplicationError) else type(result).__name__
        for result in results
    )


@pytest.mark.django_db
def test_auto_approved_wallet_credit_holds_points_and_credits_the_wallet():
    program = LoyaltyProgramFactory()
    account = funded(program, 100)
    item = make_item(program, stock=3)

    request, created = redemption_request(
        customer=account.customer, brand=program.brand, item_id=item.pk
    )

    assert created and request.status == Status.FULFILLED
    account.refresh_from_db()
    assert account.available_points == 70
    assert request.hold.kind == Kind.HELD and request.hold.points == -30
    wallet = Wallet.objects.get(customer=account.customer, brand=program.brand)
    assert wallet.balance == Decimal("5.00")
    item.refresh_from_db()
    assert item.stock == 2
    events = set(Notification.objects.values_list("event", flat=True))
    assert {"loyalty.redemption.requested", "loyalty.redemption.approved"} <= events
    assert_ledger_invariants(account.pk)


@pytest.mark.django_db
def test_rejection_gives_points_and_stock_back_and_needs_a_reason():
    program = LoyaltyProgramFactory()
    account = funded(program, 100)
    item = make_item(program, stock=1, auto_approve=False, kind="physical", wallet_amount=None)
    request, _ = redemption_request(customer=account.customer, brand=program.brand, item_id=item.pk)
    staff = StaffUserFactory()

    with pytest.raises(ApplicationError) as refused:
        redemption_reject(request_id=request.pk, actor=staff, reason="  ")
    assert refused.value.fields == {"reason": ["Required."]}

    request, rejected = redemption_reject(request_id=request.pk, actor=staff, reason="Sold out.")
    again, rejected_again = redemption_reject(request_id=request.pk, actor=staff, reason="Again.")

    assert rejected and not rejected_again and again.reason == "Sold out."
    account.refresh_from_db()
    item.refresh_from_db()
    assert account.available_points == 100 and item.stock == 1
    assert LoyaltyTransaction.objects.filter(account=account, kind=Kind.RELEASED).count() == 1
    with pytest.raises(ConflictError) as late:
        redemption_approve(request_id=request.pk, actor=staff)
    assert late.value.code == "redemption_not_pending"
    assert Notification.objects.filter(event="loyalty.redemption.rejected").count() == 1
    assert_ledger_invariants(account.pk)


@pytest.mark.django_db
def test_physical_item_is_approved_then_sent_by_hand():
    program = LoyaltyProgramFactory()
    account = funded(program, 50)
    item = make_item(program, kind="physical", wallet_amount=None, auto_approve=False)
    request, _ = redemption_request(customer=account.customer, brand=program.brand, item_id=item.pk)
    staff = StaffUserFactory()

    request, approved = redemption_approve(request_id=request.pk, actor=staff)
    _, approved_again = redemption_approve(request_id=request.pk, actor=staff)
    assert approved and not approved_again
    assert request.status == Status.APPROVED and request.fulfilment_status == "to_send"
    with pytest.raises(ConflictError):
        redemption_cancel(request_id=request.pk, customer=account.customer)

    request = redemption_fulfil(
        request_id=request.pk, actor=staff, fulfilment_status="sent", note="Parcel 42"
    )
    assert request.status == Status.FULFILLED and request.fulfilment_note == "Parcel 42"
    account.refresh_from_db()
    assert account.available_points == 20
    assert not LoyaltyTransaction.objects.filter(account=account, kind=Kind.RELEASED).exists()
    assert_ledger_invariants(account.pk)


@pytest.mark.django_db
def test_refusals_name_the_reason_and_change_nothing():
    program = LoyaltyProgramFactory()
    gold = TierFactory(program=program, position=5, name="Gold")
    account = funded(program, 40)
    now = timezone.now()
    cases = {
        "insufficient_points": make_item(program, points_cost=41),
        "tier_too_low": make_item(program, minimum_tier=gold),
        "out_of_stock": make_item(program, stock=0),
        "not_valid_now": make_item(program, valid_from=now + timedelta(days=1)),
        "not_available": make_item(program, is_active=False),
    }
    for code, item in cases.items():
        with pytest.raises(ConflictError) as refused:
            redemption_request(customer=account.customer, brand=program.brand, item_id=item.pk)
        assert refused.value.code == code
    limited = make_item(program, points_cost=10, limit_per_period=1, period_days=30)
    redemption_request(customer=account.customer, brand=program.brand, item_id=limited.pk)
    with pytest.raises(ConflictError) as limit:
        redemption_request(customer=account.customer, brand=program.brand, item_id=limited.pk)
    assert limit.value.code == "limit_reached"

    account.refresh_from_db()
    assert account.available_points == 30
    assert RedemptionRequest.objects.count() == 1
    assert_ledger_invariants(account.pk)


@pytest.mark.django_db
def test_idempotency_key_replays_the_first_request():
    program = LoyaltyProgramFactory()
    account = funded(program, 100)
    item = make_item(program)
    other = make_item(program)

    first, created = redemption_request(
        customer=account.customer, brand=program.brand, item_id=item.pk, idempotency_key="k1"
    )
    replay, replayed_created = redemption_request(
        customer=account.customer, brand=program.brand, item_id=item.pk, idempotency_key="k1"
    )
    with pytest.raises(ConflictError) as reused:
        redemption_request(
            customer=account.customer, brand=program.brand, item_id=other.pk, idempotency_key="k1"
        )

    assert created and not replayed_created and replay.pk == first.pk
    assert reused.value.code == "idempotency_key_reused"
    account.refresh_from_db()
    assert account.available_points == 70


@pytest.mark.django_db
def test_released_points_keep_the_expiry_of_the_lots_they_came_from():
    program = LoyaltyProgramFactory(
        expiry_policy=LoyaltyProgram.ExpiryPolicy.AFTER_DAYS, expiry_days=10
    )
    account = funded(program, 100)
    original = LoyaltyLot.objects.get(account=account).expires_at
    item = make_item(program, auto_approve=False)
    request, _ = redemption_request(customer=account.customer, brand=program.brand, item_id=item.pk)

    request, _ = redemption_cancel(request_id=request.pk, customer=account.customer)

    assert request.status == Status.CANCELLED
    assert LoyaltyLot.objects.get(credit=request.release).expires_at == original
    assert_ledger_invariants(account.pk)


@pytest.mark.django_db
def test_sweep_expires_only_requests_waiting_too_long():
    program = LoyaltyProgramFactory()
    account = funded(program, 100)
    item = make_item(program, auto_approve=False, stock=5)
    old, _ = redemption_request(customer=account.customer, brand=program.brand, item_id=item.pk)
    RedemptionRequest.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=20)
    )
    fresh, _ = redemption_request(customer=account.customer, brand=program.brand, item_id=item.pk)

    assert redemptions_expire(after=timedelta(days=14)) == 1
    assert redemptions_expire(after=timedelta(days=14)) == 0

    old.refresh_from_db()
    fresh.refresh_from_db()
    item.refresh_from_db()
    account.refresh_from_db()
    assert (old.status, fresh.status) == (Status.EXPIRED, Status.REQUESTED)
    assert item.stock == 4 and account.available_points == 70
    assert_ledger_invariants(account.pk)


@pytest.mark.django_db(transaction=True)
def test_100_concurrent_requests_for_the_last_10_units():
    program = LoyaltyProgramFactory()
    accounts = [funded(program, 50) for _ in range(100)]
    item = make_item(program, stock=10, auto_approve=False, kind="physical", wallet_amount=None)

    results = run_together(
        [
            lambda account=account: redemption_request(
                customer=account.customer, brand=program.brand, item_id=item.pk
            )
            for account in accounts
        ],
        threads=25,
    )

    # 100 requests on 25 connections at once (the shared server allows 100 connections in all):
    # exactly 10 succeed, 90 are refused with out_of_stock, points are held for exactly 10
    assert codes(results) == Counter({"tuple": 10, "out_of_stock": 90})
    item.refresh_from_db()
    assert item.stock == 0
    held = LoyaltyTransaction.objects.filter(kind=Kind.HELD)
    assert held.count() == 10 and sum(held.values_list("points", flat=True)) == -300
    assert RedemptionRequest.objects.count() == 10
    winners = {result[0].customer_id for result in results if isinstance(result, tuple)}
    assert len(winners) == 10
    assert set(held.values_list("account__customer_id", flat=True)) == winners
    balances = Counter(
        LoyaltyAccount.objects.filter(pk__in=[a.pk for a in accounts]).values_list(
            "available_points", flat=True
        )
    )
    assert balances == Counter({20: 10, 50: 90})  # the refused kept every point
    for account in accounts:
        assert_ledger_invariants(account.pk)


@pytest.mark.django_db(transaction=True)
def test_10_concurrent_30_point_requests_from_100_points():
    program = LoyaltyProgramFactory()
    account = funded(program, 100)
    item = make_item(program, auto_approve=False)

    results = run_together(
        [
            lambda: redemption_request(
                customer=account.customer, brand=program.brand, item_id=item.pk
            )
        ]
        * 10,
        threads=10,
    )

    assert codes(results) == Counter({"tuple": 3, "insufficient_points": 7})
    account.refresh_from_db()
    assert account.available_points == 10
    held = LoyaltyTransaction.objects.filter(account=account, kind=Kind.HELD)
    assert sorted(held.values_list("points", flat=True)) == [-30, -30, -30]
    assert RedemptionRequest.objects.filter(customer=account.customer).count() == 3
    assert_ledger_invariants(account.pk)


@pytest.mark.django_db(transaction=True)
def test_duplicate_concurrent_decisions_happen_once():
    program = LoyaltyProgramFactory()
    account = funded(program, 300)
    item = make_item(program, auto_approve=False, stock=3)
    staff = StaffUserFactory()
    to_approve, to_reject, to_cancel = (
        redemption_request(customer=account.customer, brand=program.brand, item_id=item.pk)[0]
        for _ in range(3)
    )

    results = run_together(
        [lambda: redemption_approve(request_id=to_approve.pk, actor=staff)] * 4
        + [lambda: redemption_reject(request_id=to_reject.pk, actor=staff, reason="No.")] * 4
        + [lambda: redemption_cancel(request_id=to_cancel.pk, customer=account.customer)] * 4,
        threads=12,
    )

    made_now = Counter(
        result[0].status for result in results if isinstance(result, tuple) and result[1]
    )
    assert made_now == Counter({Status.FULFILLED: 1, Status.REJECTED: 1, Status.CANCELLED: 1})
    assert all(isinstance(result, tuple) for result in results)
    wallet = Wallet.objects.get(customer=account.customer, brand=program.brand)
    assert wallet.balance == Decimal("5.00")
    assert LoyaltyTransaction.objects.filter(kind=Kind.RELEASED).count() == 2
    account.refresh_from_db()
    item.refresh_from_db()
    assert account.available_points == 270 and item.stock == 2
    assert_ledger_invariants(account.pk)
