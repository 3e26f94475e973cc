// node --test promotions/tests/js/
// A/B experiment assignment in engine.js: MurmurHash3 against the published reference values, the
// salt hashed as UTF-8, and `experimentVariant` (ENGINE.md, "Experiments"). Python and JavaScript
// are compared on 100,000 random pairs by experiments/tests/test_assignment_parity.py, and priced
// with experiments by the golden vectors (vectors/experiments.json) and test_engines_agree.py.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  experimentBucket,
  experimentVariant,
  murmur3_32,
} from "../../static/promotions/engine.js";

const utf8 = (text) => new TextEncoder().encode(text);
const NOW = 1717243200;

test("murmur3_32 gives the reference values of MurmurHash3_x86_32", () => {
  assert.equal(murmur3_32(utf8("")), 0);
  assert.equal(murmur3_32(utf8(""), 1), 0x514e28b7);
  assert.equal(murmur3_32(utf8(""), 0xffffffff), 0x81f16f39);
  assert.equal(murmur3_32(utf8("hello")), 0x248bfa47);
  assert.equal(murmur3_32(utf8("The quick brown fox jumps over the lazy dog")), 0x2e4ff723);
  assert.equal(murmur3_32(utf8("Hello, world!"), 0x9747b28c), 0x24884cba);
  // Tails of 1, 2 and 3 bytes, and a whole block.
  assert.equal(murmur3_32(utf8("a")), 0x3c2569b2);
  assert.equal(murmur3_32(utf8("ab")), 0x9bbfd75f);
  assert.equal(murmur3_32(utf8("abc")), 0xb3dd93fa);
  assert.equal(murmur3_32(utf8("abcd")), 0x43ed676a);
  // Bytes with the high bit set, read little-endian.
  assert.equal(murmur3_32(Uint8Array.of(0xff, 0xff, 0xff, 0xff)), 0x76293b50);
  assert.equal(murmur3_32(Uint8Array.of(0x21, 0x43, 0x65, 0x87)), 0xf55b516b);
  assert.equal(murmur3_32(Uint8Array.of(0x21, 0x43, 0x65, 0x87), 0x5082edee), 0x2362f9de);
  assert.equal(murmur3_32(Uint8Array.of(0, 0, 0, 0)), 0x2362f9de);
});

test("murmur3_32 is an unsigned 32-bit integer", () => {
  for (let i = 0; i < 2000; i++) {
    const hash = murmur3_32(utf8(`salt:${i}`));
    assert.ok(Number.isInteger(hash) && hash >= 0 && hash <= 0xffffffff, String(hash));
  }
});

test("the bucket hashes the UTF-8 text <salt>:<customer id>, as in calculator.py", () => {
  // Values from calculator.murmur3_32 (the golden vectors quote the same ones).
  assert.equal(murmur3_32(utf8("a1b2c3d4e5f60718:1")), 0x38dea9a5);
  assert.equal(experimentBucket("a1b2c3d4e5f60718", 1, 2), 1);
  assert.equal(experimentBucket("a1b2c3d4e5f60718", 2, 2), 0);
  assert.equal(experimentBucket("a1b2c3d4e5f60718", 3, 4), 3);
  assert.equal(experimentBucket("a1b2c3d4e5f60718", 5, 3), 1);
  assert.equal(experimentBucket("a1b2c3d4e5f60718", 2 ** 53 - 1, 4), 2);
});

test("non-ASCII salts are hashed as UTF-8, not as UTF-16 code units or Latin-1", () => {
  // "é" and "ñ" are two bytes each in UTF-8; "☕" three; "🍩" four (one surrogate pair).
  assert.deepEqual([...utf8("sél-ñ")], [0x73, 0xc3, 0xa9, 0x6c, 0x2d, 0xc3, 0xb1]);
  assert.equal(murmur3_32(utf8("sél-ñ:4")), 0x8e3eea3b);
  assert.equal(experimentBucket("sél-ñ", 4, 2), 1);
  const codeUnits = Uint8Array.from("sél-ñ:4", (c) => c.charCodeAt(0) & 0xff);
  assert.equal(murmur3_32(codeUnits) % 2, 0); // what a hash of one byte per character gives
  assert.equal(murmur3_32(utf8("☕🍩:1")), 0x62d5be15);
  assert.equal(experimentBucket("☕🍩", 3, 3), 0x92838863 % 3);
  assert.equal(murmur3_32(utf8("日本:2")), 0x3be78ecd);
  assert.equal(experimentBucket("日本", 2, 2), 1);
});

function experiment(changes = {}) {
  return {
    id: 1,
    salt: "a1b2c3d4e5f60718",
    variant: 11,
    control: 10,
    variants: [
      { id: 10, weight: 1 },
      { id: 11, weight: 1 },
    ],
    audience: { labels: [], tiers: [] },
    starts_at: null,
    ends_at: null,
    ...changes,
  };
}

const assign = (exp, customerId, { labels = [], tier = null, now = NOW } = {}) =>
  experimentVariant(exp, { now, customerId, labels: new Set(labels), tier });

test("an identified customer gets the variant whose cumulative weight passes the bucket", () => {
  assert.equal(assign(experiment(), 1), 11); // 0x38DEA9A5 % 2 = 1
  assert.equal(assign(experiment(), 2), 10); // 0x8AB22620 % 2 = 0
  assert.equal(assign(experiment(), 0), 10); // customer 0 is a customer
  // Three equal variants: buckets 0, 1, 2.
  const three = experiment({
    variants: [
      { id: 10, weight: 1 },
      { id: 11, weight: 1 },
      { id: 12, weight: 1 },
    ],
  });
  assert.deepEqual([1, 5, 2].map((customer) => assign(three, customer)), [10, 11, 12]);
});

test("variants are walked by id, whatever order they are listed in", () => {
  const listed = experiment({
    variants: [
      { id: 11, weight: 1 },
      { id: 10, weight: 3 },
    ],
  });
  // By id, 10 holds buckets 0-2 and 11 bucket 3.
  assert.equal(assign(listed, 3), 11); // 0x0FF8FF4B % 4 = 3
  assert.equal(assign(listed, 2), 10); // 0x8AB22620 % 4 = 0
  assert.equal(listed.variants[0].id, 11, "the experiment is not sorted in place");
});

test("anonymous customers and ids that are not non-negative safe integers get the control", () => {
  // Variant 11 sorts first and takes bucket 0, which customers 0, -1 and 2^53 would all hash to.
  const exp = experiment({
    control: 12,
    variants: [
      { id: 11, weight: 1 },
      { id: 12, weight: 1 },
    ],
  });
  assert.equal(assign(exp, 0), 11);
  assert.equal(assign(exp, 2 ** 53 - 1), 11);
  for (const customer of [null, undefined, -1, 2 ** 53, 1.5, "0", true, Number.NaN]) {
    assert.equal(assign(exp, customer), 12, String(customer));
  }
});

test("outside [starts_at, ends_at) everyone gets the control", () => {
  const exp = experiment({ starts_at: NOW, ends_at: NOW + 3600 });
  assert.equal(assign(exp, 1, { now: NOW - 1 }), 10);
  assert.equal(assign(exp, 1, { now: NOW }), 11);
  assert.equal(assign(exp, 1, { now: NOW + 3599 }), 11);
  assert.equal(assign(exp, 1, { now: NOW + 3600 }), 10);
});

test("the audience: labels any-of and tier in tiers, both when both are set", () => {
  const labels = experiment({ audience: { labels: [4, 6], tiers: [] } });
  assert.equal(assign(labels, 1, { labels: [3, 6] }), 11);
  assert.equal(assign(labels, 1, { labels: [5] }), 10);
  assert.equal(assign(labels, 1), 10);
  const tiers = experiment({ audience: { labels: [], tiers: ["gold", "platinum"] } });
  assert.equal(assign(tiers, 1, { tier: "platinum" }), 11);
  assert.equal(assign(tiers, 1, { tier: "silver" }), 10);
  assert.equal(assign(tiers, 1, { tier: null }), 10);
  const both = experiment({ audience: { labels: [4], tiers: ["gold"] } });
  assert.equal(assign(both, 1, { labels: [4], tier: "gold" }), 11);
  assert.equal(assign(both, 1, { labels: [4], tier: "silver" }), 10);
  assert.equal(assign(both, 1, { labels: [], tier: "gold" }), 10);
  // No audience, or an empty one: every identified customer.
  assert.equal(assign(experiment({ audience: undefined }), 1), 11);
  assert.equal(assign(experiment({ audience: {} }), 1), 11);
});

test("weights: 0 never assigned, negative counts 0, non-integer dropped, total 0 control", () => {
  const middle = experiment({
    variants: [
      { id: 10, weight: 1 },
      { id: 11, weight: 0 },
      { id: 12, weight: 1 },
    ],
  });
  assert.equal(assign(middle, 1), 12);
  const odd = experiment({
    variants: [
      { id: 10, weight: 1 },
      { id: 11, weight: 1.5 },
      { id: 12, weight: "2" },
      { id: 13, weight: true },
      { id: 14, weight: 1 },
      { id: 15, weight: -3 },
      { id: 16, weight: null },
      { id: 17 },
    ],
  });
  assert.equal(assign(odd, 1), 14); // kept: 10, 14, 15 (counts 0); total 2; bucket 1
  assert.equal(assign(odd, 2), 10);
  const zero = experiment({
    variants: [
      { id: 10, weight: 0 },
      { id: 11, weight: 0 },
    ],
  });
  assert.equal(assign(zero, 1), 10);
  assert.equal(assign(experiment({ variants: [] }), 1), 10);
  assert.equal(assign(experiment({ variants: undefined }), 1), 10);
  assert.equal(assign(experiment({ variants: [], control: null }), 1), null);
  assert.equal(assign(experiment({ variants: [], control: undefined }), 1), null);
});

test("the assignment sticks and the split follows the weights", () => {
  const exp = experiment({
    salt: "0f1e2d3c",
    variants: [
      { id: 1, weight: 1 },
      { id: 2, weight: 3 },
    ],
    control: 1,
  });
  let second = 0;
  for (let customer = 0; customer < 40000; customer++) {
    if (assign(exp, customer) === 2) second++;
  }
  assert.ok(Math.abs(second / 40000 - 0.75) < 0.01, String(second));
  const first = assign(exp, 7);
  assert.deepEqual([7, 7, 7].map((customer) => assign(exp, customer)), [first, first, first]);
});
