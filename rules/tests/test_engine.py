"""The rules engine: matching, the firing log, actions and their failures, events emitted by
services and evaluated after commit, the daily sweep, and a fixed number of queries."""

import time
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.tests.api_world import build_tenant
from customers.services import customer_create
from labels.models import CustomerLabel, Label
from labels.services import label_assign_customer
from loyalty_management.models import LoyaltyProgram, LoyaltyTransaction
from notifications.models import Notification
from orders.services.payment import order_set_payment_status
from orders.services.placement import LineRequest, basket_price, order_place
from rules.engine import rule_dry_run
from rules.models import Event, Rule, RuleAction, RuleFiring
from rules.services.events import rules_daily_sweep, rules_event_evaluate
from rules.tests.factories import committed, make_rule, vip_label, vip_rule

pytestmark = pytest.mark.django_db


def customer_label(name: str, brand=None) -> Label:
    return Label.objects.get_or_create(name=name, type="customer", brand=brand)[0]


def place(tenant, quantity=2):
    order, _ = order_place(
        brand=tenant.brand,
        lines=[LineRequest(product_id=tenant.product.pk, quantity=quantity)],
        customer=tenant.customer,
    )
    return order


def every_condition(count: int) -> list[dict]:
    """`count` conditions over every kind of fact (all true for the tenant's first order)."""
    pool = [
        {"entity": "CUSTOMER", "field": "order_count", "operator": "GTE", "value": "0"},
        {"entity": "CUSTOMER", "field": "lifetime_spend", "operator": "LT", "value": "999999"},
        {"entity": "CUSTOMER", "field": "tier", "operator": "NOT_EQUALS", "value": "Gold"},
        {"entity": "CUSTOMER", "field": "days_since_signup", "operator": "BETWEEN", "value": "0,9"},
        {"entity": "CUSTOMER", "operator": "NOT_HAS_LABEL", "label": customer_label("Banned")},
        {"entity": "ORDER", "field": "subtotal", "operator": "GT", "value": "0"},
        {"entity": "ORDER", "field": "channel", "operator": "IN", "value": "web,app"},
        {"entity": "PRODUCT", "field": "sku", "operator": "CONTAINS", "value": "APPLE"},
        {"entity": "PRODUCT", "field": "category", "operator": "IN", "value": "food-a,other"},
    ]
    return [pool[index % len(pool)] for index in range(count)]


# --- A fixed number of queries --------------------------------------------------------------


def _event_queries(a, conditions: int) -> int:
    Rule.objects.all().delete()
    make_rule(
        name=f"{conditions} conditions",
        event=Event.ORDER_PAID,
        conditions=every_condition(conditions),
        actions=[],
    )
    order = a.order
    rules_event_evaluate(  # warm the rule cache
        event=Event.ORDER_PAID, event_id="warm", brand_id=a.brand.pk, order_id=order.pk
    )
    with CaptureQueriesContext(connection) as queries:
        firings = rules_event_evaluate(
            event=Event.ORDER_PAID,
            event_id=f"measured-{conditions}",
            brand_id=a.brand.pk,
            order_id=order.pk,
        )
    assert len(firings) == 1 and firings[0].outcome == "applied", firings
    return len(queries)


def test_an_event_costs_the_same_queries_for_one_or_forty_conditions(a):
    one = _event_queries(a, 1)
    forty = _event_queries(a, 40)

    assert one == forty
    # order + brand + lines + product labels + labels + stats + tier, then per firing:
    # savepoint, insert, release, update (plus the transaction's savepoints around them)
    assert forty <= 14


def test_pricing_costs_the_same_queries_for_one_or_fifty_rules(a):
    def queries_for(rules: int, conditions: int) -> int:
        Rule.objects.all().delete()
        for index in range(rules):
            make_rule(
                name=f"rule {index}",
                conditions=every_condition(conditions),
                actions=[("DISCOUNT", {"amount": "0.01"})],
            )
        lines = [LineRequest(product_id=a.product.pk, quantity=1)]
        basket_price(brand=a.brand, lines=lines, customer=a.customer)  # warm the caches
        with CaptureQueriesContext(connection) as queries:
            priced = basket_price(brand=a.brand, lines=lines, customer=a.customer)
        assert priced.rule_discount_total == rules
        return len(queries)

    assert queries_for(1, 1) == queries_for(50, 9)


# --- Broken rules and failing actions ---------------------------------------------------------


def test_a_broken_rule_never_applies_a_discount_and_its_failure_is_logged(a):
    rule = vip_rule()
    committed(label_assign_customer, label=vip_label(), customer=a.customer)
    # Edited around validation (say, directly in the database): over 100%.
    committed(RuleAction.objects.filter(rule=rule).update, action_params={"percentage": 150})
    committed(rule.save)  # any save rebuilds the cached rule list

    order = place(a)

    assert order.discount_amount == Decimal("0.00")
    firing = RuleFiring.objects.get(rule=rule)
    assert firing.outcome == "failed"
    assert "percentage must be at most 100" in firing.error


def test_a_failing_action_is_logged_and_the_order_and_other_actions_stand(a):
    LoyaltyProgram.objects.filter(brand=a.brand).delete()
    rule = make_rule(
        name="Discount and points",
        actions=[
            ("DISCOUNT", {"amount": "1.00", "description": "One off"}),
            ("AWARD_BONUS_POINTS", {"points": 50}),
            ("ADD_LABEL", {"label": customer_label("Welcomed").name}),
        ],
    )

    order = place(a)

    assert order.pk is not None and order.discount_amount == Decimal("1.00")
    firing = RuleFiring.objects.get(rule=rule)
    assert firing.outcome == "failed"
    assert "AWARD_BONUS_POINTS: The brand has no active loyalty program." in firing.error
    assert [action.get("error") is None for action in firing.actions] == [True, False, True]
    assert CustomerLabel.objects.filter(customer=a.customer, label__name="Welcomed").exists()


# --- Events from services, after commit -------------------------------------------------------


def test_order_paid_rules_run_after_commit_and_once_per_event(a):
    LoyaltyProgram.objects.get_or_create(brand=a.brand, defaults={"name": "Points"})
    rule = make_rule(
        name="Paid bonus",
        event=Event.ORDER_PAID,
        conditions=[{"entity": "ORDER", "field": "total", "operator": "GTE", "value": "10"}],
        actions=[("AWARD_BONUS_POINTS", {"points": 25, "reason": "Thanks"})],
    )
    order = place(a)

    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        order_set_payment_status(order_id=order.pk, to_status="paid")
    assert not RuleFiring.objects.filter(rule=rule).exists()  # nothing before the commit
    for callback in callbacks:  # the commit: the emitted event's task runs (eagerly here)
        callback()

    firing = RuleFiring.objects.get(rule=rule)
    assert (firing.event, firing.object_id, firing.outcome) == ("order.paid", order.pk, "applied")
    bonus = LoyaltyTransaction.objects.get(kind="bonus")
    assert (bonus.points, bonus.reason, bonus.order_id) == (25, "Thanks", order.pk)

    # A duplicate delivery of the same event does nothing.
    rules_event_evaluate(
        event=Event.ORDER_PAID, event_id=firing.event_id, brand_id=a.brand.pk, order_id=order.pk
    )
    assert RuleFiring.objects.filter(rule=rule).count() == 1
    assert LoyaltyTransaction.objects.filter(kind="bonus").count() == 1


def test_a_rolled_back_payment_fires_nothing(a):
    rule = make_rule(name="Paid", event=Event.ORDER_PAID, actions=[("NOTIFY", {"event": "x.y"})])
    order = place(a)

    with TestCase.captureOnCommitCallbacks(execute=True):
        try:
            with transaction.atomic():
                order_set_payment_status(order_id=order.pk, to_status="paid")
                raise RuntimeError("payment provider said no after all")
        except RuntimeError:
            pass

    assert not RuleFiring.objects.filter(rule=rule).exists()


def test_customer_labeled_rules_notify_and_refunds_emit_their_event(a):
    gold = customer_label("Gold")
    make_rule(
        name="Welcome to gold",
        event=Event.CUSTOMER_LABELED,
        conditions=[{"entity": "CUSTOMER", "operator": "HAS_LABEL", "label": gold}],
        actions=[("NOTIFY", {"event": "rules.gold_welcome", "payload": {"perk": "lounge"}})],
    )

    committed(label_assign_customer, label=gold, customer=a.customer)

    notification = Notification.objects.get(event="rules.gold_welcome")
    assert notification.customer_id == a.customer.pk
    assert notification.payload["perk"] == "lounge"
    assert notification.payload["rule"] == "Welcome to gold"


def test_customer_created_rules_label_new_customers(a):
    newcomer = customer_label("Newcomer", brand=a.brand)
    make_rule(
        name="Tag newcomers",
        event=Event.CUSTOMER_CREATED,
        brand=a.brand,
        actions=[("ADD_LABEL", {"label": "Newcomer"})],
    )

    customer = committed(customer_create, brand=a.brand, email="new@example.com")

    assert CustomerLabel.objects.filter(customer=customer, label=newcomer).exists()


def test_rules_labeling_each_other_stop_after_a_few_steps(a):
    ping, pong = customer_label("Ping"), customer_label("Pong")
    make_rule(
        name="ping → pong",
        event=Event.CUSTOMER_LABELED,
        actions=[("REMOVE_LABEL", {"label": "Ping"}), ("ADD_LABEL", {"label": "Pong"})],
        conditions=[{"entity": "CUSTOMER", "operator": "HAS_LABEL", "label": ping}],
    )
    make_rule(
        name="pong → ping",
        event=Event.CUSTOMER_LABELED,
        actions=[("REMOVE_LABEL", {"label": "Pong"}), ("ADD_LABEL", {"label": "Ping"})],
        conditions=[{"entity": "CUSTOMER", "operator": "HAS_LABEL", "label": pong}],
    )

    committed(label_assign_customer, label=ping, customer=a.customer)

    # the first event and three more caused by rule actions, then the chain stops
    assert RuleFiring.objects.count() == 4


def test_daily_sweep_fires_once_per_customer_and_day(a):
    birthday = customer_label("Birthday month")
    make_rule(
        name="Birthday",
        event=Event.SCHEDULE_DAILY,
        conditions=[
            {
                "entity": "CUSTOMER",
                "field": "birthday_this_month",
                "operator": "EQUALS",
                "value": "yes",
            }
        ],
        actions=[("ADD_LABEL", {"label": "Birthday month"})],
    )
    today = timezone.localdate()
    a.customer.birth_date = date(1990, today.month, 1)
    a.customer.save(update_fields=["birth_date"])
    other = customer_create(
        brand=a.brand,
        email="other@example.com",
        birth_date=date(1990, 1, 1) if today.month != 1 else date(1990, 2, 1),
    )

    first = committed(rules_daily_sweep)
    again = committed(rules_daily_sweep)

    assert (first, again) == (1, 0)
    assert CustomerLabel.objects.filter(customer=a.customer, label=birthday).exists()
    assert not CustomerLabel.objects.filter(customer=other, label=birthday).exists()


def test_validity_window_and_brand_scope(a):
    b = build_tenant("b")
    make_rule(
        name="Later",
        valid_from=timezone.now() + timedelta(days=1),
        actions=[("DISCOUNT", {"amount": "1.00"})],
    )
    make_rule(name="Brand B only", brand=b.brand, actions=[("DISCOUNT", {"amount": "2.00"})])

    order = place(a)

    assert order.discount_amount == Decimal("0.00")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_order_paid_rules(live_celery_worker):
    a = build_tenant("w")
    paid = customer_label("Paid once")
    rule = make_rule(
        name="Label payers",
        event=Event.ORDER_PAID,
        actions=[("ADD_LABEL", {"label": paid.name})],
    )
    order = place(a)

    order_set_payment_status(order_id=order.pk, to_status="paid")  # commits; task via Redis

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not RuleFiring.objects.filter(rule=rule).exists():
        time.sleep(0.1)
    firing = RuleFiring.objects.filter(rule=rule).first()
    assert firing is not None, live_celery_worker.log()
    assert firing.outcome == "applied", firing.error
    assert CustomerLabel.objects.filter(customer=a.customer, label=paid).exists()
    assert "rules.evaluate_event[" in live_celery_worker.log()


def test_dry_run_explains_and_changes_nothing(a):
    rule = vip_rule()
    committed(label_assign_customer, label=vip_label(), customer=a.customer)
    order = a.order  # 2 x 12.50, placed before the rule existed
    firings_before = RuleFiring.objects.count()

    vip = rule_dry_run(rule=rule, order=order)
    stranger = rule_dry_run(rule=rule, customer=build_tenant("c").customer)

    assert vip.fires and vip.broken == ""
    assert vip.conditions == [("CUSTOMER HAS_LABEL Customer_VIP", True)]
    assert vip.actions == [
        "Discount 10% of what remains (VIP New Order Discount): 2.50 off this order"
    ]
    assert not stranger.fires and stranger.actions == []
    assert stranger.conditions == [("CUSTOMER HAS_LABEL Customer_VIP", False)]
    assert RuleFiring.objects.count() == firings_before
    order.refresh_from_db()
    assert order.discount_amount == Decimal("0.00")
