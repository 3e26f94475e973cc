from decimal import Decimal

import pytest

from core.errors import ApplicationError
from core.money import allocate, from_minor, percent_of, to_minor


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        (Decimal("0.99"), "EUR", 99),
        (Decimal("10"), "EUR", 1000),
        (Decimal("1234.50"), "USD", 123450),
        (Decimal("500"), "JPY", 500),
        (Decimal("0.00"), "EUR", 0),
    ],
)
def test_to_minor_and_back_are_exact(amount, currency, minor):
    assert to_minor(amount, currency) == minor
    assert from_minor(minor, currency) == amount


def test_to_minor_refuses_sub_cent_precision_instead_of_rounding():
    with pytest.raises(ApplicationError) as error:
        to_minor(Decimal("0.999"), "EUR")
    assert error.value.code == "invalid_amount"


@pytest.mark.parametrize(
    ("minor", "basis_points", "expected"),
    [
        (99, 3333, 33),  # 0.99 x 33.33% = 0.329967 -> 0.33
        (100, 1250, 13),  # 12.5 cents exactly: half rounds up
        (101, 5000, 51),  # 50.5 -> 51
        (299, 10_000, 299),  # 100% off is the whole amount
        (0, 5000, 0),
        (1, 4999, 0),  # 0.4999 of a cent rounds down
    ],
)
def test_percent_of_rounds_half_up_once(minor, basis_points, expected):
    assert percent_of(minor, basis_points) == expected


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        (100, [1000, 500, 100], [63, 31, 6]),  # 1.00 off A 10, B 5, C 1
        (1, [1, 1, 1], [1, 0, 0]),  # one cent over three equal lines: the first takes it
        (2, [1, 1, 1], [1, 1, 0]),
        (10, [0, 0], [5, 5]),  # no weights: even split
        (0, [5, 7], [0, 0]),
        (299, [299], [299]),
        (7, [3, 3, 1], [3, 3, 1]),
    ],
)
def test_allocate_by_largest_remainder_adds_up(total, weights, expected):
    parts = allocate(total, weights)
    assert parts == expected
    assert sum(parts) == total


def test_allocate_refuses_negative_input():
    with pytest.raises(ValueError, match="non-negative"):
        allocate(-1, [1])
    with pytest.raises(ValueError, match="non-negative"):
        allocate(1, [1, -1])
