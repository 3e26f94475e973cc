"""The one order pricing pipeline, shared by order placement and quotes.

Stages, in order: line subtotals → promotions (the calculator, `promotions.services.calculator`)
→ rule discounts of `order.created` (`rules.engine`: the rules are matched against the basket
after promotions, and each DISCOUNT applies to what remains, or to the original subtotal when
the rule says so) → totals. Every amount inside is an integer of minor units; conversion to
Decimal happens only at the edges (`core.money`).

Allocation: the calculator allocates each promotion's discount to lines; each rule discount is
then split over the lines in proportion to what each line still costs, by largest remainder
(`split_by_weights`), so the lines' discounts add up to the order's to the cent. Rule discounts
together never exceed what remains after promotions: a total never goes below zero. The order's
totals are derived from the lines, never typed in.

`price_basket` is pure: the caller loads the compiled promotions (`promotions.selectors`), the
rules (`rules.selectors.rules_for_event`) and the customer facts
(`orders.selectors.pricing_context_build`, `rules.selectors.customer_facts`).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from core.money import from_minor
from promotions.services.calculator import calculate, split_by_weights
from promotions.services.engine_input import EngineLine, engine_basket, engine_context
from rules.engine import Match, RuleDiscount, discount_plan, rules_match
from rules.selectors import CompiledRule, CustomerFacts, LineFacts, OrderFacts


@dataclass(frozen=True)
class BasketLine:
    product_id: int
    sku: str
    name: str
    category_id: int | None
    quantity: int
    unit_price: int  # minor units
    label_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class PricingContext:
    brand_id: int
    currency: str
    channel: str
    at: datetime
    time_zone: str = "UTC"
    store_id: int | None = None
    customer_id: int | None = None
    customer_label_ids: tuple[int, ...] = ()
    tier: str | None = None
    is_new_customer: bool = False
    payment_method: str = ""
    codes: tuple[str, ...] = ()
    customer_usage: Mapping[int, int] = field(default_factory=dict)
    store_code: str = ""
    customer_facts: CustomerFacts | None = None  # what rule conditions test


@dataclass
class PricedLine:
    line: BasketLine
    discount: int = 0
    # [{"promotion_id", "amount"}] from promotions, then [{"rule_id", "amount"}] from rules
    allocations: list[dict] = field(default_factory=list)

    @property
    def subtotal(self) -> int:
        return self.line.unit_price * self.line.quantity

    @property
    def total(self) -> int:
        return self.subtotal - self.discount


@dataclass
class PricedBasket:
    currency: str
    lines: list[PricedLine] = field(default_factory=list)
    result: dict = field(default_factory=dict)  # the calculator's result, minor units
    promotion_versions: dict[int, int] = field(default_factory=dict)
    rule_discounts: list[RuleDiscount] = field(default_factory=list)
    rule_match: Match | None = None  # the order.created rules that fire, for their other actions

    @property
    def subtotal(self) -> int:
        return sum(priced.subtotal for priced in self.lines)

    @property
    def discount_total(self) -> int:
        return sum(priced.discount for priced in self.lines)

    @property
    def rule_discount_total(self) -> int:
        return sum(discount.amount for discount in self.rule_discounts)

    @property
    def promotion_discount_total(self) -> int:
        return self.discount_total - self.rule_discount_total

    @property
    def discount_percentage(self) -> Decimal | None:
        """The order's rule discount as a percentage: the sum of the percentages of the
        percentage discounts that applied (at most 100), None when none did."""
        percentages = [d.percentage for d in self.rule_discounts if d.percentage is not None]
        return min(sum(percentages), Decimal(100)) if percentages else None

    @property
    def discount_description(self) -> str:
        return "; ".join(discount.description for discount in self.rule_discounts)

    @property
    def total(self) -> int:
        return self.subtotal - self.discount_total

    @property
    def cashback_total(self) -> int:
        return self.result.get("cashback_total", 0)

    def money(self, minor: int | None) -> Decimal | None:
        return None if minor is None else from_minor(minor, self.currency)

    def text(self, minor: int | None) -> str | None:
        return None if minor is None else str(self.money(minor))

    def rule_discounts_wire(self) -> list[dict]:
        """Which rule gave what, amounts as decimal strings (stored on the order as well)."""
        return [
            {
                "rule_id": discount.rule_id,
                "name": discount.name,
                "description": discount.description,
                "percentage": None
                if discount.percentage is None
                else str(discount.percentage.quantize(Decimal("0.01"))),
                "amount": self.text(discount.amount),
            }
            for discount in self.rule_discounts
        ]

    def as_dict(self) -> dict:
        """The wire form: amounts as decimal strings in the basket currency."""
        text = self.text
        return {
            "currency": self.currency,
            "subtotal": text(self.subtotal),
            "discount_total": text(self.discount_total),
            "promotion_discount_total": text(self.promotion_discount_total),
            "rule_discount_total": text(self.rule_discount_total),
            "total": text(self.total),
            "cashback_total": text(self.cashback_total),
            "lines": [
                {
                    "product": priced.line.product_id,
                    "sku": priced.line.sku,
                    "name": priced.line.name,
                    "quantity": priced.line.quantity,
                    "unit_price": text(priced.line.unit_price),
                    "subtotal": text(priced.subtotal),
                    "discount": text(priced.discount),
                    "total": text(priced.total),
                    "allocations": allocations_text(priced.allocations, text),
                }
                for priced in self.lines
            ],
            "promotions": [
                {
                    "promotion_id": applied["promotion_id"],
                    "name": applied["name"],
                    "type": applied["type"],
                    "phase": applied["phase"],
                    "amount": text(applied["amount"]),
                    "applications": applied["applications"],
                }
                for applied in self.result.get("applied", ())
            ],
            "rule_discounts": self.rule_discounts_wire(),
            "cashback": [
                {**entry, "amount": text(entry["amount"])}
                for entry in self.result.get("cashback", ())
            ],
            "suggestions": [_money_fields(s, text) for s in self.result.get("suggestions", ())],
            "rejected": self.result.get("rejected", []),
            "engine_version": self.result.get("engine_version"),
            "bundle_hash": self.result.get("bundle_hash"),
        }


# Suggestion fields that hold money (minor units inside, decimal strings on the wire).
_SUGGESTION_MONEY = {
    "saving",
    "unit_price",
    "discounted_unit_price",
    "amount_missing",
    "min_subtotal",
    "amount",
}


def allocations_text(allocations: Sequence[dict], text) -> list[dict]:
    """Line allocations with amounts as decimal strings: `promotion_id` or `rule_id` kept."""
    return [{**allocation, "amount": text(allocation["amount"])} for allocation in allocations]


def _money_fields(suggestion: dict, text) -> dict:
    return {
        key: (
            _money_fields(value, text)
            if isinstance(value, dict)
            else text(value)
            if key in _SUGGESTION_MONEY and isinstance(value, int)
            else value
        )
        for key, value in suggestion.items()
    }


def price_basket(
    *,
    lines: Sequence[BasketLine],
    context: PricingContext,
    promotions: Sequence[dict] = (),
    bundle_hash: str | None = None,
    rules: Sequence[CompiledRule] = (),
) -> PricedBasket:
    """Price `lines` for `context` with the compiled `promotions`, then the `order.created`
    `rules`. Pure: no I/O, no clock."""
    result = calculate(
        basket=engine_basket(
            [
                EngineLine(
                    product_id=line.product_id,
                    category_id=line.category_id,
                    label_ids=line.label_ids,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                )
                for line in lines
            ]
        ),
        context=engine_context(
            at=context.at,
            time_zone=context.time_zone,
            channel=context.channel,
            store_id=context.store_id,
            customer_id=context.customer_id,
            customer_label_ids=context.customer_label_ids,
            tier=context.tier,
            is_new_customer=context.is_new_customer,
            signed_in=context.customer_id is not None,
            payment_method=context.payment_method,
            codes=context.codes,
            customer_usage=dict(context.customer_usage),
        ),
        promotions=promotions,
        bundle_hash=bundle_hash,
    )
    priced_lines = [
        PricedLine(line=line, discount=priced["discount"], allocations=list(priced["allocations"]))
        for line, priced in zip(lines, result["lines"], strict=True)
    ]
    basket = PricedBasket(
        currency=context.currency,
        lines=priced_lines,
        result=result,
        promotion_versions={p["id"]: p.get("version", 0) for p in promotions},
    )
    if rules:
        _apply_rule_discounts(basket, context, rules)
    return basket


def basket_order_facts(basket: PricedBasket, context: PricingContext) -> OrderFacts:
    """What rule conditions see of a basket: its totals after promotions, and its lines."""
    return OrderFacts(
        total=basket.money(basket.total),
        subtotal=basket.money(basket.subtotal),
        channel=context.channel,
        store=context.store_code,
        line_count=len(basket.lines),
        lines=tuple(
            LineFacts(
                product_id=priced.line.product_id,
                sku=priced.line.sku,
                category_id=priced.line.category_id,
                label_ids=frozenset(priced.line.label_ids),
            )
            for priced in basket.lines
        ),
    )


def _apply_rule_discounts(
    basket: PricedBasket, context: PricingContext, rules: Sequence[CompiledRule]
) -> None:
    match = rules_match(
        rules,
        at=context.at,
        customer=context.customer_facts,
        order=basket_order_facts(basket, context),
    )
    basket.rule_match = match
    basket.rule_discounts = discount_plan(
        match.rules, subtotal=basket.subtotal, remaining=basket.total, currency=context.currency
    )
    for discount in basket.rule_discounts:
        parts = split_by_weights(discount.amount, [priced.total for priced in basket.lines])
        for priced, part in zip(basket.lines, parts, strict=True):
            if part:
                priced.discount += part
                priced.allocations.append({"rule_id": discount.rule_id, "amount": part})
