"""Money: Decimal in the database, integer minor units inside the pricing engines.

- Amounts are stored as `Decimal` with two places (`MoneyField`) next to a currency code.
- Engines compute in integer minor units (cents); `to_minor` and `from_minor` convert at the
  edges, and `to_minor` refuses an amount with more precision than the currency allows instead
  of rounding it silently.
- Rounding and allocation inside the engines (percentages in basis points rounded half up once,
  largest-remainder splits with the tie rule) are written once, in the calculator
  (`promotions/services/calculator.py`, contract in `promotions/ENGINE.md`), and tested there.
"""

from decimal import Decimal
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
