"""Voucher codes as text: the check character, random bodies, the signed form."""

import itertools

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from vouchers.codes import (
    ALPHABET,
    BAD_SIGNATURE,
    EXPIRED,
    MALFORMED,
    NOT_STARTED,
    UNKNOWN_BATCH,
    VALID,
    check_character,
    code_compose,
    code_well_formed,
    offline_voucher_check,
    public_key_text,
    random_bodies,
    signed_payload,
)

bodies = st.text(alphabet=ALPHABET, min_size=6, max_size=24)


def test_the_alphabet_has_no_look_alikes_and_a_prime_size():
    assert not set("01IOL") & set(ALPHABET)
    assert len(ALPHABET) == len(set(ALPHABET)) == 31


@given(bodies, st.data())
def test_every_single_wrong_character_is_caught(body, data):
    code = code_compose(prefix="SPR-", body=body)
    position = data.draw(st.integers(0, len(code) - 1 - 4)) + 4
    wrong = data.draw(st.sampled_from([c for c in ALPHABET if c != code[position]]))
    typo = code[:position] + wrong + code[position + 1 :]
    assert code_well_formed(code, prefix="SPR-", length=len(body))
    assert not code_well_formed(typo, prefix="SPR-", length=len(body))


@given(bodies, st.data())
def test_every_swap_of_neighbours_is_caught(body, data):
    code = code_compose(prefix="", body=body)
    position = data.draw(st.integers(0, len(code) - 2))
    swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
    assert code_well_formed(swapped, prefix="", length=len(body)) == (swapped == code)


def test_the_check_character_is_the_weighted_sum_modulo_31():
    # 2 has value 0, 3 value 1, 4 value 2: 1*1 + 2*2 + 3*0 = 5 -> "7"
    assert check_character("342") == ALPHABET[5] == "7"
    assert code_compose(prefix="X-", body="342") == "X-3427"


def test_a_code_of_the_wrong_length_or_prefix_is_refused():
    code = code_compose(prefix="AB", body="ABCDEFGH")
    assert not code_well_formed(code, prefix="AC", length=8)
    assert not code_well_formed(code + "2", prefix="AB", length=8)
    assert not code_well_formed(code.replace("C", "0"), prefix="AB", length=8)


def test_random_bodies_have_the_length_and_alphabet_and_spread_over_it():
    made = list(random_bodies(20_000, 8))
    assert len(made) == 20_000
    assert all(len(body) == 8 and set(body) <= set(ALPHABET) for body in made)
    counts = dict.fromkeys(ALPHABET, 0)
    for c in itertools.chain.from_iterable(made):
        counts[c] += 1
    expected = 20_000 * 8 / 31
    # Uniform within 6% of the expected count (the standard deviation is under 1%).
    assert all(abs(n - expected) < expected * 0.06 for n in counts.values())
    assert len(set(made)) > 19_990


def _bundle(key: Ed25519PrivateKey, *, starts_at=None, ends_at=None) -> list[dict]:
    return [
        {
            "id": 7,
            "brand_id": 3,
            "voucher": {
                "key": public_key_text(key),
                "batches": [
                    {
                        "id": 12,
                        "prefix": "OFF-",
                        "length": 8,
                        "starts_at": starts_at,
                        "ends_at": ends_at,
                    }
                ],
            },
        }
    ]


@pytest.fixture
def key():
    return Ed25519PrivateKey.generate()


def test_a_signed_code_verifies_offline_and_names_its_promotion(key):
    code = code_compose(prefix="OFF-", body="ABCDEFGH")
    payload = signed_payload(private_key=key, brand_id=3, batch_id=12, code=code)
    answer = offline_voucher_check(payload=payload, promotions=_bundle(key), now=1000)
    assert answer == {"status": VALID, "code": code, "batch_id": 12, "promotion_id": 7}


def test_tampered_foreign_and_unknown_codes_are_refused(key):
    code = code_compose(prefix="OFF-", body="ABCDEFGH")
    other = code_compose(prefix="OFF-", body="ABCDEFGJ")
    payload = signed_payload(private_key=key, brand_id=3, batch_id=12, code=code)
    foreign = signed_payload(
        private_key=Ed25519PrivateKey.generate(), brand_id=3, batch_id=12, code=code
    )
    other_brand = signed_payload(private_key=key, brand_id=4, batch_id=12, code=code)
    bundle = _bundle(key)

    def status(text):
        return offline_voucher_check(payload=text, promotions=bundle, now=1000)["status"]

    # Another code under the first one's signature: well formed, but not what was signed.
    assert status(payload.replace(code, other)) == BAD_SIGNATURE
    assert status(foreign) == BAD_SIGNATURE
    assert status(other_brand) == BAD_SIGNATURE
    assert status(payload.replace(".12.", ".13.")) == UNKNOWN_BATCH
    assert status(payload[:-2]) == MALFORMED
    assert status(code) == MALFORMED
    # A typo in the code is caught by the check character before the signature.
    assert status(payload.replace("ABCD", "ABCE")) == MALFORMED
    # Blanks around it and a lower-case code are what a person types: the code is normalised.
    assert status(" " + payload.replace(code, code.lower()) + "\n") == VALID


def test_a_signed_code_outside_its_batch_validity_is_refused(key):
    code = code_compose(prefix="OFF-", body="ABCDEFGH")
    payload = signed_payload(private_key=key, brand_id=3, batch_id=12, code=code)
    bundle = _bundle(key, starts_at=1000, ends_at=2000)
    check = offline_voucher_check
    assert check(payload=payload, promotions=bundle, now=999)["status"] == NOT_STARTED
    assert check(payload=payload, promotions=bundle, now=1000)["status"] == VALID
    assert check(payload=payload, promotions=bundle, now=2000)["status"] == EXPIRED
