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

Reward codes (`rewards`: a customer's single-use codes) are the last stage, after the rule
discounts. The context holds the customer's usable rewards whose code was entered, frozen as
`RewardOffer`s in minor units; each applies, in the order the rewards were issued, to what
remains of the basket after the stages before it:

- a discount of an amount: the amount, capped at what remains;
- a percentage off: that percentage of what remains, rounded half up once (`percent_of`, the
  calculator's rule);
- one product free: the unit price of that product, capped at what remains of its (first)
  line; not applicable when the basket lacks the product;
- a `minimum_order` is checked against what remained before this stage (after promotions and
  rule discounts), the same for every code of the basket;
- a code that would take nothing off (nothing remains) is not applied.

An amount or a percentage is split over the lines in proportion to what each line still costs
by largest remainder (`split_by_weights`); a free product is allocated to its line. Line
allocations read `{"reward_id": ..., "amount": ...}`; totals never go below zero. Every reward
code entered is reported (`rewards` on the wire): applied with its amount, or not applied with
a plain reason. A code of the reward form that is not one of the customer's usable rewards gets
one reason whether it is unknown, used, expired or another customer's, so that a basket never
tells whether someone else holds a code. Order placement consumes each applied reward exactly
once (`orders.services.placement`).

Vouchers (`vouchers`: generated codes that unlock one promotion) are not a stage of their own:
a checked code puts its promotion's id into the engine context's `vouchers`, and the promotion
is then priced by the calculator like any other (without it, a voucher promotion is rejected
`code_required`). At most one code counts per promotion: the oldest (lowest code id). Each
entered code that is neither a reward code nor a promotion's shared code is reported (`vouchers`
on the wire): applied when its promotion applied, otherwise with a plain reason; an unknown,
used, expired or voided code, or another customer's, gets the one reason reward codes get.
Order placement reserves each applied code's use exactly once (`orders.services.placement`).

`price_basket` is pure: the caller loads the compiled promotions (`promotions.selectors`), the
rules (`rules.selectors.rules_for_event`) and the customer facts and rewards
(`orders.selectors.pricing_context_build`, `rules.selectors.customer_facts`).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from core.money import from_minor
from promotions.services.calculator import (
    calculate,
    normalise_code,
    percent_of,
    split_by_weights,
)
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
class RewardOffer:
    """A customer's usable reward code, as pricing sees it (minor units, basis points)."""

    reward_id: int
    code: str
    name: str
    kind: str  # "discount_amount", "discount_percentage" or "free_product"
    amount: int | None = None
    basis_points: int | None = None
    product_id: int | None = None
    minimum_order: int | None = None


@dataclass(frozen=True)
class VoucherOffer:
    """A usable voucher code entered with a basket (`vouchers.selectors.usable_vouchers`)."""

    code_id: int
    code: str
    batch_id: int
    promotion_id: int


# What a code that is not applied says, by why (plain sentences for the customer).
CODE_NOT_USABLE = "This code cannot be used: it is unknown, already used or expired."
VOUCHER_CONDITIONS_NOT_MET = (
    "This code is valid, but the order does not meet its offer's conditions."
)
VOUCHER_ONE_PER_PROMOTION = "Another code of the same offer is already applied to this order."
REWARD_NEEDS_CUSTOMER = "Sign in to use this reward code."
REWARD_PRODUCT_MISSING = "The product this code makes free is not in the basket."
REWARD_NOTHING_LEFT = "Nothing is left to discount on this order."


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
    # The customer's usable rewards whose code was entered, and the entered codes of the
    # reward form (`rewards.selectors.reward_code_shaped`), each reported on the result.
    rewards: tuple[RewardOffer, ...] = ()
    reward_codes: tuple[str, ...] = ()
    # The entered codes that may be vouchers (neither reward-shaped nor empty), normalised, and
    # the usable vouchers among them (looked up by `orders.services.placement.basket_price`).
    voucher_codes: tuple[str, ...] = ()
    vouchers: tuple[VoucherOffer, ...] = ()


@dataclass
class PricedLine:
    line: BasketLine
    discount: int = 0
    # [{"promotion_id", "amount"}] from promotions, then [{"rule_id", "amount"}] from rules,
    # then [{"reward_id", "amount"}] from reward codes
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
    # Each reward code entered: {"code", "reward_id", "name", "kind", "applied", "amount",
    # "reason"} (amount in minor units, 0 when not applied; reward_id None when not usable).
    reward_results: list[dict] = field(default_factory=list)
    # Each voucher code entered: {"code", "code_id", "promotion_id", "applied", "reason"}
    # (code_id and promotion_id None when the code is not usable).
    voucher_results: list[dict] = field(default_factory=list)

    @property
    def applied_vouchers(self) -> list[dict]:
        return [result for result in self.voucher_results if result["applied"]]

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
    def reward_discount_total(self) -> int:
        return sum(result["amount"] for result in self.reward_results)

    @property
    def applied_rewards(self) -> list[dict]:
        return [result for result in self.reward_results if result["applied"]]

    @property
    def promotion_discount_total(self) -> int:
        return self.discount_total - self.rule_discount_total - self.reward_discount_total

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

    def rewards_wire(self) -> list[dict]:
        """Each reward code entered, applied with its amount or not with a reason (stored on
        the order as well)."""
        return [
            {**result, "amount": self.text(result["amount"]) if result["applied"] else None}
            for result in self.reward_results
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
            "reward_discount_total": text(self.reward_discount_total),
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
            "rewards": self.rewards_wire(),
            "vouchers": self.voucher_results,
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
    """Line allocations with amounts as decimal strings: `promotion_id`, `rule_id` or
    `reward_id` kept."""
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
    `rules`, then the reward codes of the context. Pure: no I/O, no clock."""
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
            vouchers=_counted_vouchers(context).keys(),
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
    if context.voucher_codes:
        basket.voucher_results = _voucher_results(basket, context, promotions)
    if rules:
        _apply_rule_discounts(basket, context, rules)
    if context.reward_codes:
        _apply_reward_codes(basket, context)
    return basket


def _counted_vouchers(context: PricingContext) -> dict[int, VoucherOffer]:
    """The voucher that counts for each promotion: its oldest code entered (lowest id)."""
    counted: dict[int, VoucherOffer] = {}
    for offer in sorted(context.vouchers, key=lambda o: o.code_id):
        counted.setdefault(offer.promotion_id, offer)
    return counted


def _voucher_results(
    basket: PricedBasket, context: PricingContext, promotions: Sequence[dict]
) -> list[dict]:
    shared = {normalise_code(p["code"]) for p in promotions if p.get("code")}
    applied = {
        entry["promotion_id"]
        for entry in (*basket.result.get("applied", ()), *basket.result.get("cashback", ()))
    }
    counted = {offer.code_id for offer in _counted_vouchers(context).values()}
    offers = {offer.code: offer for offer in context.vouchers}
    results = []
    for code in context.voucher_codes:
        if code in shared:
            continue
        offer = offers.get(code)
        if offer is None:
            results.append(
                {
                    "code": code,
                    "code_id": None,
                    "promotion_id": None,
                    "applied": False,
                    "reason": CODE_NOT_USABLE,
                }
            )
            continue
        used = offer.code_id in counted and offer.promotion_id in applied
        reason = (
            ""
            if used
            else VOUCHER_ONE_PER_PROMOTION
            if offer.code_id not in counted
            else VOUCHER_CONDITIONS_NOT_MET
        )
        results.append(
            {
                "code": code,
                "code_id": offer.code_id,
                "promotion_id": offer.promotion_id,
                "applied": used,
                "reason": reason,
            }
        )
    return results


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


def _reward_result(offer: RewardOffer | None, code: str, amount: int = 0, reason: str = "") -> dict:
    return {
        "code": code,
        "reward_id": offer and offer.reward_id,
        "name": offer.name if offer else "",
        "kind": offer.kind if offer else "",
        "applied": bool(amount),
        "amount": amount,
        "reason": "" if amount else reason,
    }


def _reward_amount(basket: PricedBasket, offer: RewardOffer, before: int) -> tuple[int, str]:
    """What `offer` takes off the basket as it stands, or 0 and why not."""
    if offer.minimum_order is not None and before < offer.minimum_order:
        return 0, (
            f"The order must come to at least {basket.text(offer.minimum_order)} "
            f"{basket.currency} for this code."
        )
    remaining = basket.total
    if offer.kind == "free_product":
        line = next((p for p in basket.lines if p.line.product_id == offer.product_id), None)
        if line is None:
            return 0, REWARD_PRODUCT_MISSING
        return min(line.line.unit_price, line.total), REWARD_NOTHING_LEFT
    if offer.kind == "discount_percentage":
        return percent_of(remaining, offer.basis_points or 0), REWARD_NOTHING_LEFT
    return min(offer.amount or 0, remaining), REWARD_NOTHING_LEFT


def _apply_reward_codes(basket: PricedBasket, context: PricingContext) -> None:
    """The last stage: the customer's reward codes, in the order they were issued (see the
    module docstring for the rules)."""
    before = basket.total
    results = {}
    for offer in sorted(context.rewards, key=lambda offer: offer.reward_id):
        if offer.code not in context.reward_codes:
            continue
        amount, reason = _reward_amount(basket, offer, before)
        if amount and offer.kind == "free_product":
            line = next(p for p in basket.lines if p.line.product_id == offer.product_id)
            parts = [amount if priced is line else 0 for priced in basket.lines]
        else:
            parts = split_by_weights(amount, [priced.total for priced in basket.lines])
        for priced, part in zip(basket.lines, parts, strict=True):
            if part:
                priced.discount += part
                priced.allocations.append({"reward_id": offer.reward_id, "amount": part})
        results[offer.code] = _reward_result(offer, offer.code, amount, reason)
    # A code entered that is none of the customer's usable rewards: one reason for all.
    not_usable = CODE_NOT_USABLE if context.customer_id is not None else REWARD_NEEDS_CUSTOMER
    basket.reward_results = [
        results.get(code) or _reward_result(None, code, reason=not_usable)
        for code in context.reward_codes
    ]
