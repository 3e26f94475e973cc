"""Reads for rules: the compiled rules of an event and brand (cached), and the facts about a
customer that conditions test, loaded in a fixed number of queries whatever the conditions."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from catalog.selectors import CategoryTree, category_tree
from labels.models import CustomerLabel, Label
from rules.models import Rule, RuleAction, RuleCondition
from rules.params import CATEGORY, FIELDS, ConditionSpec, action_params_clean, condition_parse

RULES_TTL = 24 * 3600
GENERATION_KEY = "rules:generation"


@dataclass(frozen=True)
class CompiledRule:
    """A rule as the engine runs it: conditions parsed, names resolved for one brand."""

    id: int
    name: str
    priority: int
    event: str
    valid_from: datetime | None
    valid_until: datetime | None
    stop_processing: bool
    conditions: tuple[ConditionSpec, ...]
    actions: tuple[tuple[str, dict], ...]  # (action type, clean params)
    broken: str = ""  # why the rule cannot run (it is then skipped and its failure logged)

    @property
    def needs_customer_stats(self) -> bool:
        return any(
            c.entity == "CUSTOMER" and c.field in ("order_count", "lifetime_spend", "tier")
            for c in self.conditions
        )


@dataclass(frozen=True)
class CustomerFacts:
    id: int
    label_ids: frozenset[int] = frozenset()
    order_count: int = 0
    lifetime_spend: Decimal = Decimal("0.00")
    tier: str = ""
    days_since_signup: int = 0
    birthday_this_month: bool = False


@dataclass(frozen=True)
class LineFacts:
    product_id: int
    sku: str
    category_id: int | None
    label_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class OrderFacts:
    total: Decimal
    subtotal: Decimal
    channel: str
    store: str
    line_count: int
    lines: tuple[LineFacts, ...] = field(default_factory=tuple)


def brand_time_zone(brand):
    """The zone a brand's dates are read in (the default zone for events of no brand)."""
    return ZoneInfo(brand.time_zone) if brand is not None else timezone.get_current_timezone()


def rules_cache_invalidate() -> None:
    """Every cached rule list is rebuilt on its next read (old entries age out)."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        cache.set(GENERATION_KEY, 1, None)


def _compile(rule: Rule, conditions, actions, tree: CategoryTree | None, labels) -> CompiledRule:
    specs: list[ConditionSpec] = []
    clean_actions: list[tuple[str, dict]] = []
    broken = ""
    try:
        for condition in conditions:
            spec = condition_parse(
                entity=condition.entity,
                field=condition.field,
                operator=condition.operator,
                value=condition.value,
                label_id=condition.label_id,
                group=condition.group,
            )
            if FIELDS.get(spec.entity, {}).get(spec.field) == CATEGORY:
                wanted = spec.value if isinstance(spec.value, tuple) else (spec.value,)
                spec = ConditionSpec(
                    spec.entity,
                    spec.field,
                    spec.operator,
                    frozenset(_categories_below(tree, wanted)),
                    None,
                    spec.group,
                )
            specs.append(spec)
        for action in actions:
            params = action_params_clean(
                action_type=action.action_type,
                params=action.action_params,
                event=rule.trigger.event,
            )
            if action.action_type in ("ADD_LABEL", "REMOVE_LABEL"):
                label_id = labels.get(params["label"])
                if label_id is None:
                    raise ValueError(f"No customer label named {params['label']!r} here.")
                params = {**params, "label_id": label_id}
            clean_actions.append((action.action_type, params))
    except Exception as error:  # a rule edited around validation must not run half-understood
        broken = str(error)
    return CompiledRule(
        id=rule.pk,
        name=rule.name,
        priority=rule.priority,
        event=rule.trigger.event,
        valid_from=rule.valid_from,
        valid_until=rule.valid_until,
        stop_processing=rule.stop_processing,
        conditions=tuple(specs),
        actions=tuple(clean_actions),
        broken=broken,
    )


def _categories_below(tree: CategoryTree | None, slugs) -> set[int]:
    """The ids of the categories with these slugs and of everything below them."""
    if tree is None:
        return set()
    return tree.descendants(pk for slug in slugs for pk in tree.by_slug.get(slug, ()))


def _customer_labels_by_name(brand_id: int | None) -> dict[str, int]:
    """Customer label names usable for the brand: its own labels win over global ones."""
    names: dict[str, int] = {}
    rows = Label.objects.filter(type=Label.Type.CUSTOMER).filter(
        Q(brand__isnull=True) | Q(brand_id=brand_id)
    )
    for name, pk, brand in rows.order_by("brand_id").values_list("name", "id", "brand_id"):
        if brand is not None or name not in names:
            names[name] = pk
    return names


def rules_load(*, event: str, brand_id: int) -> list[CompiledRule]:
    """Enabled rules of the event for the brand (its own and all-brands rules), highest
    priority first, from the database: three queries, plus one each when some condition tests
    a category or some action names a label."""
    rules = list(
        Rule.objects.filter(status=Rule.Status.ENABLED, trigger__event=event)
        .filter(Q(brand__isnull=True) | Q(brand_id=brand_id))
        .select_related("trigger")
        .order_by("-priority", "id")
    )
    if not rules:
        return []
    conditions: dict[int, list[RuleCondition]] = {rule.pk: [] for rule in rules}
    for condition in RuleCondition.objects.filter(rule__in=rules).order_by("group", "id"):
        conditions[condition.rule_id].append(condition)
    actions: dict[int, list[RuleAction]] = {rule.pk: [] for rule in rules}
    for action in RuleAction.objects.filter(rule__in=rules).order_by("position", "id"):
        actions[action.rule_id].append(action)
    wants_categories = any(
        c.entity == "PRODUCT" and c.field == "category" for cs in conditions.values() for c in cs
    )
    wants_labels = any(
        a.action_type in ("ADD_LABEL", "REMOVE_LABEL") for acts in actions.values() for a in acts
    )
    tree = category_tree(brand_id=brand_id) if wants_categories else None
    labels = _customer_labels_by_name(brand_id) if wants_labels else {}
    return [_compile(rule, conditions[rule.pk], actions[rule.pk], tree, labels) for rule in rules]


def rule_compile(*, rule: Rule, brand_id: int | None) -> CompiledRule:
    """One rule compiled for a brand, from the database (for dry runs)."""
    conditions = list(rule.conditions.order_by("group", "id"))
    actions = list(rule.actions.order_by("position", "id"))
    tree = category_tree(brand_id=brand_id) if brand_id is not None else None
    return _compile(rule, conditions, actions, tree, _customer_labels_by_name(brand_id))


def rules_for_event(*, event: str, brand_id: int) -> list[CompiledRule]:
    """`rules_load`, served from the cache: two cache reads on a hit, no query."""
    generation = cache.get_or_set(GENERATION_KEY, 0, None)
    key = f"rules:{event}:{brand_id}:{generation}"
    cached = cache.get(key)
    if cached is None:
        cached = rules_load(event=event, brand_id=brand_id)
        cache.set(key, cached, RULES_TTL)
    return cached


def customers_facts(
    *,
    customers: Sequence,
    brand_id: int | None,
    at: datetime,
    time_zone,
    label_ids: Iterable[int] | None = None,
    with_stats: bool = True,
) -> dict[int, CustomerFacts]:
    """What conditions may ask about customers at a brand, for a batch of customers in a fixed
    number of queries: labels (one; skipped when the caller passes a single customer's
    `label_ids`), and with `with_stats` the paid-order count and spend (one) and the loyalty
    tier (one)."""
    from loyalty_management.models import LoyaltyAccount
    from orders.models import Order

    ids = [customer.pk for customer in customers]
    labels: dict[int, set[int]] = {pk: set() for pk in ids}
    if label_ids is not None and len(ids) == 1:
        labels[ids[0]] = set(label_ids)
    else:
        for customer_id, label_id in CustomerLabel.objects.filter(customer_id__in=ids).values_list(
            "customer_id", "label_id"
        ):
            labels[customer_id].add(label_id)
    stats: dict[int, tuple[int, Decimal]] = {}
    tiers: dict[int, str] = {}
    if with_stats and brand_id is not None:
        PS = Order.PaymentStatus
        rows = (
            Order.objects.filter(
                customer_id__in=ids,
                brand_id=brand_id,
                payment_status__in=(PS.PAID, PS.PARTIALLY_REFUNDED),
            )
            .values("customer_id")
            .annotate(count=Count("id"), spend=Sum(F("total") - F("refunded_amount")))
            .order_by()
        )
        stats = {row["customer_id"]: (row["count"], row["spend"]) for row in rows}
        tiers = dict(
            LoyaltyAccount.objects.filter(
                customer_id__in=ids, program__brand_id=brand_id, tier__isnull=False
            ).values_list("customer_id", "tier__name")
        )
    today = timezone.localtime(at, time_zone).date()
    facts = {}
    for customer in customers:
        count, spend = stats.get(customer.pk, (0, Decimal("0.00")))
        birth = customer.birth_date
        signup = timezone.localtime(customer.created_at, time_zone).date()
        facts[customer.pk] = CustomerFacts(
            id=customer.pk,
            label_ids=frozenset(labels[customer.pk]),
            order_count=count,
            lifetime_spend=spend or Decimal("0.00"),
            tier=tiers.get(customer.pk, ""),
            days_since_signup=(today - signup).days,
            birthday_this_month=birth is not None and birth.month == today.month,
        )
    return facts


def customer_facts(*, customer, **options) -> CustomerFacts:
    """`customers_facts` of one customer."""
    return customers_facts(customers=[customer], **options)[customer.pk]


def order_facts(*, order, total=None) -> OrderFacts:
    """The facts of a stored order (two queries: lines with categories, product labels)."""
    from labels.selectors import product_label_ids

    lines = list(order.lines.values_list("product_id", "sku", "product__category_id"))
    labels = product_label_ids(product_ids=[product_id for product_id, _, _ in lines])
    return OrderFacts(
        total=order.total if total is None else total,
        subtotal=order.subtotal,
        channel=order.channel,
        store=order.store.code if order.store_id else "",
        line_count=len(lines),
        lines=tuple(
            LineFacts(
                product_id=product_id,
                sku=sku,
                category_id=category_id,
                label_ids=frozenset(labels.get(product_id, ())),
            )
            for product_id, sku, category_id in lines
        ),
    )
