"""POS uploads: `POST /api/v1/sync/upload_usage/` and `POST /api/v1/sync/upload_logs/`.

Tickets are priced here the way a device prices them offline: the bundle comes from the sync
API, the basket and context follow ENGINE.md, and the engine is the Python calculator (which
gives byte for byte what engine.js gives; `test_pos_client.py` runs the real engine.js).
"""

import json
import threading
import zoneinfo
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from brands.services import pos_device_revoke
from brands.tests.factories import StoreFactory, make_device
from core.money import to_minor
from core.tests.api_world import assert_error, build_tenant, device_client, staff_user, token_client
from promotions.models import PosLog, PosTicket, Promotion, PromotionUsage
from promotions.services.calculator import ENGINE_VERSION, calculate
from promotions.services.engine_input import engine_context
from promotions.services.lifecycle import promotion_save
from promotions.services.pos_uploads import result_diff
from promotions.tasks import sweep_pos_logs_task
from promotions.tests.factories import PromotionFactory

UPLOAD = "/api/v1/sync/upload_usage/"
LOGS = "/api/v1/sync/upload_logs/"
BUNDLE = "/api/v1/sync/active_promotions/"


@pytest.fixture
def world(db, django_capture_on_commit_callbacks):
    a, b = build_tenant("a"), build_tenant("b")
    with django_capture_on_commit_callbacks(execute=True):
        a.extra["promotion"] = promotion_save(
            promotion=PromotionFactory(
                brand=a.brand,
                name="Ten off",
                status=Promotion.Status.ACTIVE,
                params={"percent": "10"},
            ),
            relations={"stores": [a.store.pk]},
            actor=a.staff,
        )
    return a, b


def device_bundle(key: str) -> tuple[list[dict], str]:
    """The store's compiled promotions and bundle hash, as a device syncs them."""
    response = device_client(key).get(BUNDLE)
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    return body["promotions"], body["hash"]


def device_ticket(
    tenant,
    ticket_id: str,
    *,
    items=None,
    at: datetime | None = None,
    customer=None,
    bundle: tuple[list[dict], str] | None = None,
) -> dict:
    """A ticket as a device builds it: priced offline with the synced bundle."""
    promotions, bundle_hash = bundle or device_bundle(tenant.device_key)
    at = at or timezone.now().replace(microsecond=0)
    items = items or [(tenant.product, 2), (tenant.cheap_product, 1)]
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
    )
    result = calculate(
        basket=basket, context=context, promotions=promotions, bundle_hash=bundle_hash
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
        "codes": [],
        "result": result,
        "engine_version": ENGINE_VERSION,
        "bundle_hash": bundle_hash,
    }
    if customer is not None:
        ticket["customer"] = {"id": customer.pk}
    return ticket


def upload(key: str, tickets: list[dict]):
    return device_client(key).post(UPLOAD, {"tickets": tickets}, format="json")


def log_line(message="till opened", **overrides) -> dict:
    return {
        "level": "info",
        "time": "2026-03-06T12:30:05+01:00",
        "message": message,
        "context": {"drawer": 1},
        **overrides,
    }


# --- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize("path", [UPLOAD, LOGS])
def test_uploads_need_a_valid_device_key(world, path):
    a, _ = world
    body = {"tickets": [device_ticket(a, "t-1")]} if path == UPLOAD else {"lines": [log_line()]}

    assert_error(Client().post(path, body, content_type="application/json"), 401)
    assert_error(device_client("pos_not-a-key").post(path, body, format="json"), 401)
    assert_error(token_client(a.staff).post(path, body, format="json"), 403)
    pos_device_revoke(device=a.device)
    assert_error(device_client(a.device_key).post(path, body, format="json"), 401)

    assert not PosTicket.objects.exists()
    assert not PosLog.objects.exists()


def test_a_device_uploads_only_for_its_own_store_and_brand(world):
    a, b = world
    ticket = device_ticket(a, "t-1")
    other_store = StoreFactory(brand=a.brand, code="store-a2")
    other_device, other_key = make_device(store=other_store, name="Till a2")

    # Brand B's device names brand A's products: rejected, nothing stored
    foreign = upload(b.device_key, [ticket]).json()
    assert foreign["results"][0]["status"] == "rejected"
    assert foreign["results"][0]["error"]["code"] == "unknown_product"

    # Another store of the brand (whose bundle lacks store A's promotion) names store A's
    # bundle: its store never had that release, so the sale is stored, unverifiable
    device_bundle(other_key)
    sibling = upload(other_key, [ticket]).json()["results"][0]
    assert (sibling["status"], sibling["unverifiable_reason"]) == ("unverifiable", "unknown_bundle")

    stored = PosTicket.objects.get()
    assert (stored.device, stored.store) == (other_device, other_store)


# --- verification ---------------------------------------------------------------------------


def test_a_ticket_priced_like_the_server_is_accepted_and_recorded(world):
    a, _ = world
    ticket = device_ticket(a, "t-1", customer=a.customer)

    response = upload(a.device_key, [ticket])

    assert response.status_code == 200, response.content[:500]
    body = response.json()
    assert body["counts"] == {
        "accepted": 1,
        "mismatched": 0,
        "unverifiable": 0,
        "duplicates": 0,
        "conflicts": 0,
        "rejected": 0,
        "overruns": 0,
    }
    assert body["results"] == [
        {
            "index": 0,
            "ticket_id": "t-1",
            "status": "accepted",
            "duplicate": False,
            "overrun": False,
            "overrun_promotion_ids": [],
            "unverifiable_reason": None,
            "mismatches": 0,
            "error": None,
        }
    ]
    stored = PosTicket.objects.get()
    assert stored.status == PosTicket.Status.ACCEPTED
    assert stored.customer == a.customer
    assert stored.server_result == ticket["result"]
    # 2 x 12.50 + 2.00 = 27.00, ten percent off
    assert (stored.subtotal, stored.discount_total, stored.total) == (
        Decimal("27.00"),
        Decimal("2.70"),
        Decimal("24.30"),
    )
    assert stored.context["local"] == stored.local_time.astimezone(
        zoneinfo.ZoneInfo(a.store.time_zone)
    ).strftime("%Y-%m-%dT%H:%M")


def test_a_device_result_one_cent_off_is_flagged_as_a_mismatch(world):
    a, _ = world
    ticket = device_ticket(a, "t-1")
    ticket["result"]["lines"][0]["discount"] += 1
    ticket["result"]["lines"][0]["total"] -= 1

    body = upload(a.device_key, [ticket]).json()

    assert body["counts"]["mismatched"] == 1
    assert body["results"][0]["status"] == "mismatch"
    assert body["results"][0]["mismatches"] == 2
    stored = PosTicket.objects.get()
    assert stored.status == PosTicket.Status.MISMATCH
    assert stored.diff == [
        {"path": "lines.0.discount", "device": 251, "server": 250},
        {"path": "lines.0.total", "device": 2249, "server": 2250},
    ]
    assert stored.device_result == ticket["result"]


def test_unknown_bundle_or_engine_version_is_stored_as_unverifiable(world):
    a, _ = world
    unknown_bundle = device_ticket(a, "t-1")
    unknown_bundle["bundle_hash"] = "0" * 64
    old_engine = device_ticket(a, "t-2")
    old_engine["engine_version"] = "0.9.0"

    body = upload(a.device_key, [unknown_bundle, old_engine]).json()

    assert body["counts"]["unverifiable"] == 2
    assert [r["unverifiable_reason"] for r in body["results"]] == [
        "unknown_bundle",
        "engine_version",
    ]
    assert set(PosTicket.objects.values_list("status", flat=True)) == {"unverifiable"}
    assert not PosTicket.objects.filter(server_result__isnull=False).exists()


def test_result_diff_names_missing_and_changed_values():
    device = {"a": 1, "b": [1, 2], "c": {"d": "x"}}
    server = {"a": 1, "b": [1], "c": {"d": "y"}, "e": True}

    assert result_diff(device, server) == [
        {"path": "b.1", "device": 2},
        {"path": "c.d", "device": "x", "server": "y"},
        {"path": "e", "server": True},
    ]
    assert result_diff({"a": 1}, {"a": True}) == [{"path": "a", "device": 1, "server": True}]


# --- idempotency ----------------------------------------------------------------------------


def test_the_same_batch_five_times_is_stored_once_with_the_same_answer(world):
    a, _ = world
    bundle = device_bundle(a.device_key)
    tickets = [device_ticket(a, f"t-{n}", bundle=bundle) for n in range(3)]

    first = upload(a.device_key, tickets).json()
    replays = [upload(a.device_key, tickets).json() for _ in range(4)]

    assert first["counts"]["accepted"] == 3
    assert PosTicket.objects.count() == 3
    # One offline use of "Ten off" per ticket in the ledger, however often the batch came
    usage = PromotionUsage.objects.filter(kind=PromotionUsage.Kind.OFFLINE)
    assert (
        sorted(usage.values_list("promotion_id", "uses", "amount"))
        == [(a.extra["promotion"].pk, 1, Decimal("2.70"))] * 3
    )
    for replay in replays:
        assert replay["counts"] == {**dict.fromkeys(first["counts"], 0), "duplicates": 3}
        assert replay["results"] == [{**result, "duplicate": True} for result in first["results"]]


def test_a_replayed_batch_costs_the_same_queries_whatever_its_size(world):
    a, _ = world
    bundle = device_bundle(a.device_key)
    small = [device_ticket(a, f"s-{n}", bundle=bundle) for n in range(2)]
    large = [device_ticket(a, f"l-{n}", bundle=bundle) for n in range(20)]
    upload(a.device_key, small + large)

    with CaptureQueriesContext(connection) as small_replay:
        assert upload(a.device_key, small).json()["counts"]["duplicates"] == 2
    with CaptureQueriesContext(connection) as large_replay:
        assert upload(a.device_key, large).json()["counts"]["duplicates"] == 20

    assert len(large_replay.captured_queries) == len(small_replay.captured_queries)


def test_the_same_ticket_id_with_other_content_is_a_conflict(world):
    a, _ = world
    upload(a.device_key, [device_ticket(a, "t-1")])
    stored = PosTicket.objects.get()
    changed = device_ticket(a, "t-1", items=[(a.product, 5)])

    body = upload(a.device_key, [changed]).json()

    assert body["counts"]["conflicts"] == 1
    result = body["results"][0]
    assert (result["status"], result["error"]["code"]) == ("conflict", "ticket_conflict")
    assert PosTicket.objects.get().payload_hash == stored.payload_hash


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_of_one_batch_store_each_ticket_once():
    a = build_tenant("a")
    promotion_save(
        promotion=PromotionFactory(brand=a.brand, status=Promotion.Status.ACTIVE), actor=a.staff
    )
    bundle = device_bundle(a.device_key)
    tickets = [device_ticket(a, f"t-{n}", bundle=bundle) for n in range(5)]
    assert all(ticket["result"]["applied"] for ticket in tickets)
    answers, errors = [], []
    barrier = threading.Barrier(6)

    def send():
        try:
            barrier.wait()
            answers.append(upload(a.device_key, tickets).json()["counts"])
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert PosTicket.objects.count() == 5
    assert PromotionUsage.objects.filter(kind=PromotionUsage.Kind.OFFLINE).count() == 5
    assert sum(counts["accepted"] for counts in answers) == 5
    assert sum(counts["duplicates"] for counts in answers) == 25


# --- malformed batches ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"tickets": []},
        {"tickets": "t-1"},
        [{"ticket_id": "t-1"}],
    ],
    ids=["no tickets", "empty", "not a list", "not an object"],
)
def test_a_malformed_batch_is_a_400(world, body):
    a, _ = world
    response = device_client(a.device_key).post(UPLOAD, body, format="json")
    assert_error(response, 400, "validation_error")
    assert not PosTicket.objects.exists()


def test_a_batch_above_the_bound_is_a_400_naming_the_bound(world):
    a, _ = world
    body = assert_error(upload(a.device_key, [{"ticket_id": "x"}] * 201), 400)
    assert "200" in body["fields"]["tickets"][0]


def test_invalid_tickets_are_rejected_one_by_one_and_the_valid_ones_stored(world):
    a, _ = world
    bundle = device_bundle(a.device_key)
    good = device_ticket(a, "good", bundle=bundle)
    no_lines = {**device_ticket(a, "no-lines", bundle=bundle), "lines": []}
    sub_cent = device_ticket(a, "sub-cent", bundle=bundle)
    sub_cent["lines"][0]["unit_price"] = "12.505"
    unknown_product = device_ticket(a, "unknown-product", bundle=bundle)
    unknown_product["lines"][1]["product"] = 10**12
    naive_time = {**device_ticket(a, "naive", bundle=bundle), "local_time": "2026-03-06T12:30"}
    bad_result = device_ticket(a, "bad-result", bundle=bundle)
    bad_result["result"]["applied"] = [{"promotion_id": "7", "amount": 1}]
    nul = device_ticket(a, "nul", bundle=bundle)
    nul["result"]["note"] = "a\x00b"
    unknown_customer = {**device_ticket(a, "who", bundle=bundle), "customer": {"id": 10**12}}
    not_an_object = "ticket"

    tickets = [
        no_lines,
        good,
        sub_cent,
        unknown_product,
        naive_time,
        bad_result,
        nul,
        unknown_customer,
        not_an_object,
    ]
    response = upload(a.device_key, tickets)

    assert response.status_code == 200
    body = response.json()
    assert body["counts"]["accepted"] == 1
    assert body["counts"]["rejected"] == 8
    errors = {
        r["ticket_id"]: (r["error"]["code"], sorted(r["error"]["fields"]))
        for r in body["results"]
        if r["status"] == "rejected"
    }
    assert errors == {
        "no-lines": ("validation_error", ["lines.non_field_errors"]),
        "sub-cent": ("validation_error", ["lines.0.unit_price"]),
        "unknown-product": ("unknown_product", ["lines.1.product"]),
        "naive": ("validation_error", ["local_time"]),
        "bad-result": ("invalid_result", ["result.applied.0"]),
        "nul": ("invalid_text", []),
        "who": ("unknown_customer", ["customer.id"]),
        None: ("validation_error", ["non_field_errors"]),
    }
    assert [r["index"] for r in body["results"]] == list(range(len(tickets)))
    assert list(PosTicket.objects.values_list("ticket_id", flat=True)) == ["good"]


# --- usage and overruns ---------------------------------------------------------------------


def test_offline_uses_past_a_limit_are_accepted_and_flagged_as_overruns(
    world, django_capture_on_commit_callbacks
):
    a, _ = world
    with django_capture_on_commit_callbacks(execute=True):
        limited = promotion_save(
            promotion=PromotionFactory(
                brand=a.brand,
                name="Once only",
                status=Promotion.Status.ACTIVE,
                stacking=Promotion.Stacking.STACKABLE,
                params={"percent": "5"},
                max_uses_total=1,
            ),
            actor=a.staff,
        )
    bundle = device_bundle(a.device_key)
    # Two tills offline: each still sees one use left
    tickets = [device_ticket(a, f"t-{n}", bundle=bundle) for n in range(2)]
    assert all(
        limited.pk in {entry["promotion_id"] for entry in t["result"]["applied"]} for t in tickets
    )

    body = upload(a.device_key, tickets).json()

    assert body["counts"]["accepted"] == 2
    assert body["counts"]["overruns"] == 1
    assert [r["overrun_promotion_ids"] for r in body["results"]] == [[], [limited.pk]]
    assert list(PosTicket.objects.filter(overrun=True).values_list("ticket_id", flat=True)) == [
        "t-1"
    ]

    ledger = PromotionUsage.objects.filter(promotion=limited, kind=PromotionUsage.Kind.OFFLINE)
    assert sorted(ledger.values_list("overrun", flat=True)) == [False, True]

    # Replayed: the overrun is reported again, never recorded twice
    replay = upload(a.device_key, tickets).json()
    assert replay["counts"]["overruns"] == 0
    assert [r["overrun_promotion_ids"] for r in replay["results"]] == [[], [limited.pk]]
    assert ledger.count() == 2


# --- logs -----------------------------------------------------------------------------------


def test_log_lines_are_stored_with_their_device_and_store(world):
    a, _ = world
    response = device_client(a.device_key).post(
        LOGS, {"lines": [log_line(), log_line("paper low", level="warning")]}, format="json"
    )

    assert response.status_code == 200, response.content[:300]
    assert response.json() == {"stored": 2}
    rows = list(PosLog.objects.order_by("id").values("device", "store", "level", "message"))
    assert rows == [
        {"device": a.device.pk, "store": a.store.pk, "level": "info", "message": "till opened"},
        {"device": a.device.pk, "store": a.store.pk, "level": "warning", "message": "paper low"},
    ]
    assert PosLog.objects.first().logged_at == datetime(2026, 3, 6, 11, 30, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([log_line()] * 101, "lines"),
        ([log_line("x" * 2001)], "lines.0.message"),
        ([log_line(context={"blob": "x" * 5000})], "lines.0.context"),
        ([log_line(level="loud")], "lines.0.level"),
        ([log_line(time="yesterday")], "lines.0.time"),
        ([log_line(context={"k": "\ud800"})], "lines.0.context"),
        ([], "lines"),
    ],
    ids=["too many", "long message", "large context", "level", "time", "surrogate", "empty"],
)
def test_log_batches_out_of_bounds_are_a_400(world, lines, field):
    a, _ = world
    # ASCII-escaped JSON, so a lone surrogate reaches the server as the device sent it
    response = device_client(a.device_key).post(
        LOGS, json.dumps({"lines": lines}), content_type="application/json"
    )
    body = assert_error(response, 400, "validation_error")
    assert any(path == field or path.startswith(f"{field}.") for path in body["fields"]), body
    assert not PosLog.objects.exists()


def test_log_lines_past_the_quota_are_a_429_with_retry_after(world, settings):
    a, b = world
    settings.POS_LOG_LINES_PER_MINUTE = 150
    client = device_client(a.device_key)
    batch = {"lines": [log_line()] * 100}

    assert client.post(LOGS, batch, format="json").status_code == 200
    refused = client.post(LOGS, batch, format="json")
    assert_error(refused, 429, "throttled")
    assert 1 <= int(refused["Retry-After"]) <= 60
    # What fits in the rest of the minute is still taken; another device has its own quota
    assert client.post(LOGS, {"lines": [log_line()] * 50}, format="json").status_code == 200
    other = device_client(b.device_key).post(LOGS, batch, format="json")
    assert other.status_code == 200

    assert PosLog.objects.filter(device=a.device).count() == 150
    assert PosLog.objects.filter(device=b.device).count() == 100


def test_the_retention_sweep_deletes_old_lines_and_runs_twice(world, settings):
    a, _ = world
    settings.POS_LOG_RETENTION_DAYS = 30
    device_client(a.device_key).post(LOGS, {"lines": [log_line()] * 3}, format="json")
    old = list(PosLog.objects.values_list("pk", flat=True)[:2])
    PosLog.objects.filter(pk__in=old).update(received_at=timezone.now() - timedelta(days=31))

    assert sweep_pos_logs_task.delay().get() == 2
    assert sweep_pos_logs_task.delay().get() == 0
    assert PosLog.objects.count() == 1
    assert not PosLog.objects.filter(pk__in=old).exists()


# --- admin ----------------------------------------------------------------------------------


def test_the_admin_lists_and_shows_tickets_and_logs_of_the_staff_brands_only(world):
    a, b = world
    ticket = device_ticket(a, "t-1")
    ticket["result"]["total"] += 1
    upload(a.device_key, [ticket])
    device_client(a.device_key).post(LOGS, {"lines": [log_line("drawer jammed")]}, format="json")
    stored = PosTicket.objects.get()
    client_a, client_b = Client(), Client()
    client_a.force_login(a.staff)
    client_b.force_login(b.staff)

    listing = client_a.get("/admin/promotions/posticket/?status=mismatch")
    detail = client_a.get(f"/admin/promotions/posticket/{stored.pk}/change/")
    logs = client_a.get("/admin/promotions/poslog/?q=jammed&level=info")

    assert listing.status_code == detail.status_code == logs.status_code == 200
    assert b"t-1" in listing.content
    assert b"Difference" in detail.content and b"2431" in detail.content
    assert b"drawer jammed" in logs.content
    assert client_b.get(f"/admin/promotions/posticket/{stored.pk}/change/").status_code == 302
    assert b"t-1" not in client_b.get("/admin/promotions/posticket/").content
    assert b"drawer jammed" not in client_b.get("/admin/promotions/poslog/").content
    superuser = Client()
    superuser.force_login(staff_user("root", superuser=True))
    assert superuser.post(f"/admin/promotions/posticket/{stored.pk}/delete/").status_code == 403


def test_a_result_priced_by_the_previous_engine_is_unverifiable_not_a_mismatch(world):
    # Given two tickets whose device result gives less cashback than this engine would (as
    # engine 1.0.0 did on discounted items): one priced by 1.0.0, one claiming this engine
    a, _ = world
    tickets = []
    for ticket_id, version in (("old", "1.0.0"), ("same", ENGINE_VERSION)):
        ticket = device_ticket(a, ticket_id)
        ticket["result"]["cashback_total"] += 25
        ticket["result"]["engine_version"] = version
        ticket["engine_version"] = version
        tickets.append(ticket)
    assert ENGINE_VERSION != "1.0.0"

    # When they are uploaded
    body = upload(a.device_key, tickets).json()

    # Then the old engine's ticket is stored unverifiable, never compared; only a ticket that
    # claims this engine is a mismatch
    assert [(r["status"], r["unverifiable_reason"]) for r in body["results"]] == [
        ("unverifiable", "engine_version"),
        ("mismatch", None),
    ]
