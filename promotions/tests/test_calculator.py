"""The calculator's arithmetic, input rules, determinism and purity.

The pricing behaviour itself is pinned by the golden vectors (test_golden_vectors.py) and the
differential and property tests (test_engines_agree.py).
"""

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from promotions.services.calculator import (
    ENGINE_VERSION,
    _allocate,
    calculate,
    canonical_json,
    normalise_code,
    percent_of,
    promotions_bundle_hash,
    result_to_json,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONTEXT = {"now": 1_717_243_200, "local": "2024-06-01T12:00", "store_id": 1, "channel": "pos"}


def _percent(promotion_id: int, basis_points: int, **extra) -> dict:
    return {
        "schema_version": 1,
        "id": promotion_id,
        "name": f"{basis_points / 100}% off",
        "type": "percent_discount",
        "scope": {"all_products": True},
        "params": {"percent_bp": basis_points},
        **extra,
    }


@pytest.mark.parametrize(
    ("amount", "basis_points", "expected"),
    [
        (99, 3333, 33),  # 32.9967
        (4, 1250, 1),  # 0.5 rounds up
        (3, 1250, 0),  # 0.375
        (1, 5000, 1),  # 0.5 rounds up
        (1, 4999, 0),
        (250, 10000, 250),  # 100% off
        (0, 10000, 0),
        (2**53 - 1, 5000, 2**52),  # exact on the largest amount
        (100, 20000, 100),  # basis points are clamped to 0..10000
        (100, -5, 0),
    ],
)
def test_percent_of_rounds_half_up_once(amount, basis_points, expected):
    assert percent_of(amount, basis_points) == expected


@pytest.mark.parametrize(
    ("total", "weights", "products", "expected"),
    [
        (1, [100, 100, 100], [3, 1, 2], [0, 1, 0]),  # 1 cent over 3: lowest product id
        (2, [100, 100, 100], [5, 5, 4], [1, 0, 1]),  # then the earlier unit
        (100, [1000, 500, 100], [1, 2, 3], [63, 31, 6]),  # the worked example
        (0, [5, 5], [1, 2], [0, 0]),
        (10, [10, 0], [1, 2], [10, 0]),  # a zero weight never takes a cent
        (3, [1, 1, 1], [1, 1, 1], [1, 1, 1]),
    ],
)
def test_allocate_splits_by_largest_remainder_with_the_tie_rule(total, weights, products, expected):
    units = list(range(len(weights)))
    parts = _allocate(total, units, weights, products, [False] * len(weights))
    assert parts == expected
    assert sum(parts) == total
    assert all(0 <= part <= weight for part, weight in zip(parts, weights, strict=True))


def test_codes_compare_trimmed_and_upper_cased_ascii_only():
    assert normalise_code("  summer-24\t") == "SUMMER-24"
    assert normalise_code("straße") == "STRAßE"  # same as engine.js, not str.upper()


def test_canonical_json_is_sorted_compact_ascii_like_engine_js():
    text = canonical_json({"b": [1, None, True], "a": 'é ☕ 😀 "q" \\ \n \x01 \x7f'})
    assert text == (
        '{"a":"\\u00e9 \\u2615 \\ud83d\\ude00 \\"q\\" \\\\ \\n \\u0001 \\u007f","b":[1,null,true]}'
    )


def test_the_same_input_gives_byte_identical_json_whatever_the_promotion_order():
    # Given the same promotions listed in two orders
    promotions = [
        _percent(1, 1000),
        _percent(2, 500, stacking="stackable"),
        _percent(3, 2500, stacking="exclusive"),
    ]
    basket = {"lines": [{"product_id": 1, "quantity": 3, "unit_price": 199}]}
    # When both are priced
    first = result_to_json(calculate(basket=basket, context=CONTEXT, promotions=promotions))
    second = result_to_json(
        calculate(basket=basket, context=CONTEXT, promotions=list(reversed(promotions)))
    )
    # Then the bytes are the same
    assert first == second
    assert json.loads(first)["engine_version"] == ENGINE_VERSION


def test_the_arguments_are_not_changed():
    promotions = [_percent(1, 1000, limits={"order_cap": 50})]
    basket = {"lines": [{"product_id": 1, "quantity": 3, "unit_price": 199, "label_ids": [2]}]}
    context = dict(CONTEXT, codes=[" x "], customer_usage={"1": 0})
    snapshot = copy.deepcopy((promotions, basket, context))
    calculate(basket=basket, context=context, promotions=promotions)
    assert (promotions, basket, context) == snapshot


@pytest.mark.parametrize(
    ("basket", "context", "promotions"),
    [
        ({"lines": [{"product_id": 1, "quantity": 0, "unit_price": 1}]}, CONTEXT, []),
        ({"lines": [{"product_id": 1, "quantity": 1, "unit_price": -1}]}, CONTEXT, []),
        ({"lines": [{"product_id": 1, "quantity": 1, "unit_price": 1.5}]}, CONTEXT, []),
        ({"lines": [{"product_id": True, "quantity": 1, "unit_price": 1}]}, CONTEXT, []),
        ({"lines": [{"product_id": 1, "quantity": 2, "unit_price": 2**53 - 1}]}, CONTEXT, []),
        ({"lines": {}}, CONTEXT, []),
        ({"lines": []}, dict(CONTEXT, local="2024-06-01 12:00"), []),
        ({"lines": []}, dict(CONTEXT, local="2024-13-01T12:00"), []),
        ({"lines": []}, dict(CONTEXT, now="1717243200"), []),
        ({"lines": []}, CONTEXT, [{"id": "7"}]),
    ],
)
def test_bad_input_is_refused(basket, context, promotions):
    with pytest.raises(ValueError):
        calculate(basket=basket, context=context, promotions=promotions)


def test_the_bundle_hash_is_echoed_and_computed_from_the_content():
    promotions = [_percent(2, 500), _percent(1, 1000)]
    bundle_hash = promotions_bundle_hash(promotions)
    assert bundle_hash == promotions_bundle_hash(list(reversed(promotions)))
    assert bundle_hash != promotions_bundle_hash([_percent(2, 501), _percent(1, 1000)])
    result = calculate(
        basket={"lines": []}, context=CONTEXT, promotions=promotions, bundle_hash=bundle_hash
    )
    assert result["bundle_hash"] == bundle_hash


def test_the_calculator_imports_neither_django_nor_a_clock():
    # Given a fresh interpreter
    code = (
        "import sys, promotions.services.calculator as c;"
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules), 'django';"
        "assert 'datetime' not in vars(c) and 'time' not in vars(c), 'clock'"
    )
    # When only the calculator is imported
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    )
    # Then it loaded no Django and holds no clock
    assert completed.returncode == 0, completed.stderr
