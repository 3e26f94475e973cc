"""Building the calculator's inputs from the database's world: one place, used by order
pricing, quotes and the preview, so every path feeds the engines the same way."""

import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class EngineLine:
    product_id: int
    category_id: int | None
    label_ids: tuple[int, ...]
    quantity: int
    unit_price: int  # minor units


def engine_basket(lines: Sequence[EngineLine]) -> dict:
    """The basket as the engines read it; `line_id` is the line's position."""
    return {
        "lines": [
            {
                "line_id": index,
                "product_id": line.product_id,
                "category_id": line.category_id,
                "label_ids": sorted(line.label_ids),
                "quantity": line.quantity,
                "unit_price": line.unit_price,
            }
            for index, line in enumerate(lines)
        ]
    }


def engine_context(
    *,
    at: datetime,
    time_zone: str,
    channel: str,
    store_id: int | None = None,
    customer_id: int | None = None,
    customer_label_ids: Iterable[int] = (),
    tier: str | None = None,
    is_new_customer: bool = False,
    signed_in: bool = False,
    payment_method: str = "",
    codes: Iterable[str] = (),
    customer_usage: dict[int, int] | None = None,
    vouchers: Iterable[int] = (),
) -> dict:
    """The context as the engines read it: UTC instant plus the store's local wall time."""
    local = at.astimezone(zoneinfo.ZoneInfo(time_zone))
    return {
        "now": int(at.timestamp()),
        # The year zero-padded by hand: strftime("%Y") gives "779" for the year 779 on Linux.
        "local": f"{local.year:04d}-{local:%m-%dT%H:%M}",
        "store_id": store_id,
        "channel": channel,
        "customer_id": customer_id,
        "customer_labels": sorted(set(customer_label_ids)),
        "tier": tier,
        "is_new_customer": is_new_customer,
        "signed_in": signed_in,
        "payment_method": payment_method or None,
        "codes": sorted({code for code in codes if code}),
        "customer_usage": {str(pk): uses for pk, uses in (customer_usage or {}).items()},
        # Only when a voucher was checked, so that other contexts stay as they were.
        **({"vouchers": sorted(set(vouchers))} if vouchers else {}),
    }
