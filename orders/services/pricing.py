"""The one order pricing pipeline, shared by order placement and quotes.

Stages, in order: line subtotals → promotions (the calculator, `promotions.services.calculator`)
→ totals. Every amount inside is an integer of minor units; conversion to Decimal happens only
at the edges (`core.money`). The calculator allocates each promotion's discount to lines, and the
order's totals are derived from the lines, never typed in.

`price_basket` is pure: the caller loads the compiled promotions (`promotions.selectors`) and
the customer facts (`orders.selectors.pricing_context_build`).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from core.money import from_minor
from promotions.services.calculator import calculate
from promotions.services.engine_input import EngineLine, engine_basket, engine_context


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


@dataclass
class PricedLine:
    line: BasketLine
    discount: int = 0
    allocations: list[dict] = field(default_factory=list)  # [{"promotion_id", "amount"}]

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

    @property
    def subtotal(self) -> int:
        return sum(priced.subtotal for priced in self.lines)

    @property
    def discount_total(self) -> int:
        return sum(priced.discount for priced in self.lines)

    @property
    def total(self) -> int:
        return self.subtotal - self.discount_total

    @property
    def cashback_total(self) -> int:
        return self.result.get("cashback_total", 0)

    def money(self, minor: int | None) -> Decimal | None:
        return None if minor is None else from_minor(minor, self.currency)

    def _text(self, minor: int | None) -> str | None:
        return None if minor is None else str(self.money(minor))

    def as_dict(self) -> dict:
        """The wire form: amounts as decimal strings in the basket currency."""
        text = self._text
        return {
            "currency": self.currency,
            "subtotal": text(self.subtotal),
            "discount_total": text(self.discount_total),
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
                    "allocations": [
                        {"promotion_id": a["promotion_id"], "amount": text(a["amount"])}
                        for a in priced.allocations
                    ],
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
) -> PricedBasket:
    """Price `lines` for `context` with the compiled `promotions`. Pure: no I/O, no clock."""
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
        PricedLine(line=line, discount=priced["discount"], allocations=priced["allocations"])
        for line, priced in zip(lines, result["lines"], strict=True)
    ]
    return PricedBasket(
        currency=context.currency,
        lines=priced_lines,
        result=result,
        promotion_versions={p["id"]: p.get("version", 0) for p in promotions},
    )
