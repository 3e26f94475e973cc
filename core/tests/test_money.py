from decimal import Decimal

import pytest

from core.errors import ApplicationError
from core.money import from_minor, to_minor


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
