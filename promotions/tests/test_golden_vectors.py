"""Hand-computed golden vectors, shared with `js/engine.test.mjs`.

Each file in `vectors/` holds `{"area", "description", "vectors": [{"name", "promotions",
"basket", "context", "expected", "bundle_hash"?, "exact"?}]}`. `expected` is matched as a
subset: every key it names must be in the result with a matching value, lists must have the same
length and match item by item. With `"exact": true` the whole result must be equal.
"""

import json
import re
from pathlib import Path

import pytest

from promotions.services.calculator import calculate, murmur3_32

VECTORS = Path(__file__).parent / "vectors"


def _load() -> list:
    cases = []
    for path in sorted(VECTORS.glob("*.json")):
        for vector in json.loads(path.read_text(encoding="utf-8"))["vectors"]:
            cases.append(pytest.param(vector, id=f"{path.stem}: {vector['name']}"))
    return cases


def _mismatch(expected, actual, path: str = "result") -> str | None:
    """Where `actual` does not contain `expected`, or None."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected an object, got {actual!r}"
        for key, value in expected.items():
            if key not in actual:
                return f"{path}.{key}: missing"
            problem = _mismatch(value, actual[key], f"{path}.{key}")
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{path}: expected {len(expected)} items, got {actual!r}"
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            problem = _mismatch(want, got, f"{path}[{index}]")
            if problem:
                return problem
        return None
    if type(expected) is not type(actual) or expected != actual:
        return f"{path}: expected {expected!r}, got {actual!r}"
    return None


ALL_VECTORS = _load()


def test_there_is_a_vector_file_per_area():
    areas = {path.stem for path in VECTORS.glob("*.json")}
    assert areas >= {
        "worked_examples",
        "percent_discount",
        "amount_discount",
        "bogo",
        "combo",
        "free_item",
        "happy_hour",
        "cashback",
        "payment_discount",
        "package",
        "mix_match",
        "upsell",
        "threshold",
        "reasons",
        "stacking",
        "caps_budgets",
        "time_windows",
        "rounding",
        "vouchers",
        "experiments",
    }
    assert len(ALL_VECTORS) >= 185


@pytest.mark.parametrize("vector", ALL_VECTORS)
def test_python_engine_matches_the_golden_vector(vector):
    # Given a hand-computed vector
    # When the Python engine prices it
    result = calculate(
        basket=vector["basket"],
        context=vector["context"],
        promotions=vector["promotions"],
        bundle_hash=vector.get("bundle_hash"),
    )
    # Then the result holds what the vector expects
    if vector.get("exact"):
        assert result == vector["expected"]
    else:
        assert _mismatch(vector["expected"], result) is None, _mismatch(vector["expected"], result)


def test_the_hash_values_quoted_by_the_experiment_vectors_are_murmur3():
    # Given the experiment vectors, whose notes name the hash that picked each customer
    vectors = json.loads((VECTORS / "experiments.json").read_text(encoding="utf-8"))["vectors"]
    quoted = [
        match.groups()
        for vector in vectors
        for match in re.finditer(
            r'murmur3_32\((?:UTF-8 )?"([^"]*)"\) = 0x([0-9A-F]{8})', vector.get("note", "")
        )
    ]
    # Then each quoted value is MurmurHash3_x86_32 of the UTF-8 text, seed 0
    assert len(quoted) >= 10
    for text, value in quoted:
        assert murmur3_32(text.encode()) == int(value, 16), text
