"""Voucher codes as text: the alphabet, the check character, random bodies, and the signed form
an offline till verifies. Pure: no Django, no database.

A code is `prefix + body + check`:

- `body`: `length` characters drawn uniformly from `ALPHABET` (31 characters: digits and capital
  letters without 0, 1, I, L and O, which people confuse), by rejection sampling over
  `secrets.token_bytes`.
- `check`: one character of the alphabet, `ALPHABET[sum((i + 1) * value(body[i])) % 31]`. With a
  prime modulus and distinct weights below it, every single wrong character and every swap of
  two neighbouring characters of the body, and a wrong check character, give another check
  character: a mistyped code is caught before any look-up, offline too. The prefix is not part
  of the sum (it is the same for the whole batch and compared as it is).

Codes compare trimmed and upper-cased (`normalise_code`, the engines' rule).

The signed form (offline batches) is what the QR code carries:

    V1.<code>.<batch id>.<signature>

`signature` is the Ed25519 signature (64 bytes, base64url without padding: 86 characters) of
the ASCII message `voucher:v1:<brand id>:<batch id>:<code>` under the brand's private key. A till
checks it with the brand's public key from the bundle, so it can tell a real code from a made-up
one offline, but cannot make one. Ed25519 signatures have no shorter form, so a code typed by
hand (without its signature) is checked online only.
"""

import base64
import secrets
from collections.abc import Iterator

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

# Codes avoid the characters people confuse (0/O, 1/I/L); the rewards' codes use the same.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_VALUE = {character: index for index, character in enumerate(ALPHABET)}
MODULUS = len(ALPHABET)  # 31, a prime
MIN_LENGTH, MAX_LENGTH = 6, 24  # of the body; weights 1..25 stay below the modulus
PREFIX_CHARACTERS = frozenset(ALPHABET + "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-")
MAX_PREFIX = 12
SIGNED_VERSION = "V1"
SIGNATURE_LENGTH = 86  # base64url of 64 bytes, unpadded
BLANK = " \t\n\r"  # what a payload is trimmed of (the engines' code rule)
MAX_ID = 2**53 - 1  # ids a JavaScript Number holds exactly

# Bytes below 248 (8 x 31) map evenly onto the alphabet; the others are dropped.
_ACCEPTED = MODULUS * (256 // MODULUS)
_TABLE = bytes(ord(ALPHABET[byte % MODULUS]) if byte < _ACCEPTED else 0 for byte in range(256))
_REJECTED = bytes(range(_ACCEPTED, 256))


def check_character(body: str) -> str:
    """The check character of `body` (characters of the alphabet only)."""
    return ALPHABET[sum((index + 1) * _VALUE[c] for index, c in enumerate(body)) % MODULUS]


def code_compose(*, prefix: str, body: str) -> str:
    return f"{prefix}{body}{check_character(body)}"


def code_well_formed(code: str, *, prefix: str, length: int) -> bool:
    """Whether `code` (normalised) is `prefix`, `length` characters of the alphabet and the
    right check character: False for a mistyped code."""
    if len(code) != len(prefix) + length + 1 or not code.startswith(prefix):
        return False
    body, check = code[len(prefix) : -1], code[-1]
    if any(c not in _VALUE for c in body):
        return False
    return check_character(body) == check


def random_bodies(count: int, length: int) -> Iterator[str]:
    """`count` random bodies of `length` characters (duplicates possible: uniqueness is the
    database's job)."""
    made = 0
    pending = ""
    while made < count:
        needed = (count - made) * length - len(pending)
        # About 3% of bytes are rejected; ask for a little more than needed.
        raw = secrets.token_bytes(needed + needed // 16 + 16)
        pending += raw.translate(_TABLE, _REJECTED).decode("ascii")
        while len(pending) >= length and made < count:
            yield pending[:length]
            pending = pending[length:]
            made += 1


def normalise_code(code: str) -> str:
    """Trimmed and upper-cased, ASCII letters only (`promotions.services.calculator`'s rule)."""
    from promotions.services.calculator import normalise_code as engine_normalise

    return engine_normalise(code)


def signed_message(*, brand_id: int, batch_id: int, code: str) -> bytes:
    return f"voucher:v1:{brand_id}:{batch_id}:{code}".encode("ascii")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes | None:
    """The bytes of unpadded base64url `text` in its one canonical form, else None. Python's
    decoder alone would take padding, `+` and `/`, skip foreign characters and ignore the unused
    low bits; engine.js refuses all of these, and both must give the same answers."""
    if not isinstance(text, str) or not text.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None
    return raw if _b64(raw) == text else None


def public_key_text(private_key: Ed25519PrivateKey) -> str:
    """The raw 32-byte public key, base64url: how the bundle ships it."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return _b64(private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def signed_payload(
    *, private_key: Ed25519PrivateKey, brand_id: int, batch_id: int, code: str
) -> str:
    signature = private_key.sign(signed_message(brand_id=brand_id, batch_id=batch_id, code=code))
    return f"{SIGNED_VERSION}.{code}.{batch_id}.{_b64(signature)}"


def signed_parts(payload: str) -> tuple[str, int, bytes] | None:
    """`(code, batch id, signature)` of a signed payload, None when it does not have the form."""
    parts = payload.strip(BLANK).split(".")
    if len(parts) != 4 or parts[0] != SIGNED_VERSION:
        return None
    _, code, batch, signature = parts
    if not (batch.isascii() and batch.isdigit() and len(batch) <= 15 and code.isascii()):
        return None
    if len(signature) != SIGNATURE_LENGTH or not code:
        return None
    raw = _unb64(signature)
    if raw is None or len(raw) != 64:
        return None
    return normalise_code(code), int(batch), raw


def signature_valid(
    *, public_key: str, brand_id: int, batch_id: int, code: str, signature: bytes
) -> bool:
    raw_key = _unb64(public_key)
    # The message names an integer brand (engine.js would write `null` where Python writes `None`).
    if raw_key is None or type(brand_id) is not int or not 0 <= brand_id <= MAX_ID:
        return False
    try:
        key = Ed25519PublicKey.from_public_bytes(raw_key)
        key.verify(signature, signed_message(brand_id=brand_id, batch_id=batch_id, code=code))
    except (InvalidSignature, ValueError):
        return False
    return True


# What `offline_voucher_check` answers (engine.js `verifyVoucher` answers the same).
VALID = "valid"
MALFORMED = "malformed"
UNKNOWN_BATCH = "unknown_batch"
BAD_SIGNATURE = "bad_signature"
NOT_STARTED = "not_started"
EXPIRED = "expired"


def offline_voucher_check(*, payload: str, promotions: list[dict], now: int) -> dict:
    """What a till decides offline about a scanned payload, from the bundle's promotions alone:
    `{"status", "code", "batch_id", "promotion_id"}`. The checks run in this order, the first
    failure being the status: the form (`malformed`: not a signed payload, or a code whose check
    character is wrong), the batch (`unknown_batch`: no promotion of the bundle lists it), the
    signature under the promotion's brand key (`bad_signature`), the batch's validity at `now`
    (epoch seconds; `not_started`, `expired`). `valid` means the till may put `promotion_id`
    into the context's `vouchers`."""
    answer = {"status": MALFORMED, "code": None, "batch_id": None, "promotion_id": None}
    parts = signed_parts(payload) if isinstance(payload, str) else None
    if parts is None:
        return answer
    code, batch_id, signature = parts
    answer.update(code=code, batch_id=batch_id)
    found = None
    for promotion in sorted(promotions, key=lambda p: p.get("id", 0)):
        voucher = promotion.get("voucher") or {}
        for batch in voucher.get("batches") or ():
            if batch.get("id") == batch_id:
                found = promotion, voucher, batch
                break
        if found:
            break
    if found is None:
        answer["status"] = UNKNOWN_BATCH
        return answer
    promotion, voucher, batch = found
    answer["promotion_id"] = promotion.get("id")
    if not code_well_formed(
        code, prefix=batch.get("prefix") or "", length=batch.get("length") or 0
    ):
        answer["status"] = MALFORMED
        return answer
    if not signature_valid(
        public_key=voucher.get("key") or "",
        brand_id=promotion.get("brand_id"),
        batch_id=batch_id,
        code=code,
        signature=signature,
    ):
        answer["status"] = BAD_SIGNATURE
        return answer
    starts_at, ends_at = batch.get("starts_at"), batch.get("ends_at")
    if starts_at is not None and now < starts_at:
        answer["status"] = NOT_STARTED
    elif ends_at is not None and now >= ends_at:
        answer["status"] = EXPIRED
    else:
        answer["status"] = VALID
    return answer
