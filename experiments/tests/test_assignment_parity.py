"""Assignment is the same in Python and JavaScript: `calculator.experiment_variant` and
engine.js `experimentVariant` pick the same variant for 100,000 random (salt, customer) pairs,
over random weights, audiences and dates, in one Node subprocess. And the split follows the
weights."""

import json
import random
import secrets
import subprocess
from collections import Counter
from pathlib import Path

from promotions.services.calculator import experiment_bucket, experiment_variant, murmur3_32

RUNNER = Path(__file__).resolve().parents[2] / "promotions" / "tests" / "js" / "run_assignment.mjs"
PAIRS = 100_000
NOW = 1_717_243_200


def _experiment(rng: random.Random, index: int) -> dict:
    count = rng.randint(2, 5)
    ids = rng.sample(range(1, 10_000), count)
    audience = rng.choice(
        [
            {"labels": [], "tiers": []},
            {"labels": [3], "tiers": []},
            {"labels": [], "tiers": ["gold"]},
        ]
    )
    return {
        "id": index + 1,
        "salt": secrets.token_hex(rng.choice([4, 8, 16])) if index % 7 else "sél-ñ",
        "variant": ids[0],
        "control": ids[-1],
        "variants": [{"id": i, "weight": rng.choice([1, 1, 2, 5, 50, 9_999])} for i in ids],
        "audience": audience,
        "starts_at": rng.choice([None, None, None, NOW - 10, NOW + 10]),
        "ends_at": rng.choice([None, None, None, NOW + 10, NOW]),
    }


def test_python_and_javascript_assign_the_same_variant_to_100000_pairs():
    rng = random.Random(1207)
    experiments = [_experiment(rng, i) for i in range(400)]
    cases = [
        [
            rng.randrange(len(experiments)),
            rng.choice([rng.randint(0, 2**31)] * 3 + [rng.randint(0, 2**53 - 1), None, -1]),
            rng.choice([[], [3], [4, 5]]),
            rng.choice([None, "gold", "silver"]),
            NOW,
        ]
        for _ in range(PAIRS)
    ]
    python = [
        experiment_variant(
            experiments[index], now=now, customer_id=customer, labels=set(labels), tier=tier
        )
        for index, customer, labels, tier, now in cases
    ]

    run = subprocess.run(
        ["node", str(RUNNER)],
        input=json.dumps({"experiments": experiments, "cases": cases}),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    node = [None if line == "null" else int(line) for line in run.stdout.splitlines()]

    assert len(node) == PAIRS
    mismatches = [(cases[i], python[i], node[i]) for i in range(PAIRS) if python[i] != node[i]]
    assert not mismatches[:5]
    # The cases reach every branch: assigned non-control variants, controls by audience, dates
    # and anonymity.
    controls = sum(python[i] == experiments[c[0]]["control"] for i, c in enumerate(cases))
    assert controls > 10_000 and PAIRS - controls > 10_000


def test_murmur3_matches_the_published_reference_values():
    # From the reference implementation (MurmurHash3_x86_32).
    assert murmur3_32(b"") == 0
    assert murmur3_32(b"", seed=1) == 0x514E28B7
    assert murmur3_32(b"hello") == 0x248BFA47
    assert murmur3_32(b"The quick brown fox jumps over the lazy dog") == 0x2E4FF723


def test_the_split_follows_the_weights_and_sticks():
    experiment = {
        "id": 1,
        "salt": "0f1e2d3c",
        "variant": 1,
        "control": 1,
        "variants": [{"id": 1, "weight": 1}, {"id": 2, "weight": 3}],
        "audience": {},
        "starts_at": None,
        "ends_at": None,
    }

    def assign(customer):
        return experiment_variant(
            experiment, now=NOW, customer_id=customer, labels=set(), tier=None
        )

    shares = Counter(assign(customer) for customer in range(40_000))
    assert abs(shares[2] / 40_000 - 0.75) < 0.01
    assert [assign(7) for _ in range(3)] == [assign(7)] * 3
    assert experiment_bucket("0f1e2d3c", 7, 4) == murmur3_32(b"0f1e2d3c:7") % 4


def test_anonymous_outside_the_audience_or_the_dates_get_the_control():
    experiment = {
        "id": 1,
        "salt": "s",
        "variant": 2,
        "control": 1,
        "variants": [{"id": 2, "weight": 1}],
        "audience": {"labels": [9]},
        "starts_at": NOW,
        "ends_at": NOW + 60,
    }
    assign = experiment_variant
    assert assign(experiment, now=NOW, customer_id=None, labels={9}, tier=None) == 1
    assert assign(experiment, now=NOW, customer_id=5, labels=set(), tier=None) == 1
    assert assign(experiment, now=NOW - 1, customer_id=5, labels={9}, tier=None) == 1
    assert assign(experiment, now=NOW + 60, customer_id=5, labels={9}, tier=None) == 1
    assert assign(experiment, now=NOW, customer_id=5, labels={9}, tier=None) == 2
