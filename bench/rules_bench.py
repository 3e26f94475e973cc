"""The order pipeline with rules: 10,000 orders placed through `order_place` (catalog lines →
promotions → 50 enabled `order.created` rules → totals → write → firing log), against the same
orders with no rules. Also the pure rule stage alone (match + discount plan) per basket."""

import random
import statistics
import time
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from brands.models import Brand
from catalog.models import Category, Product
from customers.services import customer_create
from labels.models import CustomerLabel, Label
from orders.selectors import pricing_context_build
from orders.services.placement import LineRequest, basket_lines_resolve, order_place
from orders.services.pricing import basket_order_facts, price_basket
from rules.engine import discount_plan, rules_match
from rules.models import Event, Rule, RuleAction, RuleCondition, RuleTrigger
from rules.selectors import rules_cache_invalidate, rules_for_event

RULES = 50


def _rules(brand, labels, categories, rng) -> None:
    trigger = RuleTrigger.objects.create(name="Bench", code="bench", event=Event.ORDER_CREATED)
    for index in range(RULES):
        rule = Rule.objects.create(
            name=f"Bench rule {index}", trigger=trigger, brand=brand, priority=rng.randint(0, 9)
        )
        kind = index % 5
        conditions = {
            0: [{"entity": "CUSTOMER", "operator": "HAS_LABEL", "label": rng.choice(labels)}],
            1: [{"entity": "ORDER", "field": "total", "operator": "GTE", "value": "20"}],
            2: [
                {
                    "entity": "PRODUCT",
                    "field": "category",
                    "operator": "EQUALS",
                    "value": rng.choice(categories).slug,
                }
            ],
            3: [
                {"entity": "CUSTOMER", "field": "order_count", "operator": "GTE", "value": "0"},
                {"entity": "ORDER", "field": "line_count", "operator": "BETWEEN", "value": "2,5"},
            ],
            4: [
                {"entity": "ORDER", "field": "channel", "operator": "IN", "value": "web,app"},
                {"entity": "CUSTOMER", "operator": "NOT_HAS_LABEL", "label": labels[0]},
            ],
        }[kind]
        for condition in conditions:
            RuleCondition.objects.create(rule=rule, **condition)
        RuleAction.objects.create(
            rule=rule, action_type="DISCOUNT", action_params={"percentage": "1", "base": "subtotal"}
        )


def _place(brand, customers, products, rng, count: int) -> list[float]:
    timings = []
    for _ in range(count):
        lines = [
            LineRequest(product_id=p.pk, quantity=rng.randint(1, 3))
            for p in rng.sample(products, rng.randint(1, 5))
        ]
        started = time.perf_counter()
        order_place(brand=brand, lines=lines, customer=rng.choice(customers))
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _row(name: str, timings: list[float]) -> str:
    timings = sorted(timings)
    p95 = timings[int(len(timings) * 0.95) - 1]
    total = sum(timings) / 1000
    return (
        f"| {name} | {len(timings):,} | {statistics.median(timings):.2f} | {p95:.2f} "
        f"| {len(timings) / total:,.0f} |"
    )


def main(orders: int = 10_000) -> None:
    rng = random.Random(11)
    brand = Brand.objects.create(name="Rules", slug="rules-bench", currency="EUR")
    categories = [
        Category.objects.create(brand=brand, name=f"C{i}", slug=f"c{i}") for i in range(10)
    ]
    products = list(
        Product.objects.bulk_create(
            Product(
                brand=brand,
                sku=f"R{i}",
                name=f"R{i}",
                price=Decimal(rng.choice(["1.99", "4.50", "9.90", "24.00"])),
                category=rng.choice(categories),
            )
            for i in range(200)
        )
    )
    labels = [Label.objects.create(name=f"L{i}", type="customer", brand=brand) for i in range(5)]
    customers = []
    with transaction.atomic():
        for index in range(200):
            customer = customer_create(brand=brand, email=f"rules-{index}@example.com")
            customers.append(customer)
            for label in rng.sample(labels, rng.randint(0, 2)):
                CustomerLabel.objects.create(customer=customer, label=label)

    baseline = _place(brand, customers, products, rng, max(orders // 5, 100))
    _rules(brand, labels, categories, rng)
    rules_cache_invalidate()
    with_rules = _place(brand, customers, products, rng, orders)

    # The rule stage alone, on baskets priced without rules (no I/O in the stage).
    rules = rules_for_event(event=Event.ORDER_CREATED, brand_id=brand.pk)
    stage = []
    for _ in range(2000):
        requested = [
            LineRequest(product_id=p.pk, quantity=rng.randint(1, 3))
            for p in rng.sample(products, rng.randint(1, 5))
        ]
        context = pricing_context_build(
            brand=brand,
            channel="web",
            at=timezone.now(),
            customer=rng.choice(customers),
            rules=rules,
        )
        priced = price_basket(
            lines=basket_lines_resolve(brand=brand, lines=requested), context=context
        )
        started = time.perf_counter()
        match = rules_match(
            rules,
            at=context.at,
            customer=context.customer_facts,
            order=basket_order_facts(priced, context),
        )
        discount_plan(match.rules, subtotal=priced.subtotal, remaining=priced.total, currency="EUR")
        stage.append((time.perf_counter() - started) * 1000)

    print(f"\nOrder pipeline with rules ({Rule.objects.count()} enabled order.created rules)")
    print("| run | orders | median ms/order | p95 ms/order | orders/s |")
    print("|---|---:|---:|---:|---:|")
    print(_row("no rules", baseline))
    print(_row(f"{RULES} rules", with_rules))
    print(_row(f"rule stage alone, {RULES} rules (match + plan)", stage))
