"""Calculator time for {10, 100, 1000} active promotions x {5, 50} basket lines, Python and Node.

Run: .venv/bin/python bench/calculator_bench.py [--runs N]

Promotions are a realistic mix for one store: every type, scopes of a few products, a category
or a label out of a 500-product catalog, some with windows, codes, other stores or exclusive
stacking. Times are per `calculate` call (basket expansion, candidate filtering, all passes,
the result dict), median and p95 over the runs.
"""

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from promotions.services.calculator import calculate  # noqa: E402

ENGINE = ROOT / "promotions" / "static" / "promotions" / "engine.js"
NOW = 1_717_243_200
PRODUCTS = 500
CATEGORIES = 40
LABELS = 20
TYPES = [
    ("percent_discount", 20),
    ("amount_discount", 10),
    ("bogo", 12),
    ("combo", 5),
    ("free_item", 5),
    ("happy_hour", 8),
    ("cashback", 4),
    ("payment_discount", 4),
    ("package", 5),
    ("mix_match", 8),
    ("upsell", 6),
    ("threshold", 8),
    ("cross_brand", 1),
]


def _catalog(rng: random.Random) -> list[dict]:
    return [
        {
            "product_id": product_id,
            "category_id": rng.randint(1, CATEGORIES),
            "label_ids": rng.sample(range(1, LABELS + 1), rng.randint(0, 2)),
            "unit_price": rng.choice([99, 150, 299, 450, 799, 1299, 1999, 4999]),
        }
        for product_id in range(1, PRODUCTS + 1)
    ]


def _scope(rng: random.Random) -> dict:
    roll = rng.random()
    if roll < 0.5:
        return {"product_ids": sorted(rng.sample(range(1, PRODUCTS + 1), rng.randint(1, 30)))}
    if roll < 0.8:
        return {"category_ids": rng.sample(range(1, CATEGORIES + 1), rng.randint(1, 3))}
    if roll < 0.95:
        return {"label_ids": [rng.randint(1, LABELS)]}
    return {"all_products": True, "excluded_category_ids": [rng.randint(1, CATEGORIES)]}


def _params(rng: random.Random, kind: str) -> dict:
    pick = rng.choice
    product = lambda: rng.randint(1, PRODUCTS)  # noqa: E731
    return {
        "percent_discount": lambda: {"percent_bp": pick([500, 1000, 1500, 3333])},
        "amount_discount": lambda: {
            "amount": pick([50, 100, 500]),
            "mode": pick(["per_unit", "per_order"]),
        },
        "bogo": lambda: {
            "buy_quantity": pick([1, 2]),
            "get_quantity": 1,
            "percent_bp": pick([5000, 10000]),
        },
        "combo": lambda: {
            "price": 999,
            "groups": [{"scope": _scope(rng), "quantity": 1} for _ in range(3)],
        },
        "free_item": lambda: {"gift_product_id": product(), "trigger_quantity": pick([0, 2])},
        "happy_hour": lambda: {"percent_bp": 2000},
        "cashback": lambda: {"percent_bp": 300},
        "payment_discount": lambda: {"payment_methods": ["card"], "percent_bp": 500},
        "package": lambda: {
            "price": 1500,
            "items": [{"product_id": product(), "quantity": 1} for _ in range(3)],
        },
        "mix_match": lambda: {"quantity": 3, "price": 1000},
        "upsell": lambda: {"target_product_id": product(), "target_unit_price": 299, "price": 99},
        "threshold": lambda: {
            "tiers": [
                {"min_subtotal": 5000, "amount": 500},
                {"min_subtotal": 10000, "amount": 1500},
            ]
        },
        "cross_brand": lambda: {"brand_ids": [1, 2]},
    }[kind]()


def _promotions(rng: random.Random, count: int) -> list[dict]:
    kinds = [kind for kind, weight in TYPES for _ in range(weight)]
    promotions = []
    for promotion_id in range(1, count + 1):
        kind = rng.choice(kinds)
        validity: dict = {"starts_at": NOW - 86400, "ends_at": NOW + 86400 * 30}
        if kind == "happy_hour" or rng.random() < 0.15:
            validity["windows"] = [
                {"start": rng.choice([660, 900, 1320]), "end": rng.choice([840, 1080, 120])}
            ]
        promotions.append(
            {
                "schema_version": 1,
                "id": promotion_id,
                "name": f"Promotion {promotion_id}",
                "type": kind,
                "status": "active",
                "priority": rng.randint(0, 5),
                "stacking": rng.choices(["standard", "stackable", "exclusive"], [75, 20, 5])[0],
                "target": rng.choice(["items", "items", "order"]),
                "validity": validity,
                "stores": rng.choice([[], [], [], [1], [2]]),
                "channels": [],
                "targeting": {},
                "code": "SAVE" if rng.random() < 0.1 else None,
                "limits": {"max_applications": rng.choice([None, None, 1, 2])},
                "scope": _scope(rng),
                "params": _params(rng, kind),
            }
        )
    return promotions


def _basket(rng: random.Random, catalog: list[dict], lines: int) -> dict:
    return {
        "lines": [
            product | {"line_id": str(index), "quantity": rng.randint(1, 3)}
            for index, product in enumerate(rng.sample(catalog, lines))
        ]
    }


CONTEXT = {
    "now": NOW,
    "local": "2024-06-01T12:30",
    "store_id": 1,
    "channel": "pos",
    "customer_id": 5,
}

NODE_BENCH = """
import { calculate } from %s;
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { runs, cases } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const out = [];
for (const { basket, context, promotions } of cases) {
  for (let i = 0; i < 20; i++) calculate({ basket, context, promotions });
  const times = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    calculate({ basket, context, promotions });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  out.push(times);
}
process.stdout.write(JSON.stringify(out));
"""


def _stats(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    arguments = parser.parse_args()
    rng = random.Random(20240601)
    catalog = _catalog(rng)
    cases = []
    for count in (10, 100, 1000):
        promotions = _promotions(rng, count)
        for lines in (5, 50):
            cases.append(
                {
                    "promotions": promotions,
                    "basket": _basket(rng, catalog, lines),
                    "context": CONTEXT,
                }
            )
    python_times = []
    for case in cases:
        runs = arguments.runs if len(case["promotions"]) < 1000 else max(20, arguments.runs // 5)
        for _ in range(5):
            calculate(**case)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            calculate(**case)
            times.append((time.perf_counter() - start) * 1000)
        python_times.append(times)
    node = subprocess.run(
        ["node", "--input-type=module", "-e", NODE_BENCH % json.dumps(ENGINE.as_uri())],
        input=json.dumps({"runs": arguments.runs, "cases": cases}),
        capture_output=True,
        text=True,
        check=True,
    )
    node_times = json.loads(node.stdout)
    print("| promotions | lines | Python median | Python p95 | Node median | Node p95 |")
    print("|---:|---:|---:|---:|---:|---:|")
    for case, py_times, js_times in zip(cases, python_times, node_times, strict=True):
        py_median, py_p95 = _stats(py_times)
        js_median, js_p95 = _stats(js_times)
        print(
            f"| {len(case['promotions'])} | {len(case['basket']['lines'])} "
            f"| {py_median:.3f} ms | {py_p95:.3f} ms | {js_median:.3f} ms | {js_p95:.3f} ms |"
        )


if __name__ == "__main__":
    main()
