"""Badges: awarded once on the paid order that earns them, by a tier change, by the daily
review and by staff; evaluated with the facts loaded once."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from brands.tests.factories import BrandFactory, StoreFactory
from core.errors import ApplicationError
from core.models import OutboxMessage
from customers.services import customer_create
from loyalty_management.models import BadgeDefinition, CustomerBadge, LoyaltyAccount
from loyalty_management.selectors import badge_board
from loyalty_management.services.badges import (
    AWARDED_EVENT,
    badge_award_by_staff,
    badge_definition_save,
    badges_review,
    customer_badges_evaluate,
)
from loyalty_management.services.ledger import account_get_or_create, account_tier_review
from loyalty_management.tasks import evaluate_customer_badges_task
from loyalty_management.tests.factories import LoyaltyProgramFactory, TierFactory, make_order
from loyalty_management.tests.test_ledger_concurrency import run_together
from notifications.models import Notification
from orders.models import Order
from orders.services.payment import order_set_payment_status

PS = Order.PaymentStatus
Kind = BadgeDefinition.Kind


@pytest.fixture
def brand(db):
    return BrandFactory(slug="badge-brand")


@pytest.fixture
def customer(brand):
    return customer_create(brand=brand, email="fan@example.com")


def badge(brand, name="Regular", **data):
    data.setdefault("kind", Kind.ORDER_COUNT)
    if data["kind"] == Kind.ORDER_COUNT:
        data.setdefault("order_count", 3)
    return badge_definition_save(brand=brand, data={"name": name, **data})


def pay(brand, customer, total="10.00", store=None) -> Order:
    order = make_order(brand=brand, customer=customer, total=total)
    if store is not None:
        Order.objects.filter(pk=order.pk).update(store=store)
    order_set_payment_status(order_id=order.pk, to_status=PS.PAID)
    return order


def awards(customer) -> list[str]:
    return sorted(
        CustomerBadge.objects.filter(customer=customer).values_list("badge__name", flat=True)
    )


def evaluate(brand, customer):
    return customer_badges_evaluate(customer_id=customer.pk, brand_id=brand.pk, source="sweep")


def notices(customer) -> int:
    return Notification.objects.filter(event=AWARDED_EVENT, customer=customer).count()


def test_the_order_count_badge_is_awarded_on_the_nth_paid_order_and_not_before(
    brand, customer, django_capture_on_commit_callbacks
):
    regular = badge(brand, order_count=3)

    with django_capture_on_commit_callbacks(execute=True):
        pay(brand, customer)
        pay(brand, customer)
    assert awards(customer) == []

    with django_capture_on_commit_callbacks(execute=True):
        third = pay(brand, customer)

    award = CustomerBadge.objects.get(customer=customer)
    assert (award.badge, award.source, award.order_id) == (regular, "order", third.pk)
    assert notices(customer) == 1

    # A fourth paid order, a refund and a re-delivery change nothing: awarded once, kept.
    with django_capture_on_commit_callbacks(execute=True):
        pay(brand, customer)
        order_set_payment_status(order_id=third.pk, to_status=PS.REFUNDED)
    evaluate_customer_badges_task(customer_id=customer.pk, brand_id=brand.pk, order_id=third.pk)
    assert CustomerBadge.objects.filter(customer=customer).count() == 1
    assert notices(customer) == 1


def test_unpaid_and_refunded_orders_and_other_brands_do_not_count(brand, customer):
    badge(brand, order_count=2)
    other = BrandFactory(slug="other-brand")
    make_order(brand=brand, customer=customer, payment_status=PS.PENDING)
    make_order(brand=brand, customer=customer, payment_status=PS.REFUNDED)
    make_order(brand=other, customer=customer, payment_status=PS.PAID)
    make_order(brand=brand, customer=customer, payment_status=PS.PAID)

    assert (
        customer_badges_evaluate(customer_id=customer.pk, brand_id=brand.pk, source="sweep") == []
    )

    make_order(brand=brand, customer=customer, payment_status=PS.PARTIALLY_REFUNDED)
    awarded = evaluate(brand, customer)
    assert [a.badge.name for a in awarded] == ["Regular"]


def test_spend_and_store_badges_count_spend_net_of_refunds_and_different_stores(brand, customer):
    badge(brand, "Big spender", kind=Kind.LIFETIME_SPEND, spend_amount=Decimal("50.00"))
    badge(brand, "Explorer", kind=Kind.STORE_COUNT, store_count=2)
    one, two = StoreFactory(brand=brand), StoreFactory(brand=brand)
    order = make_order(brand=brand, customer=customer, total="40.00", payment_status=PS.PAID)
    Order.objects.filter(pk=order.pk).update(store=one)
    order = make_order(brand=brand, customer=customer, total="20.00", payment_status=PS.PAID)
    Order.objects.filter(pk=order.pk).update(store=one, refunded_amount=Decimal("10.01"))
    Order.objects.filter(pk=order.pk).update(payment_status=PS.PARTIALLY_REFUNDED)

    # 49.99 spent net of refunds, in one store
    assert (
        customer_badges_evaluate(customer_id=customer.pk, brand_id=brand.pk, source="sweep") == []
    )

    order = make_order(brand=brand, customer=customer, total="0.01", payment_status=PS.PAID)
    Order.objects.filter(pk=order.pk).update(store=two)
    awarded = evaluate(brand, customer)
    assert sorted(a.badge.name for a in awarded) == ["Big spender", "Explorer"]


def test_the_tier_badge_is_awarded_after_a_tier_change(
    brand, customer, django_capture_on_commit_callbacks
):
    program = LoyaltyProgramFactory(brand=brand)
    TierFactory(program=program, name="Bronze", position=1, threshold=Decimal("0"))
    gold = TierFactory(program=program, name="Gold", position=2, threshold=Decimal("100"))
    badge(brand, "Gold member", kind=Kind.TIER, tier=gold)

    with django_capture_on_commit_callbacks(execute=True):
        pay(brand, customer, total="60.00")
    assert LoyaltyAccount.objects.get(customer=customer).tier.name == "Bronze"
    assert awards(customer) == []

    with django_capture_on_commit_callbacks(execute=True):
        pay(brand, customer, total="60.00")

    account = LoyaltyAccount.objects.get(customer=customer)
    assert account.tier == gold
    assert awards(customer) == ["Gold member"]
    assert notices(customer) == 1


def test_a_tier_change_alone_enqueues_the_evaluation(
    brand, customer, django_capture_on_commit_callbacks
):
    program = LoyaltyProgramFactory(brand=brand)
    gold = TierFactory(program=program, name="Gold", position=1, threshold=Decimal("0"))
    badge(brand, "Gold member", kind=Kind.TIER, tier=gold)
    account = account_get_or_create(customer=customer, program=program)

    with django_capture_on_commit_callbacks(execute=True):
        account_tier_review(account_id=account.pk)

    award = CustomerBadge.objects.get(customer=customer)
    assert (award.badge.name, award.source) == ("Gold member", "tier")


@pytest.mark.django_db(transaction=True)
def test_duplicate_and_concurrent_deliveries_award_once():
    brand = BrandFactory(slug="race-brand")
    customer = customer_create(brand=brand, email="race@example.com")
    badge(brand, order_count=1)
    badge(brand, "Spender", kind=Kind.LIFETIME_SPEND, spend_amount=Decimal("5.00"))
    order = make_order(brand=brand, customer=customer)
    Order.objects.filter(pk=order.pk).update(payment_status=PS.PAID)  # no signal: no delivery yet
    results: list[int] = []

    def deliver():
        results.append(evaluate_customer_badges_task(customer_id=customer.pk, brand_id=brand.pk))

    errors = run_together([deliver] * 8)

    assert errors == []
    assert sum(results) == 2
    assert CustomerBadge.objects.filter(customer=customer).count() == 2
    assert notices(customer) == 2


def test_the_review_awards_what_was_missed_and_nothing_new_when_run_again(brand, customer):
    badge(brand, order_count=1)
    others = [customer_create(brand=brand, email=f"c{i}@example.com") for i in range(3)]
    for person in [customer, *others[:2]]:
        make_order(brand=brand, customer=person, payment_status=PS.PAID)

    assert badges_review(batch_size=2) == 3
    assert badges_review(batch_size=2) == 0
    assert CustomerBadge.objects.filter(source="sweep").count() == 3
    assert awards(others[2]) == []


def _evaluation_queries(brand, email: str) -> list[str]:
    person = customer_create(brand=brand, email=email)
    make_order(brand=brand, customer=person, payment_status=PS.PAID)
    with CaptureQueriesContext(connection) as captured:
        awarded = customer_badges_evaluate(customer_id=person.pk, brand_id=brand.pk, source="order")
    assert [a.badge.name for a in awarded] == ["First"]
    return [query["sql"] for query in captured.captured_queries]


def test_the_evaluation_takes_the_same_queries_for_1_or_20_badges(brand):
    program = LoyaltyProgramFactory(brand=brand)
    tier = TierFactory(program=program, position=5)
    badge(brand, "First", order_count=1)
    one = _evaluation_queries(brand, "one@example.com")

    kinds = [
        {"kind": Kind.ORDER_COUNT, "order_count": 9},
        {"kind": Kind.LIFETIME_SPEND, "spend_amount": Decimal("999")},
        {"kind": Kind.STORE_COUNT, "store_count": 4},
        {"kind": Kind.TIER, "tier": tier},
        {"kind": Kind.MANUAL},
    ]
    for index in range(19):
        badge(brand, f"Badge {index}", **kinds[index % len(kinds)])
    twenty = _evaluation_queries(brand, "twenty@example.com")

    assert len(twenty) == len(one)
    # The facts: badges, customer, held badges, order aggregates, tier; before the award.
    assert len([sql for sql in one if "loyalty_management_customerbadge" in sql]) <= 4


def test_staff_award_manual_badges_once_to_customers_of_the_brand(brand, customer, a):
    hero = badge(brand, "Local hero", kind=Kind.MANUAL)

    award, created = badge_award_by_staff(badge=hero, customer=customer, actor=a.staff, note="Met")
    again, created_again = badge_award_by_staff(badge=hero, customer=customer, actor=a.staff)

    assert (created, created_again, again.pk) == (True, False, award.pk)
    assert (award.source, award.awarded_by, award.note) == ("staff", a.staff, "Met")
    stranger = customer_create(brand=BrandFactory(slug="elsewhere"), email="x@example.com")
    with pytest.raises(ApplicationError) as error:
        badge_award_by_staff(badge=hero, customer=stranger, actor=a.staff)
    assert error.value.fields == {"customer": ["The customer is not known to the badge's brand."]}


def test_definitions_take_the_one_threshold_of_their_kind(brand):
    other_tier = TierFactory(program=LoyaltyProgramFactory(brand=BrandFactory(slug="x")))
    cases = [
        ({"kind": Kind.ORDER_COUNT}, "order_count"),
        ({"kind": Kind.ORDER_COUNT, "order_count": 0}, "order_count"),
        ({"kind": Kind.LIFETIME_SPEND, "spend_amount": Decimal("-1")}, "spend_amount"),
        ({"kind": Kind.STORE_COUNT}, "store_count"),
        ({"kind": Kind.TIER, "tier": other_tier}, "tier"),
        ({"kind": "nonsense"}, "kind"),
    ]
    for data, field in cases:
        with pytest.raises(ApplicationError) as error:
            badge_definition_save(brand=brand, data={"name": "B", **data})
        assert list(error.value.fields) == [field], data
    assert not BadgeDefinition.objects.exists()

    # A kind changed to manual drops its old threshold.
    saved = badge(brand, order_count=2)
    saved = badge_definition_save(badge=saved, data={"kind": Kind.MANUAL})
    assert (saved.kind, saved.order_count) == ("manual", None)
    with pytest.raises(ApplicationError) as error:
        badge(brand, order_count=2)
    assert list(error.value.fields) == ["name"]


def test_the_board_shows_earned_badges_and_progress_to_the_others(brand, customer):
    badge(brand, "Regular", order_count=5)
    badge(brand, "First", order_count=1)
    badge(brand, "Hero", kind=Kind.MANUAL)
    badge(brand, "Retired", order_count=1, is_active=False)
    for _ in range(3):
        make_order(brand=brand, customer=customer, payment_status=PS.PAID)
    customer_badges_evaluate(customer_id=customer.pk, brand_id=brand.pk, source="sweep")

    board = badge_board(customer=customer, brand_id=brand.pk)

    assert [a.badge.name for a in board.earned] == ["First"]
    assert [(t.badge.name, t.current, t.target) for t in board.to_earn] == [
        ("Hero", None, None),
        ("Regular", Decimal(3), Decimal(5)),
    ]


def test_the_evaluation_is_owed_only_when_an_order_becomes_paid(brand, customer):
    badge(brand, order_count=1)
    order = make_order(brand=brand, customer=customer)

    order_set_payment_status(order_id=order.pk, to_status=PS.PAID)
    order_set_payment_status(order_id=order.pk, to_status=PS.REFUNDED)
    make_order(brand=brand, customer=None, payment_status=PS.PAID)

    owed = OutboxMessage.objects.filter(task="loyalty_management.evaluate_customer_badges")
    assert [message.kwargs for message in owed] == [
        {"customer_id": customer.pk, "brand_id": brand.pk, "source": "order", "order_id": order.pk}
    ]
