// node --test promotions/tests/js/
// The JavaScript engine against the hand-computed golden vectors shared with pytest
// (promotions/tests/vectors/*.json), plus the arithmetic and canonical JSON contract.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import {
  ENGINE_VERSION,
  calculate,
  canonicalJson,
  normaliseCode,
  percentOf,
  resultToJson,
} from "../../static/promotions/engine.js";

const here = dirname(fileURLToPath(import.meta.url));
const vectorDir = join(here, "..", "vectors");

// Where `actual` does not contain `expected` (same rules as test_golden_vectors.py), or null.
function mismatch(expected, actual, path = "result") {
  if (expected !== null && typeof expected === "object" && !Array.isArray(expected)) {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) {
      return `${path}: expected an object, got ${JSON.stringify(actual)}`;
    }
    for (const [key, value] of Object.entries(expected)) {
      if (!Object.hasOwn(actual, key)) return `${path}.${key}: missing`;
      const problem = mismatch(value, actual[key], `${path}.${key}`);
      if (problem) return problem;
    }
    return null;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      return `${path}: expected ${expected.length} items, got ${JSON.stringify(actual)}`;
    }
    for (let i = 0; i < expected.length; i++) {
      const problem = mismatch(expected[i], actual[i], `${path}[${i}]`);
      if (problem) return problem;
    }
    return null;
  }
  if (expected !== actual) {
    return `${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
  }
  return null;
}

const files = readdirSync(vectorDir)
  .filter((name) => name.endsWith(".json"))
  .sort();

for (const file of files) {
  const { vectors } = JSON.parse(readFileSync(join(vectorDir, file), "utf8"));
  for (const vector of vectors) {
    test(`${file.replace(/\.json$/, "")}: ${vector.name}`, () => {
      const result = calculate({
        basket: vector.basket,
        context: vector.context,
        promotions: vector.promotions,
        bundleHash: vector.bundle_hash ?? null,
      });
      if (vector.exact) assert.deepStrictEqual(result, vector.expected);
      else assert.equal(mismatch(vector.expected, result), null);
    });
  }
}

test("percentOf rounds half up once, exactly, beyond 2^53 products", () => {
  assert.equal(percentOf(99, 3333), 33);
  assert.equal(percentOf(4, 1250), 1);
  assert.equal(percentOf(3, 1250), 0);
  assert.equal(percentOf(1, 5000), 1);
  assert.equal(percentOf(Number.MAX_SAFE_INTEGER, 10000), Number.MAX_SAFE_INTEGER);
  assert.equal(percentOf(Number.MAX_SAFE_INTEGER, 5000), 4503599627370496);
  assert.equal(percentOf(100, 20000), 100); // basis points are clamped to 0..10000
});

test("codes compare trimmed and upper-cased, ASCII letters only", () => {
  assert.equal(normaliseCode("  summer-24\t"), "SUMMER-24");
  assert.equal(normaliseCode("straße"), "STRAßE");
});

test("canonical JSON: sorted keys, no spaces, ASCII escapes like Python's json.dumps", () => {
  const text = canonicalJson({ b: [1, null, true], a: "é ☕ 😀 \"q\" \\ \n \u0001 \u007f" });
  assert.equal(
    text,
    '{"a":"\\u00e9 \\u2615 \\ud83d\\ude00 \\"q\\" \\\\ \\n \\u0001 \\u007f","b":[1,null,true]}',
  );
});

test("the result carries the engine version and the bundle hash, byte for byte", () => {
  const result = calculate({
    basket: { lines: [{ product_id: 1, quantity: 1, unit_price: 100 }] },
    context: { now: 0, local: "1970-01-01T00:00" },
    promotions: [],
    bundleHash: "sha256:x",
  });
  assert.equal(ENGINE_VERSION, "1.2.0");
  assert.equal(
    resultToJson(result),
    '{"applied":[],"bundle_hash":"sha256:x","cashback":[],"cashback_total":0,' +
      '"discount_total":0,"engine_version":"1.2.0","lines":[{"allocations":[],"discount":0,' +
      '"index":0,"line_id":null,"product_id":1,"quantity":1,"subtotal":100,"total":100,' +
      '"unit_price":100}],"rejected":[],"subtotal":100,"suggestions":[],"total":100}',
  );
});

test("bad input is refused, not priced", () => {
  const context = { now: 0, local: "2024-06-01T12:00" };
  const lines = (line) => ({ lines: [line] });
  assert.throws(
    () => calculate({ basket: lines({ product_id: 1, quantity: 0, unit_price: 1 }), context, promotions: [] }),
    RangeError,
  );
  assert.throws(
    () => calculate({ basket: lines({ product_id: 1, quantity: 1, unit_price: 1.5 }), context, promotions: [] }),
    RangeError,
  );
  assert.throws(
    () =>
      calculate({
        basket: lines({ product_id: 1, quantity: 2, unit_price: Number.MAX_SAFE_INTEGER }),
        context,
        promotions: [],
      }),
    RangeError,
  );
  assert.throws(
    () => calculate({ basket: { lines: [] }, context: { now: 0, local: "2024-06-01 12:00" }, promotions: [] }),
    RangeError,
  );
  assert.throws(
    () => calculate({ basket: { lines: [] }, context, promotions: [{ id: "7" }] }),
    RangeError,
  );
});
