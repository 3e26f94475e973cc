"""The rules engine: match rules against an event's facts, run their actions, log each firing.

`evaluate(event, context)` is the entry point for events: it loads the event's rules for the
brand (cached, `rules.selectors.rules_for_event`), the customer's facts once, matches every rule
(pure: `rules_match`), and runs the matched rules' actions in priority order inside the caller's
transaction. Each action runs in a savepoint: one that fails is logged with its error and the
others, and the caller, go on. A rule whose stored definition no longer validates is `broken`:
it never runs, and its failure is logged.

Discounts are not actions run after the fact: on `order.created` the pricing pipeline
(`orders.services.pricing`) matches the rules against the basket after promotions and applies
`discount_plan`, so a quote and the order it becomes get the same discount. The order's other
`order.created` actions then run through `firings_run` once the order exists.
"""

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from core.money import from_minor, to_minor
from promotions.services.calculator import percent_of
from rules.models import RuleFiring
from rules.params import CATEGORY, FIELDS, LABEL_OPERATORS, ConditionSpec
from rules.selectors import CompiledRule, CustomerFacts, OrderFacts

logger = logging.getLogger(__name__)


# --- Matching (pure) ------------------------------------------------------------------------


def _compare(operator: str, actual, expected) -> bool:
    if isinstance(actual, str):
        actual = actual.casefold()
        if isinstance(expected, tuple):
            expected = tuple(e.casefold() if isinstance(e, str) else e for e in expected)
        elif isinstance(expected, str):
            expected = expected.casefold()
    if operator == "EQUALS":
        return actual == expected
    if operator == "NOT_EQUALS":
        return actual != expected
    if operator == "GT":
        return actual > expected
    if operator == "GTE":
        return actual >= expected
    if operator == "LT":
        return actual < expected
    if operator == "LTE":
        return actual <= expected
    if operator == "IN":
        return actual in expected
    if operator == "BETWEEN":
        return expected[0] <= actual <= expected[1]
    if operator == "CONTAINS":
        return expected in actual
    raise ValueError(f"unknown operator {operator}")


def _line_holds(spec: ConditionSpec, line) -> bool:
    if FIELDS["PRODUCT"][spec.field] == CATEGORY:
        inside = line.category_id in spec.value
        return not inside if spec.operator == "NOT_EQUALS" else inside
    return _compare(spec.operator, line.sku, spec.value)


def condition_holds(
    spec: ConditionSpec, customer: CustomerFacts | None, order: OrderFacts | None
) -> bool:
    """Whether one condition holds. A customer condition on an anonymous event, or an order or
    product condition on an event without an order, does not hold."""
    if spec.entity == "CUSTOMER":
        if customer is None:
            return False
        if spec.operator in LABEL_OPERATORS:
            has = spec.label_id in customer.label_ids
            return has if spec.operator == "HAS_LABEL" else not has
        return _compare(spec.operator, getattr(customer, spec.field), spec.value)
    if order is None:
        return False
    if spec.entity == "ORDER":
        return _compare(spec.operator, getattr(order, spec.field), spec.value)
    if spec.operator in LABEL_OPERATORS:
        has = any(spec.label_id in line.label_ids for line in order.lines)
        return has if spec.operator == "HAS_LABEL" else not has
    return any(_line_holds(spec, line) for line in order.lines)


def conditions_results(
    rule: CompiledRule, customer: CustomerFacts | None, order: OrderFacts | None
) -> list[bool]:
    return [condition_holds(spec, customer, order) for spec in rule.conditions]


def rule_holds(rule: CompiledRule, results: Sequence[bool]) -> bool:
    """Group 0 conditions are ANDed; each group above 0 needs one of its conditions."""
    groups: dict[int, bool] = {}
    for spec, holds in zip(rule.conditions, results, strict=True):
        if spec.group == 0:
            if not holds:
                return False
        else:
            groups[spec.group] = groups.get(spec.group, False) or holds
    return all(groups.values())


def _in_validity(rule: CompiledRule, at: datetime) -> bool:
    return (rule.valid_from is None or rule.valid_from <= at) and (
        rule.valid_until is None or at < rule.valid_until
    )


@dataclass(frozen=True)
class Match:
    rules: tuple[CompiledRule, ...]  # the rules that fire, in priority order
    broken: tuple[CompiledRule, ...]  # rules that could not be evaluated


def rules_match(
    rules: Iterable[CompiledRule],
    *,
    at: datetime,
    customer: CustomerFacts | None,
    order: OrderFacts | None,
) -> Match:
    """The rules that fire, highest priority first; a firing rule with `stop_processing` ends
    the list. Pure."""
    fired, broken = [], []
    for rule in sorted(rules, key=lambda r: (-r.priority, r.id)):
        if not _in_validity(rule, at):
            continue
        if rule.broken:
            broken.append(rule)
            continue
        if rule_holds(rule, conditions_results(rule, customer, order)):
            fired.append(rule)
            if rule.stop_processing:
                break
    return Match(rules=tuple(fired), broken=tuple(broken))


# --- Discounts (pure) -------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleDiscount:
    rule_id: int
    name: str
    description: str
    percentage: Decimal | None
    amount: int  # minor units


def _discounts(
    rules: Sequence[CompiledRule], *, subtotal: int, remaining: int, currency: str
) -> list[RuleDiscount]:
    """Every DISCOUNT action of `rules` in order, with what it gives (zero included)."""
    left = remaining
    given = []
    for rule in rules:
        for action_type, params in rule.actions:
            if action_type != "DISCOUNT":
                continue
            base = subtotal if params["base"] == "subtotal" else remaining
            percentage = Decimal(params["percentage"]) if "percentage" in params else None
            if percentage is not None:
                amount = percent_of(base, int(percentage * 100))
            else:
                amount = to_minor(Decimal(params["amount"]), currency)
            if "max_amount" in params:
                amount = min(amount, to_minor(Decimal(params["max_amount"]), currency))
            amount = max(0, min(amount, left))
            left -= amount
            given.append(
                RuleDiscount(
                    rule_id=rule.id,
                    name=rule.name,
                    description=params["description"] or rule.name,
                    percentage=percentage,
                    amount=amount,
                )
            )
    return given


def discount_plan(
    rules: Sequence[CompiledRule], *, subtotal: int, remaining: int, currency: str
) -> list[RuleDiscount]:
    """The DISCOUNT actions of the firing rules that give something, in priority order, in
    minor units.

    Each discount is computed on its base: what remains after promotions (`base` "remaining",
    the default) or the original subtotal (`base` "subtotal"); a percentage rounds half up
    once; `max_amount` caps it. Together they never exceed what remains after promotions, so
    the order total never goes below zero: a later discount gets only what is left.
    """
    discounts = _discounts(rules, subtotal=subtotal, remaining=remaining, currency=currency)
    return [discount for discount in discounts if discount.amount]


# --- Running actions and logging ----------------------------------------------------------------


@dataclass
class EventContext:
    """One occurrence of an event: what happened, to what, and the facts loaded for it."""

    event: str
    event_id: str
    brand_id: int | None
    at: datetime
    object_type: str
    object_id: int
    customer: object | None = None  # customers.models.Customer
    order: object | None = None  # orders.models.Order
    customer_facts: CustomerFacts | None = None
    order_facts: OrderFacts | None = None
    time_zone: object = None  # the brand's zone (tzinfo), for dates like birthdays
    depth: int = 0  # how many rule actions led to this event (loops stop at MAX_EVENT_DEPTH)
    applied_discounts: dict[int, list[str]] = field(default_factory=dict)  # rule → amounts


def _action_run(action_type: str, params: dict, rule: CompiledRule, ctx: EventContext) -> dict:
    """Run one action; returns what it did. Raises on failure (the caller logs it)."""
    from rules.actions import ACTION_RUNNERS

    if action_type == "DISCOUNT":
        given = ctx.applied_discounts.get(rule.id, [])
        return {
            "type": action_type,
            "amounts": given,
            "detail": "applied by the pricing pipeline" if given else "nothing left to discount",
        }
    return {"type": action_type, **ACTION_RUNNERS[action_type](params, rule, ctx)}


def _firing(rule: CompiledRule, ctx: EventContext, **fields) -> RuleFiring:
    return RuleFiring(
        rule_id=rule.id,
        rule_name=rule.name,
        event=ctx.event,
        event_id=ctx.event_id,
        brand_id=ctx.brand_id,
        object_type=ctx.object_type,
        object_id=ctx.object_id,
        customer_id=ctx.customer.pk if ctx.customer is not None else None,
        **fields,
    )


def firings_run(match: Match, ctx: EventContext) -> list[RuleFiring]:
    """Run the actions of the firing rules in priority order and log each firing (and each
    broken rule) with one insert.

    A rule fires at most once per event occurrence: rules already logged for `ctx.event_id`
    are skipped (a duplicate delivery after the first committed), and the log's unique
    constraint makes a concurrent duplicate fail its insert, rolling back its actions with it.
    Each action that writes runs in a savepoint, so a failing one is logged and undone alone.
    """
    done_before = set(
        RuleFiring.objects.filter(event_id=ctx.event_id).values_list("rule_id", flat=True)
    )
    firings = []
    for rule in match.broken:
        if rule.id not in done_before:
            logger.error("rule %s is broken and was skipped: %s", rule.id, rule.broken)
            firings.append(
                _firing(
                    rule,
                    ctx,
                    outcome=RuleFiring.Outcome.FAILED,
                    error=f"Rule skipped: {rule.broken}",
                    duration_ms=Decimal("0.000"),
                )
            )
    for rule in match.rules:
        if rule.id in done_before:
            continue
        started = time.perf_counter()
        done, errors = [], []
        for action_type, params in rule.actions:
            try:
                if action_type == "DISCOUNT":  # no writes: nothing to undo
                    done.append(_action_run(action_type, params, rule, ctx))
                else:
                    with transaction.atomic():
                        done.append(_action_run(action_type, params, rule, ctx))
            except Exception as error:
                logger.exception("rule %s action %s failed", rule.id, action_type)
                errors.append(f"{action_type}: {error}")
                done.append({"type": action_type, "error": str(error)})
        firings.append(
            _firing(
                rule,
                ctx,
                outcome=RuleFiring.Outcome.FAILED if errors else RuleFiring.Outcome.APPLIED,
                actions=done,
                error="\n".join(errors),
                duration_ms=Decimal(f"{(time.perf_counter() - started) * 1000:.3f}"),
            )
        )
    return RuleFiring.objects.bulk_create(firings) if firings else []


def evaluate(event: str, ctx: EventContext, *, rules: Sequence[CompiledRule] | None = None):
    """Match the event's rules for the brand and run them (see the module docstring).

    Queries: the cached rule list (none on a hit), the customer's facts when some rule tests
    them (a fixed number), the log's duplicate check and one insert for all firings, plus
    what the actions write — never a query per condition or per rule.
    """
    from rules.selectors import customer_facts, rules_for_event

    if rules is None:
        rules = rules_for_event(event=event, brand_id=ctx.brand_id)
    if not rules:
        return []
    if ctx.customer is not None and ctx.customer_facts is None:
        ctx.customer_facts = customer_facts(
            customer=ctx.customer,
            brand_id=ctx.brand_id,
            at=ctx.at,
            time_zone=ctx.time_zone or timezone.get_current_timezone(),
            with_stats=any(rule.needs_customer_stats for rule in rules),
        )
    match = rules_match(rules, at=ctx.at, customer=ctx.customer_facts, order=ctx.order_facts)
    return firings_run(match, ctx)


# --- Dry run -------------------------------------------------------------------------------------


@dataclass
class DryRun:
    """What a rule would do for a customer or an order, computed without changing anything."""

    fires: bool
    broken: str
    conditions: list[tuple[str, bool]]
    actions: list[str]
    notes: list[str] = field(default_factory=list)


def _action_description(action_type: str, params: dict, discount: str | None) -> str:
    if action_type == "DISCOUNT":
        what = f"{params['percentage']}%" if "percentage" in params else params["amount"]
        base = "the original subtotal" if params["base"] == "subtotal" else "what remains"
        label = params["description"] or "no description"
        amount = f": {discount} off this order" if discount is not None else ""
        return f"Discount {what} of {base} ({label}){amount}"
    if action_type == "ADD_LABEL":
        return f"Add the customer label {params['label']}"
    if action_type == "REMOVE_LABEL":
        return f"Remove the customer label {params['label']}"
    if action_type == "AWARD_BONUS_POINTS":
        return f"Award {params['points']} bonus points"
    if action_type == "AWARD_BADGE":
        from loyalty_management.models import BadgeDefinition

        badge = BadgeDefinition.objects.filter(pk=params["badge"]).first()
        name = badge.name if badge is not None else f"with id {params['badge']} (gone)"
        return f"Award the badge {name}, once per customer"
    if action_type == "ISSUE_REWARD":
        from rewards.models import RewardTemplate

        template = RewardTemplate.objects.filter(pk=params["template"]).first()
        name = template.name if template is not None else f"with id {params['template']} (gone)"
        return f"Issue the reward {name}, once per event"
    return f"Send the notification {params['event']}"


def rule_dry_run(*, rule, customer=None, order=None, at: datetime | None = None) -> DryRun:
    """Evaluate `rule` against a customer and/or a stored order and describe what would happen.
    Reads only: no action runs, nothing is logged. For an order, the discount is computed on
    the order as it was priced before its own rule discounts."""
    from rules.selectors import brand_time_zone, customer_facts, order_facts, rule_compile

    at = at or timezone.now()
    if order is not None and customer is None:
        customer = order.customer
    brand = rule.brand or (order.brand if order is not None else None)
    zone = brand_time_zone(brand)
    compiled = rule_compile(rule=rule, brand_id=brand.pk if brand is not None else None)
    notes = []
    if rule.status != "ENABLED":
        notes.append("The rule is disabled: it would not run at all.")
    if not _in_validity(compiled, at):
        notes.append("The rule is outside its validity dates now.")
    if compiled.broken:
        return DryRun(False, compiled.broken, [], [], notes)
    facts = (
        customer_facts(
            customer=customer,
            brand_id=brand.pk if brand is not None else None,
            at=at,
            time_zone=zone,
        )
        if customer is not None
        else None
    )
    orders_facts = None
    if order is not None:
        before_rules = order.total + order.discount_amount
        orders_facts = order_facts(order=order, total=before_rules)
    results = conditions_results(compiled, facts, orders_facts)
    fires = rule_holds(compiled, results) and not notes
    amounts = iter(())
    if fires and order is not None:
        currency = order.currency
        given = _discounts(
            [compiled],
            subtotal=to_minor(order.subtotal, currency),
            remaining=to_minor(orders_facts.total, currency),
            currency=currency,
        )
        amounts = (str(from_minor(discount.amount, currency)) for discount in given)
    descriptions = [
        _action_description(
            action_type, params, next(amounts, None) if action_type == "DISCOUNT" else None
        )
        for action_type, params in compiled.actions
    ]
    conditions = [
        (str(condition), holds)
        for condition, holds in zip(rule.conditions.order_by("group", "id"), results, strict=True)
    ]
    return DryRun(fires, "", conditions, descriptions if fires else [], notes)
