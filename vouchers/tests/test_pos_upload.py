"""Vouchers a till accepted offline, uploaded with its tickets (`POST /api/v1/sync/upload_usage/`).

The till prices as engine.js does: it checks each scanned payload against its bundle
(`verifyVoucher`, whose Python twin is `offline_voucher_check`) and puts the promotions of the valid
ones into the context's `vouchers`. The server checks them again against the same release, prices
the same way, and redeems the codes for the sale: the first upload of a code wins, a later one is
flagged, and so is a voucher that fails the check, which never unlocks its promotion here.
"""

import threading
from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection
from django.utils import timezone

from brands.tests.factories import make_device
from core.money import to_minor
from core.tests.api_world import build_tenant
from promotions.models import PosTicket
from promotions.services.calculator import ENGINE_VERSION, calculate
from promotions.services.engine_input import engine_context
from promotions.services.lifecycle import promotion_save
from promotions.tests.factories import PromotionFactory
from promotions.tests.test_upload_api import device_bundle, upload
from vouchers.codes import VALID, code_compose, offline_voucher_check, signed_payload
from vouchers.keys import brand_private_key
from vouchers.models import BrandVoucherKey, VoucherCode, VoucherRedemption
from vouchers.redemption import ticket_source
from vouchers.tests.factories import batch, voucher_promotion

pytestmark = pytest.mark.django_db


@pytest.fixture
def offer(a):
    """Brand A's 10% voucher promotion with an offline batch of three single-use codes."""
    promotion = voucher_promotion(a)
    made = batch(promotion, quantity=3, offline=True)
    return promotion, list(made.codes.order_by("pk"))


def signed(code: VoucherCode, *, key: Ed25519PrivateKey | None = None) -> str:
    """The payload of the code's QR code (signed with the brand's key unless another is given)."""
    if key is None:
        key = brand_private_key(BrandVoucherKey.objects.get(brand_id=code.brand_id))
    return signed_payload(
        private_key=key, brand_id=code.brand_id, batch_id=code.batch_id, code=code.code
    )


def till_ticket(tenant, ticket_id, *, bundle, vouchers=(), unlocked=None, customer=None) -> dict:
    """A ticket as a till builds it offline: the promotions of the vouchers its check accepts
    are unlocked (or `unlocked`, for a till that unlocks what it should not)."""
    promotions, bundle_hash = bundle
    at = timezone.now().replace(microsecond=0)
    if unlocked is None:
        checks = [
            offline_voucher_check(payload=payload, promotions=promotions, now=int(at.timestamp()))
            for payload in vouchers
        ]
        unlocked = [check["promotion_id"] for check in checks if check["status"] == VALID]
    items = [(tenant.product, 2), (tenant.cheap_product, 1)]
    basket = {
        "lines": [
            {
                "line_id": f"l{index}",
                "product_id": product.pk,
                "category_id": product.category_id,
                "label_ids": [],
                "quantity": quantity,
                "unit_price": to_minor(product.price, "EUR"),
            }
            for index, (product, quantity) in enumerate(items)
        ]
    }
    context = engine_context(
        at=at,
        time_zone=tenant.store.time_zone,
        channel="pos",
        store_id=tenant.store.pk,
        customer_id=customer and customer.pk,
        signed_in=customer is not None,
        vouchers=unlocked,
    )
    ticket = {
        "ticket_id": ticket_id,
        "local_time": at.astimezone(UTC).isoformat(),
        "lines": [
            {
                "line_id": f"l{index}",
                "product": product.pk,
                "quantity": quantity,
                "unit_price": str(product.price),
            }
            for index, (product, quantity) in enumerate(items)
        ],
        "result": calculate(
            basket=basket, context=context, promotions=promotions, bundle_hash=bundle_hash
        ),
        "engine_version": ENGINE_VERSION,
        "bundle_hash": bundle_hash,
        "vouchers": list(vouchers),
    }
    if customer is not None:
        ticket["customer"] = {"id": customer.pk}
    return ticket


def applied_ids(result: dict) -> list[int]:
    return [entry["promotion_id"] for entry in result["applied"]]


def test_a_valid_offline_voucher_is_accepted_and_redeemed_for_the_sale(a, offer):
    # Given a till that accepted one of the batch's signed codes offline
    promotion, codes = offer
    code = codes[0]
    bundle = device_bundle(a.device_key)
    ticket = till_ticket(a, "t-1", bundle=bundle, vouchers=[signed(code)], customer=a.customer)
    assert applied_ids(ticket["result"]) == [promotion.pk]

    # When the ticket is uploaded
    response = upload(a.device_key, [ticket])

    # Then the server priced it the same way and redeemed the code for this sale
    assert response.status_code == 200, response.content[:500]
    answer = response.json()["results"][0]
    assert (answer["status"], answer["mismatches"]) == ("accepted", 0)
    assert answer["voucher_conflict"] is False
    assert answer["voucher_conflict_codes"] == []
    assert answer["vouchers"] == [
        {
            "code": code.code,
            "batch_id": code.batch_id,
            "promotion_id": promotion.pk,
            "status": "redeemed",
        }
    ]
    stored = PosTicket.objects.get()
    assert stored.context["vouchers"] == [promotion.pk]
    assert applied_ids(stored.server_result) == [promotion.pk]
    assert not stored.voucher_conflict
    redemption = VoucherRedemption.objects.get(code=code)
    assert (redemption.status, redemption.channel, redemption.store, redemption.customer) == (
        "redeemed",
        "pos",
        a.store,
        a.customer,
    )
    assert redemption.source == ticket_source(stored.pk)
    assert redemption.used_at == stored.local_time
    code.refresh_from_db()
    assert (code.status, code.uses, code.redeemed) == ("redeemed", 1, 1)


def test_the_same_code_on_a_second_till_is_flagged_and_the_first_upload_keeps_it(a, offer):
    # Given two tills of the store, both offline, that each accepted the same single-use code
    _, codes = offer
    code = codes[0]
    _, second_key = make_device(store=a.store, name="Till a2")
    bundle = device_bundle(a.device_key)
    assert device_bundle(second_key) == bundle
    first = till_ticket(a, "t-1", bundle=bundle, vouchers=[signed(code)])
    second = till_ticket(a, "t-1", bundle=bundle, vouchers=[signed(code)])

    # When both upload, the first till first
    first_answer = upload(a.device_key, [first]).json()["results"][0]
    second_answer = upload(second_key, [second]).json()["results"][0]

    # Then both sales are stored as priced (the till could not know), the second one flagged
    assert (first_answer["status"], first_answer["voucher_conflict"]) == ("accepted", False)
    assert (second_answer["status"], second_answer["voucher_conflict"]) == ("accepted", True)
    assert second_answer["voucher_conflict_codes"] == [code.code]
    assert [v["status"] for v in second_answer["vouchers"]] == ["refused"]
    flagged = PosTicket.objects.get(voucher_conflict=True)
    assert flagged.device.name == "Till a2"
    assert flagged.voucher_conflict_codes == [code.code]
    assert list(
        VoucherRedemption.objects.filter(code=code)
        .order_by("pk")
        .values_list("status", "source", "channel")
    ) == [
        ("redeemed", ticket_source(PosTicket.objects.get(voucher_conflict=False).pk), "pos"),
        ("refused", ticket_source(flagged.pk), "pos"),
    ]
    code.refresh_from_db()
    assert (code.status, code.uses, code.redeemed) == ("redeemed", 1, 1)


@pytest.mark.django_db(transaction=True)
def test_one_code_uploaded_by_five_tills_at_once_is_redeemed_by_exactly_one():
    # Given five tills that each sold with the same single-use code offline
    a = build_tenant("a")
    code = batch(voucher_promotion(a), quantity=1, offline=True).codes.get()
    bundle = device_bundle(a.device_key)
    keys = [a.device_key] + [make_device(store=a.store, name=f"Till {n}")[1] for n in range(4)]
    tickets = [till_ticket(a, "t-1", bundle=bundle, vouchers=[signed(code)]) for _ in keys]
    answers, errors = [], []
    barrier = threading.Barrier(len(keys))

    def send(key, ticket):
        try:
            barrier.wait(timeout=30)
            answers.append(upload(key, [ticket]).json()["results"][0])
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=pair) for pair in zip(keys, tickets, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # Then every sale is stored, one redeems the code, the four others are flagged
    assert errors == []
    assert sorted(answer["vouchers"][0]["status"] for answer in answers) == [
        "redeemed",
        *["refused"] * 4,
    ]
    assert PosTicket.objects.filter(voucher_conflict=True).count() == 4
    code.refresh_from_db()
    assert (code.status, code.uses, code.redeemed) == ("redeemed", 1, 1)


@pytest.mark.parametrize("made_up", [False, True], ids=["real code", "made-up code"])
def test_a_forged_signature_is_flagged_and_priced_without_the_promotion(a, offer, made_up):
    # Given a till that unlocked the promotion for a payload signed with another key
    promotion, codes = offer
    code = codes[0]
    if made_up:
        code = VoucherCode(
            brand=a.brand, batch=code.batch, code=code_compose(prefix="", body="ABCDEFGH")
        )
    forged = signed(code, key=Ed25519PrivateKey.generate())
    bundle = device_bundle(a.device_key)
    ticket = till_ticket(a, "t-1", bundle=bundle, vouchers=[forged], unlocked=[promotion.pk])
    assert applied_ids(ticket["result"]) == [promotion.pk]

    # When it is uploaded
    answer = upload(a.device_key, [ticket]).json()["results"][0]

    # Then the server does not unlock the promotion: the sale is stored as a mismatch, flagged
    assert answer["status"] == "mismatch"
    assert answer["voucher_conflict"] is True
    assert answer["voucher_conflict_codes"] == [code.code]
    assert [v["status"] for v in answer["vouchers"]] == ["bad_signature"]
    stored = PosTicket.objects.get()
    assert "vouchers" not in stored.context
    assert applied_ids(stored.server_result) == []
    assert stored.server_result["discount_total"] == 0
    assert (stored.voucher_conflict, stored.voucher_conflict_codes) == (True, [code.code])
    # and redeems nothing
    assert not VoucherRedemption.objects.exists()
    assert set(VoucherCode.objects.values_list("status", "uses")) == {("available", 0)}


def test_a_replayed_upload_answers_as_the_first_time_and_records_nothing_twice(a, offer):
    # Given a redeemed ticket and a flagged one (the code already used by the first)
    _, codes = offer
    bundle = device_bundle(a.device_key)
    tickets = [
        till_ticket(a, f"t-{n}", bundle=bundle, vouchers=[signed(codes[0])]) for n in range(2)
    ]
    first = upload(a.device_key, tickets).json()
    assert [r["vouchers"][0]["status"] for r in first["results"]] == ["redeemed", "refused"]

    # When the batch comes again, three times
    replays = [upload(a.device_key, tickets).json() for _ in range(3)]

    # Then each answer is the first one, marked duplicate, and nothing moved
    for replay in replays:
        assert replay["counts"] == {**dict.fromkeys(first["counts"], 0), "duplicates": 2}
        assert replay["results"] == [{**result, "duplicate": True} for result in first["results"]]
    assert PosTicket.objects.count() == 2
    assert sorted(VoucherRedemption.objects.values_list("status", flat=True)) == [
        "redeemed",
        "refused",
    ]
    codes[0].refresh_from_db()
    assert (codes[0].uses, codes[0].redeemed) == (1, 1)


def test_a_code_whose_promotion_gave_nothing_stays_unused_and_one_code_counts(a, offer):
    # Given a ticket with two codes of the promotion, and one with the code of a promotion whose
    # minimum the basket does not reach
    _, codes = offer
    big_spender = batch(
        voucher_promotion(a, name="Big spender", min_eligible_subtotal=Decimal("100.00")),
        quantity=1,
        offline=True,
    ).codes.get()
    bundle = device_bundle(a.device_key)
    two = till_ticket(a, "two", bundle=bundle, vouchers=[signed(codes[2]), signed(codes[1])])
    unused = till_ticket(a, "unused", bundle=bundle, vouchers=[signed(big_spender)])
    assert applied_ids(unused["result"]) == []

    answers = upload(a.device_key, [two, unused]).json()["results"]

    # Then the lowest code id counts; the other code and the one that gave nothing stay
    # usable, as an order leaves them, and none of it is a conflict
    assert [r["status"] for r in answers] == ["accepted", "accepted"]
    assert [(v["code"], v["status"]) for v in answers[0]["vouchers"]] == [
        (codes[2].code, "one_per_promotion"),
        (codes[1].code, "redeemed"),
    ]
    assert [v["status"] for v in answers[1]["vouchers"]] == ["not_applied"]
    assert not any(answer["voucher_conflict"] for answer in answers)
    assert list(VoucherRedemption.objects.values_list("code_id", flat=True)) == [codes[1].pk]


def test_vouchers_of_an_unknown_bundle_are_flagged_and_another_engine_still_redeems(a, offer):
    # Given a ticket naming a release the server does not know, and one of another engine
    _, codes = offer
    bundle = device_bundle(a.device_key)
    unknown = till_ticket(a, "unknown", bundle=bundle, vouchers=[signed(codes[0])])
    unknown["bundle_hash"] = "0" * 64
    older = till_ticket(a, "older", bundle=bundle, vouchers=[signed(codes[1])])
    older["engine_version"] = "1.1.0"
    assert ENGINE_VERSION != "1.1.0"

    answers = upload(a.device_key, [unknown, older]).json()["results"]

    # Then both are stored unverifiable; the first voucher could not be checked, the second was
    assert [(r["status"], r["unverifiable_reason"]) for r in answers] == [
        ("unverifiable", "unknown_bundle"),
        ("unverifiable", "engine_version"),
    ]
    assert [(v["code"], v["status"]) for v in answers[0]["vouchers"]] == [
        (codes[0].code, "unchecked")
    ]
    assert answers[0]["voucher_conflict"] is True
    assert [v["status"] for v in answers[1]["vouchers"]] == ["redeemed"]
    assert list(VoucherRedemption.objects.values_list("code_id", flat=True)) == [codes[1].pk]


def test_an_expired_or_malformed_voucher_is_flagged(a, offer):
    promotion, codes = offer
    ended = batch(
        promotion,
        quantity=1,
        offline=True,
        valid_from=timezone.now() - timedelta(days=9),
        valid_until=timezone.now() - timedelta(days=1),
    ).codes.get()
    # A wrong check character, signed all the same: the check refuses it before the signature
    code = codes[0].code
    mistyped = VoucherCode(
        brand=a.brand, batch=codes[0].batch, code=code[:-1] + ("Y" if code[-1] == "Z" else "Z")
    )
    bundle = device_bundle(a.device_key)
    payloads = [signed(ended), signed(mistyped), "NOT-A-PAYLOAD"]
    ticket = till_ticket(a, "t-1", bundle=bundle, vouchers=payloads, unlocked=[])

    answer = upload(a.device_key, [ticket]).json()["results"][0]

    assert answer["status"] == "accepted"
    assert [(v["code"], v["status"]) for v in answer["vouchers"]] == [
        (ended.code, "expired"),
        (mistyped.code, "malformed"),
        (None, "malformed"),
    ]
    assert answer["voucher_conflict"] is True
    assert answer["voucher_conflict_codes"] == sorted([ended.code, mistyped.code])
    assert "vouchers" not in PosTicket.objects.get().context
    assert not VoucherRedemption.objects.exists()


@pytest.mark.parametrize(
    ("vouchers", "field"),
    [
        ("V1.ABC.1.sig", "vouchers"),
        ([7], "vouchers.0"),
        ([None], "vouchers.0"),
        (["x" * 161], "vouchers.0"),
        (["V1.ABC DEF.1.sig"], "vouchers.0"),
        (["V1.ÀBC.1.sig"], "vouchers.0"),
        ([""], "vouchers.0"),
        (["V1.A.1.s"] * 11, "vouchers"),
    ],
    ids=["not a list", "number", "null", "too long", "space", "not ascii", "empty", "too many"],
)
def test_vouchers_of_a_bad_shape_reject_the_ticket(a, offer, vouchers, field):
    bundle = device_bundle(a.device_key)
    ticket = {**till_ticket(a, "t-1", bundle=bundle), "vouchers": vouchers}

    answer = upload(a.device_key, [ticket]).json()["results"][0]

    assert answer["status"] == "rejected"
    assert answer["error"]["code"] == "validation_error"
    assert list(answer["error"]["fields"]) == [field], answer["error"]
    assert answer["error"]["message"] == f"Invalid input: {field}."
    assert not PosTicket.objects.exists()


# A new ticket with a customer whose sale applies one promotion: the device's key, the replay
# look-ups (batch, then ticket), the customer, products, labels, the release, the ticket, the
# promotions, the offline use (8 with its savepoints), the answer, and the savepoints. What it
# cost before vouchers: a ticket without any costs not one query more.
TICKET_QUERIES = 23
# A ticket with vouchers: one look-up of the codes, then per code redeemed (at most one per
# promotion) its redemption: existing row, savepoint, use taken, row written, made final, release.
VOUCHER_LOOKUP_QUERIES = 1
REDEMPTION_QUERIES = 6


def test_vouchers_cost_a_fixed_number_of_queries_and_tickets_without_none_more(
    a, django_assert_num_queries, django_capture_on_commit_callbacks
):
    # Given a plain promotion, which a ticket without voucher gets, and a voucher promotion
    # above it, which a ticket with one of its codes gets instead
    with django_capture_on_commit_callbacks(execute=True):
        plain = promotion_save(
            promotion=PromotionFactory(
                brand=a.brand, name="Ten off", status="active", params={"percent": "10"}
            ),
            actor=a.staff,
        )
    promotion = voucher_promotion(a, priority=plain.priority + 10)
    codes = list(batch(promotion, quantity=4, offline=True).codes.order_by("pk"))
    bundle = device_bundle(a.device_key)
    customer = a.customer
    without = till_ticket(a, "without", bundle=bundle, customer=customer)
    without.pop("vouchers")
    one = till_ticket(a, "one", bundle=bundle, vouchers=[signed(codes[0])], customer=customer)
    two = till_ticket(
        a, "two", bundle=bundle, vouchers=[signed(codes[1]), signed(codes[2])], customer=customer
    )
    assert applied_ids(without["result"]) == [plain.pk]
    assert applied_ids(one["result"]) == applied_ids(two["result"]) == [promotion.pk]
    # (the customer's first use of each promotion makes its counter row: not measured)
    warm_up = [
        till_ticket(a, "warm-up-1", bundle=bundle, customer=customer),
        till_ticket(a, "warm-up-2", bundle=bundle, vouchers=[signed(codes[3])], customer=customer),
    ]
    assert upload(a.device_key, warm_up).json()["counts"]["accepted"] == 2

    # Then a ticket without vouchers costs what it did, and one with vouchers a fixed number
    # more (each records one promotion's use)
    with django_assert_num_queries(TICKET_QUERIES):
        assert upload(a.device_key, [without]).json()["results"][0]["status"] == "accepted"
    with_vouchers = TICKET_QUERIES + VOUCHER_LOOKUP_QUERIES + REDEMPTION_QUERIES
    with django_assert_num_queries(with_vouchers):
        answer = upload(a.device_key, [one]).json()["results"][0]
    assert [v["status"] for v in answer["vouchers"]] == ["redeemed"]
    # A second code of the promotion is looked up with the first, and not redeemed
    with django_assert_num_queries(with_vouchers):
        answer = upload(a.device_key, [two]).json()["results"][0]
    assert [v["status"] for v in answer["vouchers"]] == ["redeemed", "one_per_promotion"]


def test_a_sale_before_the_end_uploaded_after_the_expiry_sweep_still_redeems(a, offer):
    # Given a code a till accepted while its batch was valid, uploaded only after the daily
    # sweep marked it expired
    promotion, _ = offer
    late = batch(
        promotion, quantity=1, offline=True, valid_until=timezone.now() + timedelta(hours=1)
    ).codes.get()
    bundle = device_bundle(a.device_key)
    ticket = till_ticket(a, "t-late", bundle=bundle, vouchers=[signed(late)])
    VoucherCode.objects.filter(pk=late.pk).update(status="expired")

    answer = upload(a.device_key, [ticket]).json()["results"][0]

    # Then the sale counts: redeemed, not flagged
    assert (answer["status"], answer["voucher_conflict"]) == ("accepted", False)
    assert [v["status"] for v in answer["vouchers"]] == ["redeemed"]
    late.refresh_from_db()
    assert (late.status, late.uses, late.redeemed) == ("redeemed", 1, 1)
