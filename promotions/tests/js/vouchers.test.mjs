// node --test promotions/tests/js/
// Offline vouchers in engine.js: the check character and `verifyVoucher`, against payloads signed
// by Python (vouchers/codes.py `signed_payload`) and by WebCrypto. The Python and JavaScript
// checks are compared on thousands of payloads by vouchers/tests/test_engine_parity.py.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  VOUCHER_STATUS,
  voucherCheckCharacter,
  voucherCodeWellFormed,
  verifyVoucher,
} from "../../static/promotions/engine.js";

const ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
// Made by Python: the Ed25519 key whose private bytes are 0, 1, ..., 31 (signatures are
// deterministic), `signed_payload(brand_id=3, batch_id=12, code="OFF-ABCDEFGHR")`, and the same
// code signed for brand 4.
const KEY = "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg";
const CODE = "OFF-ABCDEFGHR";
const PAYLOAD =
  "V1.OFF-ABCDEFGHR.12.CwitJBfiFU_-_9HFzVzyJQ13SpufZJcR0HKTpdlYHyPLtHLdrJlkNiowHwm-JF0_AizE0FTnMQYfzi8IDLZlDA";
const BRAND_4_PAYLOAD =
  "V1.OFF-ABCDEFGHR.12.OXO4mDb0H0gEQAiDLuY7D_q3UKxx61-A8TN7UzwaZ-atYTcL1MJwAekyO3mnWN-K6KBdNDspgfzxgyq26486Cg";
const NOW = 1500;

function bundle({ key = KEY, startsAt = null, endsAt = null, brandId = 3 } = {}) {
  return [
    { schema_version: 1, id: 2, brand_id: 3, type: "percent_discount" },
    {
      schema_version: 2,
      id: 7,
      brand_id: brandId,
      type: "percent_discount",
      voucher: {
        key,
        batches: [{ id: 12, prefix: "OFF-", length: 8, starts_at: startsAt, ends_at: endsAt }],
      },
    },
  ];
}

const check = (payload, promotions = bundle(), now = NOW) =>
  verifyVoucher({ payload, promotions, now });

const base64url = (bytes) => Buffer.from(bytes).toString("base64url");

test("the check character is the weighted sum of the body modulo 31, as in Python", () => {
  // 2 has value 0, 3 value 1, 4 value 2: 1*1 + 2*2 + 3*0 = 5 -> "7"
  assert.equal(voucherCheckCharacter("342"), "7");
  // Values from vouchers/codes.py `check_character`.
  const python = {
    "": "2",
    2: "2",
    Z: "Z",
    ZZZZZZ: "C",
    ABCDEFGH: "R",
    "23456789ABCDEFGHJKMNPQRS": "E",
    K7M2QX9P: "7",
    HEKPWANTED: "X",
  };
  for (const [body, character] of Object.entries(python)) {
    assert.equal(voucherCheckCharacter(body), character, body);
  }
});

test("every single wrong character and every swap of neighbours is caught", () => {
  for (const body of ["ABCDEFGH", "K7M2QX9P", "22222222", "ZYXWVUTSRQPNMKJH"]) {
    const code = `SPR-${body}${voucherCheckCharacter(body)}`;
    assert.ok(voucherCodeWellFormed(code, "SPR-", body.length));
    for (let position = 4; position < code.length; position++) {
      for (const wrong of ALPHABET) {
        if (wrong === code[position]) continue;
        const typo = code.slice(0, position) + wrong + code.slice(position + 1);
        assert.ok(!voucherCodeWellFormed(typo, "SPR-", body.length), typo);
      }
      if (position + 1 < code.length && code[position] !== code[position + 1]) {
        const swapped =
          code.slice(0, position) + code[position + 1] + code[position] + code.slice(position + 2);
        assert.ok(!voucherCodeWellFormed(swapped, "SPR-", body.length), swapped);
      }
    }
  }
  assert.ok(!voucherCodeWellFormed("SPQ-ABCDEFGHR", "SPR-", 8));
  assert.ok(!voucherCodeWellFormed("SPR-ABCDEFGHR2", "SPR-", 8));
  assert.ok(!voucherCodeWellFormed("SPR-ABCDEFGOR", "SPR-", 8));
});

test("a payload signed by Python verifies and names its promotion", async () => {
  assert.deepEqual(await check(PAYLOAD), {
    status: VOUCHER_STATUS.VALID,
    code: CODE,
    batch_id: 12,
    promotion_id: 7,
  });
  // Blanks around it and a lower-case code are what a person types.
  const typed = ` ${PAYLOAD.replace(CODE, CODE.toLowerCase())}\n`;
  assert.equal((await check(typed)).status, "valid");
  assert.deepEqual(Object.values(VOUCHER_STATUS).sort(), [
    "bad_signature",
    "expired",
    "malformed",
    "not_started",
    "unknown_batch",
    "valid",
  ]);
});

test("tampered, foreign-key and other-brand payloads are refused", async () => {
  const status = async (payload, promotions) => (await check(payload, promotions)).status;
  const signature = PAYLOAD.split(".")[3];
  // Another well-formed code under this signature.
  const other = `OFF-ABCDEFGJ${voucherCheckCharacter("ABCDEFGJ")}`;
  assert.equal(await status(PAYLOAD.replace(CODE, other)), "bad_signature");
  // A typo is caught by the check character before the signature.
  assert.equal(await status(PAYLOAD.replace("ABCD", "ABCE")), "malformed");
  assert.equal(await status(PAYLOAD.replace(".12.", ".13.")), "unknown_batch");
  assert.deepEqual(await check(PAYLOAD.replace(".12.", ".13.")), {
    status: "unknown_batch",
    code: CODE,
    batch_id: 13,
    promotion_id: null,
  });
  // One bit of the signature flipped; the same bytes spelt non-canonically.
  const raw = Buffer.from(signature, "base64url");
  raw[10] ^= 4;
  assert.equal(await status(PAYLOAD.replace(signature, base64url(raw))), "bad_signature");
  assert.equal(await status(PAYLOAD.slice(0, -1) + "B"), "malformed");
  for (let cut = 1; cut < PAYLOAD.length; cut += 7) {
    assert.equal(await status(PAYLOAD.slice(0, -cut)), "malformed");
  }
  assert.equal(await status(CODE), "malformed");
  assert.equal(await status(null), "malformed");
  // Signed for brand 4 with brand 3's key; the bundle saying brand 4; a key the bundle lacks.
  assert.equal(await status(BRAND_4_PAYLOAD), "bad_signature");
  assert.equal(await status(PAYLOAD, bundle({ brandId: 4 })), "bad_signature");
  assert.equal(await status(PAYLOAD, bundle({ brandId: null })), "bad_signature");
  const foreign = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  const foreignKey = base64url(await crypto.subtle.exportKey("raw", foreign.publicKey));
  assert.equal(await status(PAYLOAD, bundle({ key: foreignKey })), "bad_signature");
  // Only the exact unpadded base64url key: padded, or with its unused low bits set, it is refused.
  assert.equal(await status(PAYLOAD, bundle({ key: `${KEY}=` })), "bad_signature");
  assert.equal(await status(PAYLOAD, bundle({ key: `${KEY.slice(0, -1)}h` })), "bad_signature");
  assert.equal(await status(PAYLOAD, bundle({ key: null })), "bad_signature");
});

test("a payload signed by WebCrypto verifies under its own key", async () => {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  const key = base64url(await crypto.subtle.exportKey("raw", pair.publicKey));
  const message = new TextEncoder().encode(`voucher:v1:3:12:${CODE}`);
  const signature = base64url(await crypto.subtle.sign({ name: "Ed25519" }, pair.privateKey, message));
  assert.equal(signature.length, 86);
  const payload = `V1.${CODE}.12.${signature}`;
  assert.equal((await check(payload, bundle({ key }))).status, "valid");
  assert.equal((await check(payload)).status, "bad_signature");
});

test("a batch is valid from starts_at included to ends_at excluded", async () => {
  const promotions = bundle({ startsAt: 1000, endsAt: 2000 });
  assert.equal((await check(PAYLOAD, promotions, 999)).status, "not_started");
  assert.equal((await check(PAYLOAD, promotions, 1000)).status, "valid");
  assert.equal((await check(PAYLOAD, promotions, 1999)).status, "valid");
  assert.equal((await check(PAYLOAD, promotions, 2000)).status, "expired");
  // The signature comes first: a forged code outside its validity is bad_signature.
  const forged = PAYLOAD.replace(CODE, `OFF-ABCDEFGJ${voucherCheckCharacter("ABCDEFGJ")}`);
  assert.equal((await check(forged, promotions, 2000)).status, "bad_signature");
});
