"""The one order pricing pipeline, shared by order placement and quotes.

Stages, in order: line subtotals → discounts → totals. Every amount inside is an integer of
minor units; conversion to Decimal happens only at the edges (`core.money`). The discount stage
is where the promotion calculator and rule discounts plug in: each produces per-line discounts
and the totals are derived from the lines, so the order's totals are never typed in.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from core.money import from_minor


@dataclass(frozen=True)
class BasketLine:
    product_id: int
    sku: str
    name: str
    category_id: int | None
    quantity: int
    unit_price: int  # minor units


@dataclass(frozen=True)
class PricingContext:
    brand_id: int
    currency: str
    channel: str
    at: datetime
    store_id: int | None = None
    customer_id: int | None = None
    payment_method: str = ""
    codes: tuple[str, ...] = ()


@dataclass
class PricedLine:
    line: BasketLine
    discount: int = 0

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

    @property
    def subtotal(self) -> int:
        return sum(priced.subtotal for priced in self.lines)

    @property
    def discount_total(self) -> int:
        return sum(priced.discount for priced in self.lines)

    @property
    def total(self) -> int:
        return self.subtotal - self.discount_total

    def money(self, minor: int) -> Decimal:
        return from_minor(minor, self.currency)

    def as_dict(self) -> dict:
        """The wire form: amounts as decimal strings in the basket currency."""
        return {
            "currency": self.currency,
            "subtotal": str(self.money(self.subtotal)),
            "discount_total": str(self.money(self.discount_total)),
            "total": str(self.money(self.total)),
            "lines": [
                {
                    "product": priced.line.product_id,
                    "sku": priced.line.sku,
                    "name": priced.line.name,
                    "quantity": priced.line.quantity,
                    "unit_price": str(self.money(priced.line.unit_price)),
                    "subtotal": str(self.money(priced.subtotal)),
                    "discount": str(self.money(priced.discount)),
                    "total": str(self.money(priced.total)),
                }
                for priced in self.lines
            ],
        }


def price_basket(*, lines: Sequence[BasketLine], context: PricingContext) -> PricedBasket:
    """Price `lines` for `context`. Pure: reads nothing, writes nothing."""
    return PricedBasket(currency=context.currency, lines=[PricedLine(line=line) for line in lines])
