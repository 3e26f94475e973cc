"""How many points an amount earns. Pure: no ORM, no clock."""

from decimal import Decimal

CENTS = 100


def _hundredths(value: Decimal) -> int:
    scaled = Decimal(value) * CENTS
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than two decimal places")
    return int(scaled)


def points_for_amount(
    *, amount: Decimal, points_per_unit: Decimal, unit_amount: Decimal, multiplier: Decimal
) -> int:
    """`amount / unit_amount * points_per_unit * multiplier`, rounded down (ROUND_FLOOR) once,
    per order. Computed exactly in integers: every input has two decimal places."""
    if amount <= 0:
        return 0
    numerator = _hundredths(amount) * _hundredths(points_per_unit) * _hundredths(multiplier)
    return numerator // (_hundredths(unit_amount) * CENTS * CENTS)
