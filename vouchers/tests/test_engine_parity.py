"""The offline voucher check is the same in Python and JavaScript: `vouchers.codes.
offline_voucher_check` and engine.js `verifyVoucher` give byte-identical answers
(`{status, code, batch_id, promotion_id}`) to signed payloads as a till scans them, tampered ones,
codes signed by another key or for another brand, outside their batch's validity, and to garbage.

The payloads are generated from a seeded `random.Random` (the keys too, so a failure replays)
and signed with `cryptography`'s Ed25519; Node checks the whole batch in one subprocess through
`promotions/tests/js/run_voucher_check.mjs`. Each case also says what it should answer, so the
test pins the statuses, not only the agreement.
"""

import base64
import json
import random
import subprocess
from collections import Counter
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from promotions.services.calculator import canonical_json
from vouchers.codes import (
    ALPHABET,
    BAD_SIGNATURE,
    EXPIRED,
    MALFORMED,
    NOT_STARTED,
    UNKNOWN_BATCH,
    VALID,
    code_compose,
    offline_voucher_check,
    public_key_text,
    signed_payload,
)

RUNNER = (
    Path(__file__).resolve().parents[2] / "promotions" / "tests" / "js" / "run_voucher_check.mjs"
)
SEED = 20_261_207
PAYLOADS = 250  # signed payloads; each gives about a dozen cases
NOW = 1_717_243_200
STARTS, ENDS = NOW - 3600, NOW + 3600
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
BRAND, OTHER_BRAND = 3, 4
UNKNOWN_BATCH_ID = 99
TWIN_BATCHES = {
    12: 16,
    16: 12,
}  # the same prefix and length: a payload moved across stays well formed
NOW_CHOICES = [NOW, NOW, STARTS - 1, STARTS, ENDS - 1, ENDS]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _batch(batch_id, prefix, length, starts_at=None, ends_at=None) -> dict:
    return {
        "id": batch_id,
        "prefix": prefix,
        "length": length,
        "starts_at": starts_at,
        "ends_at": ends_at,
    }


def _promotion(promotion_id, brand_id, key, batches) -> dict:
    return {
        "schema_version": 2,
        "id": promotion_id,
        "brand_id": brand_id,
        "type": "percent_discount",
        "params": {"percent_bp": 1000},
        "voucher": {"key": key, "batches": batches},
    }


class World:
    """A bundle of two brands' voucher promotions, and the keys behind them."""

    def __init__(self, rng: random.Random):
        self.key = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
        self.other_brand_key = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
        self.foreign_key = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
        key, other = public_key_text(self.key), public_key_text(self.other_brand_key)
        # Promotion 9 lists batch 30 too: the lower promotion id (5) owns it, whatever the order.
        self.promotions = [
            _promotion(9, BRAND, key, [_batch(30, "ZZZ", 7)]),
            _promotion(
                7,
                BRAND,
                key,
                [_batch(12, "OFF-", 8), _batch(13, "", 6, STARTS, ENDS), _batch(16, "OFF-", 8)],
            ),
            _promotion(5, BRAND, key, [_batch(14, "SPR-", 10, None, ENDS), _batch(30, "DUP", 6)]),
            _promotion(11, OTHER_BRAND, other, [_batch(21, "B4-", 8, STARTS, None)]),
            _promotion(15, BRAND, None, []),  # online only: no key, no offline batch
            {"schema_version": 1, "id": 16, "brand_id": BRAND, "type": "percent_discount"},
        ]
        self.batches = {}  # batch id -> (promotion id, brand id, private key, batch)
        for promotion in sorted(self.promotions, key=lambda p: p["id"], reverse=True):
            brand_key = self.key if promotion["brand_id"] == BRAND else self.other_brand_key
            for batch in (promotion.get("voucher") or {}).get("batches", ()):
                self.batches[batch["id"]] = (
                    promotion["id"],
                    promotion["brand_id"],
                    brand_key,
                    batch,
                )

    def shuffled(self, rng: random.Random) -> list[dict]:
        promotions = list(self.promotions)
        rng.shuffle(promotions)
        return promotions


def _status_at(batch: dict, now: int) -> str:
    if batch["starts_at"] is not None and now < batch["starts_at"]:
        return NOT_STARTED
    if batch["ends_at"] is not None and now >= batch["ends_at"]:
        return EXPIRED
    return VALID


def _random_code(rng: random.Random, batch: dict) -> str:
    body = "".join(rng.choice(ALPHABET) for _ in range(batch["length"]))
    return code_compose(prefix=batch["prefix"], body=body)


def _replace_signature(payload: str, signature: str) -> str:
    return payload.rsplit(".", 1)[0] + "." + signature


def _signed_cases(rng: random.Random, world: World) -> list[dict]:
    """A signed payload per round and its variants, each with the status it should get."""
    cases = []
    previous_signature = None
    for _ in range(PAYLOADS):
        batch_id = rng.choice(sorted(world.batches))
        promotion_id, brand_id, key, batch = world.batches[batch_id]
        code = _random_code(rng, batch)
        payload = signed_payload(private_key=key, brand_id=brand_id, batch_id=batch_id, code=code)
        _, _, _, signature = payload.split(".")
        now = rng.choice(NOW_CHOICES)
        good = _status_at(batch, now)

        def case(text, expected, what, at=now):
            cases.append(
                {
                    "payload": text,
                    "promotions": world.shuffled(rng),
                    "now": at,
                    "expected": expected,
                    "what": what,
                }
            )

        case(payload, good, "as signed")
        cases[-1]["answer"] = {
            "status": good,
            "code": code,
            "batch_id": batch_id,
            "promotion_id": promotion_id,
        }
        # What a person or a scanner adds: blanks around it, a lower-case code.
        lower = payload.replace(code, code.lower(), 1)
        case(
            rng.choice([" ", "\t", "\r\n", ""]) + lower + rng.choice(["\n", " ", ""]), good, "typed"
        )
        # Every instant around the batch's validity.
        at = rng.choice(NOW_CHOICES)
        case(payload, _status_at(batch, at), "another instant", at=at)
        # Another well-formed code under this code's signature.
        other = code
        while other == code:
            other = _random_code(rng, batch)
        case(payload.replace(f".{code}.", f".{other}.", 1), BAD_SIGNATURE, "changed code")
        # One mistyped character of the body: the check character catches it before the key.
        position = len(batch["prefix"]) + rng.randrange(batch["length"])
        wrong = rng.choice([c for c in ALPHABET if c != code[position]])
        typo = code[:position] + wrong + code[position + 1 :]
        case(payload.replace(f".{code}.", f".{typo}.", 1), MALFORMED, "mistyped code")
        # Another batch: unknown, or a twin of the same form (well formed, but not what was signed).
        case(payload.replace(f".{batch_id}.", f".{UNKNOWN_BATCH_ID}.", 1), UNKNOWN_BATCH, "batch")
        if batch_id in TWIN_BATCHES:
            twin = f".{TWIN_BATCHES[batch_id]}."
            case(payload.replace(f".{batch_id}.", twin, 1), BAD_SIGNATURE, "twin batch")
        case(payload.replace(f".{batch_id}.", f".0{batch_id}.", 1), good, "leading zero")
        # One bit of the signature flipped (still canonical base64url).
        raw = bytearray(_unb64(signature))
        bit = rng.randrange(512)
        raw[bit // 8] ^= 1 << (bit % 8)
        case(_replace_signature(payload, _b64(bytes(raw))), BAD_SIGNATURE, "signature bit")
        # The same bytes spelt non-canonically: the last character's 4 unused bits set.
        last = BASE64URL.index(signature[-1])
        noisy = signature[:-1] + BASE64URL[last | rng.randint(1, 15)]
        case(_replace_signature(payload, noisy), MALFORMED, "non-canonical signature")
        # Truncated anywhere, or one character longer.
        cut = rng.randint(1, len(payload) - 1)
        case(payload[:-cut], MALFORMED, "truncated")
        case(payload + rng.choice("A-_"), MALFORMED, "lengthened")
        # Signed by a key the bundle does not know.
        foreign = signed_payload(
            private_key=world.foreign_key, brand_id=brand_id, batch_id=batch_id, code=code
        )
        case(foreign, BAD_SIGNATURE, "foreign key")
        # The right key, but signed for another brand; and the other brand's key.
        other_brand = OTHER_BRAND if brand_id == BRAND else BRAND
        wrong_brand = signed_payload(
            private_key=key, brand_id=other_brand, batch_id=batch_id, code=code
        )
        case(wrong_brand, BAD_SIGNATURE, "other brand")
        wrong_key = world.other_brand_key if brand_id == BRAND else world.key
        wrong_brand_key = signed_payload(
            private_key=wrong_key, brand_id=brand_id, batch_id=batch_id, code=code
        )
        case(wrong_brand_key, BAD_SIGNATURE, "other brand's key")
        # Another payload's signature.
        if previous_signature is not None and previous_signature != signature:
            case(_replace_signature(payload, previous_signature), BAD_SIGNATURE, "swapped")
        previous_signature = signature
    return cases


def _key_cases(rng: random.Random, world: World) -> list[dict]:
    """One valid payload against bundles whose key or brand is spelt otherwise: only the exact
    unpadded base64url key of the right brand verifies."""
    code = code_compose(prefix="OFF-", body="ABCDEFGH")
    payload = signed_payload(private_key=world.key, brand_id=BRAND, batch_id=12, code=code)
    key = public_key_text(world.key)
    last = BASE64URL.index(key[-1])
    standard = base64.b64encode(_unb64(key)).decode("ascii")
    variants = [
        ({}, VALID),
        ({"key": key + "="}, BAD_SIGNATURE),
        ({"key": standard}, BAD_SIGNATURE),
        ({"key": key[:-1] + BASE64URL[last | rng.randint(1, 3)]}, BAD_SIGNATURE),
        ({"key": " " + key}, BAD_SIGNATURE),
        ({"key": key[:-1]}, BAD_SIGNATURE),
        ({"key": None}, BAD_SIGNATURE),
        ({"key": ""}, BAD_SIGNATURE),
        ({"key": 5}, BAD_SIGNATURE),
        ({"key": public_key_text(world.foreign_key)}, BAD_SIGNATURE),
        ({"brand_id": None}, BAD_SIGNATURE),
        ({"brand_id": "3"}, BAD_SIGNATURE),
        ({"brand_id": True}, BAD_SIGNATURE),
        ({"brand_id": OTHER_BRAND}, BAD_SIGNATURE),
        ({"brand_id": ...}, BAD_SIGNATURE),
    ]
    cases = []
    for change, expected in variants:
        promotions = json.loads(json.dumps(world.promotions))
        promotion = next(p for p in promotions if p["id"] == 7)
        for field, value in change.items():
            if value is ...:
                del promotion[field]
            elif field == "key":
                promotion["voucher"]["key"] = value
            else:
                promotion[field] = value
        cases.append(
            {
                "payload": payload,
                "promotions": promotions,
                "now": NOW,
                "expected": expected,
                "what": f"bundle {change!r}",
            }
        )
    return cases


def _garbage_cases(world: World) -> list[dict]:
    code = code_compose(prefix="OFF-", body="ABCDEFGH")
    payload = signed_payload(private_key=world.key, brand_id=BRAND, batch_id=12, code=code)
    _, _, _, signature = payload.split(".")
    standard = signature.replace("-", "+").replace("_", "/")  # the other base64 alphabet
    texts = [
        ("", MALFORMED),
        ("V1", MALFORMED),
        ("V1...", MALFORMED),
        (code, MALFORMED),
        (payload.replace("V1.", "v1.", 1), MALFORMED),
        (payload.replace("V1.", "V2.", 1), MALFORMED),
        (payload + ".extra", MALFORMED),
        (f"V1..12.{signature}", MALFORMED),
        (f"V1.{code}..{signature}", MALFORMED),
        (f"V1.{code}.-12.{signature}", MALFORMED),
        (f"V1.{code}.+12.{signature}", MALFORMED),
        (f"V1.{code}.1 2.{signature}", MALFORMED),
        (f"V1.{code}.١٢.{signature}", MALFORMED),  # Arabic-Indic digits
        (f"V1.{code}.{'1' * 16}.{signature}", MALFORMED),
        (f"V1.{code}.{'0' * 13}12.{signature}", VALID),  # 15 digits
        (f"V1.{code}.{'0' * 14}12.{signature}", MALFORMED),  # 16 digits
        (f"V1.{code}.{'9' * 15}.{signature}", UNKNOWN_BATCH),
        (f"V1.ÖFF-ABCDEFGH{code[-1]}.12.{signature}", MALFORMED),
        (f"V1.{code}.12.{signature[:-1]}=", MALFORMED),
        (f"V1.{code}.12.{standard}", VALID if standard == signature else MALFORMED),
        (f"V1.{code}.12.{signature[:40]} {signature[41:]}", MALFORMED),
        (f"V1. {code} .12.{signature}", VALID),  # the code is trimmed like any entered code
        (f"V1.\x0b{code}.12.{signature}", MALFORMED),  # a vertical tab is not a blank
        (f"\x0b{payload}", MALFORMED),
        (f"V1.{code}\x00.12.{signature}", MALFORMED),
        (f"V1.{code[:-1]}.12.{signature}", MALFORMED),
        (f"V1.OFF-ABCDEFGH{code[-1]}2.12.{signature}", MALFORMED),
        (None, MALFORMED),
        (12, MALFORMED),
        ([payload], MALFORMED),
    ]
    cases = [
        {"payload": text, "promotions": world.promotions, "now": NOW, "expected": expected}
        | {"what": f"garbage {text!r}"}
        for text, expected in texts
    ]
    cases.append(
        {
            "payload": payload,
            "promotions": [],
            "now": NOW,
            "expected": UNKNOWN_BATCH,
            "what": "empty bundle",
        }
    )
    return cases


def _javascript(cases: list[dict]) -> list[str]:
    wire = [{key: case[key] for key in ("payload", "promotions", "now")} for case in cases]
    completed = subprocess.run(
        ["node", str(RUNNER)],
        input=json.dumps(wire),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return completed.stdout.splitlines()


def test_python_and_javascript_check_offline_vouchers_alike():
    # Given signed payloads, their tampered, foreign and other-brand variants, bundles whose key
    # is spelt otherwise, and garbage
    rng = random.Random(SEED)
    world = World(rng)
    cases = _signed_cases(rng, world) + _key_cases(rng, world) + _garbage_cases(world)
    # When both implementations check every one
    python = [
        offline_voucher_check(payload=c["payload"], promotions=c["promotions"], now=c["now"])
        for c in cases
    ]
    javascript = _javascript(cases)
    # Then each answer is what the case expects, and byte-identical in both languages
    assert len(javascript) == len(cases)
    wrong = [
        (case["what"], case["payload"], answer["status"], case["expected"])
        for case, answer in zip(cases, python, strict=True)
        if case["expected"] is not None and answer["status"] != case["expected"]
    ]
    assert not wrong, wrong[:5]
    assert all(a == c["answer"] for c, a in zip(cases, python, strict=True) if "answer" in c)
    different = [
        (case["what"], case["payload"], canonical_json(answer), line)
        for case, answer, line in zip(cases, python, javascript, strict=True)
        if canonical_json(answer) != line
    ]
    assert not different, different[:5]
    statuses = Counter(answer["status"] for answer in python)
    assert set(statuses) == {VALID, MALFORMED, UNKNOWN_BATCH, BAD_SIGNATURE, NOT_STARTED, EXPIRED}
    assert min(statuses.values()) >= 20, statuses
    assert len(cases) >= 2_500


def test_a_batch_listed_twice_belongs_to_the_lower_promotion_id_in_both():
    # Given batch 30, listed by promotions 9 ("ZZZ") and 5 ("DUP"), in either order
    rng = random.Random(SEED)
    world = World(rng)
    code = code_compose(prefix="DUP", body="234567")
    payload = signed_payload(private_key=world.key, brand_id=BRAND, batch_id=30, code=code)
    cases = [
        {"payload": payload, "promotions": order, "now": NOW}
        for order in (world.promotions, world.promotions[::-1])
    ]
    # When both check it
    python = [offline_voucher_check(**case) for case in cases]
    javascript = _javascript(cases)
    # Then promotion 5's batch decides, and the answers are the same
    expected = {"status": VALID, "code": code, "batch_id": 30, "promotion_id": 5}
    assert python == [expected, expected]
    assert javascript == [canonical_json(expected)] * 2
