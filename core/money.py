"""Money: Decimal in the database, integer minor units inside the pricing engines.

The rules, written once:
- Amounts are stored as `Decimal` with two places (`MoneyField`) next to a currency code.
- Engines compute in integer minor units (cents). `to_minor` refuses an amount that has more
  precision than the currency allows instead of rounding it silently.
- A percentage is an integer of basis points (12.5% = 1250). `percent_of` rounds half up, once.
- A whole amount is split over parts with `allocate`: largest remainder, ties to the earlier
  part, so the parts always add up to the whole to the cent.
"""

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from functools import partial

from django.core.validators import MinValueValidator
from django.db import models

from core.errors import ApplicationError

# ISO 4217 minor-unit exponents that differ from the usual 2.
_CURRENCY_EXPONENTS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "HUF": 2, "KWD": 3}
CURRENCY_CHOICES = [
    ("EUR", "Euro"),
    ("USD", "US dollar"),
    ("GBP", "Pound sterling"),
    ("CHF", "Swiss franc"),
    ("PLN", "Polish złoty"),
    ("SEK", "Swedish krona"),
    ("JPY", "Japanese yen"),
]
BASIS_POINTS = 10_000

MoneyField = partial(
    models.DecimalField, max_digits=14, decimal_places=2, validators=[MinValueValidator(0)]
)


def currency_exponent(currency: str) -> int:
    return _CURRENCY_EXPONENTS.get(currency.upper(), 2)


def to_minor(amount: Decimal, currency: str) -> int:
    """Exact conversion of a Decimal amount to integer minor units."""
    scaled = Decimal(amount).scaleb(currency_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ApplicationError(
            f"{amount} has more precision than {currency} allows.", code="invalid_amount"
        )
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    exponent = currency_exponent(currency)
    return (Decimal(minor).scaleb(-exponent)).quantize(Decimal(1).scaleb(-max(exponent, 2)))


def percent_of(minor: int, basis_points: int) -> int:
    """`basis_points` of `minor`, rounded half up once (0.329967 -> 0.33)."""
    value = (Decimal(minor) * basis_points / BASIS_POINTS).to_integral_value(ROUND_HALF_UP)
    return int(value)


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` over `weights` in proportion, by largest remainder.

    Parts are floors of the exact shares; the cents left over go one each to the parts with the
    largest remainders, ties to the earlier part. Callers order the weights by their tie rule.
    With all weights zero the total is split evenly the same way.
    """
    if total < 0:
        raise ValueError("allocate() takes a non-negative total")
    if not weights:
        if total:
            raise ValueError("cannot allocate a non-zero total over no parts")
        return []
    if any(weight < 0 for weight in weights):
        raise ValueError("allocate() takes non-negative weights")
    weight_sum = sum(weights)
    if weight_sum == 0:
        weights, weight_sum = [1] * len(weights), len(weights)
    parts = []
    remainders = []
    for index, weight in enumerate(weights):
        share, remainder = divmod(total * weight, weight_sum)
        parts.append(share)
        remainders.append((-remainder, index))
    leftover = total - sum(parts)
    for _, index in sorted(remainders)[:leftover]:
        parts[index] += 1
    return parts
