"""The vouchers API: staff create batches of codes for their brands' promotions, see and void
them, look codes up and void them, and download codes (CSV, XLSX, PDF, QR codes); another
brand's batches and codes answer as missing ones."""

import csv
import io

import pytest
from django.urls import URLPattern, get_resolver
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from openpyxl import load_workbook

from brands.roles import ANALYST, MARKETING_MANAGER, STORE_MANAGER, SUPPORT_AGENT
from core.models import OutboxMessage
from core.tests.api_world import assert_error, device_client, ids, staff_user, token_client
from orders.services.placement import LineRequest, order_place
from vouchers import exports
from vouchers.models import VoucherBatch, VoucherCode
from vouchers.tests.factories import batch, voucher_promotion

pytestmark = pytest.mark.django_db

API = "/api/v1/vouchers/"
BATCHES = f"{API}batches/"
CODES = f"{API}codes/"


def batch_url(made, suffix: str = "") -> str:
    return f"{BATCHES}{made.pk}/{suffix}"


def code_url(code, suffix: str = "") -> str:
    return f"{CODES}{code.pk}/{suffix}"


def role_client(tenant, role: str):
    return token_client(staff_user(f"{role}-{tenant.brand.slug}", role=role, brands=[tenant.brand]))


def place_with(tenant, code: str, customer=None):
    order, _ = order_place(
        brand=tenant.brand,
        lines=[LineRequest(product_id=tenant.product.pk, quantity=1)],
        customer=customer,
        codes=[code],
    )
    return order


# --- Creating batches ---------------------------------------------------------------------------


def test_staff_create_a_batch_and_its_codes_are_generated(a, django_capture_on_commit_callbacks):
    # Given a voucher promotion of brand A
    promotion = voucher_promotion(a)
    client = token_client(a.staff)

    # When a brand admin creates a batch of 12 codes
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            BATCHES,
            {
                "promotion": promotion.pk,
                "name": "Spring mailing",
                "quantity": 12,
                "prefix": "spr-",
                "length": 7,
                "uses_per_code": 2,
                "valid_from": "2030-04-01T00:00:00Z",
                "valid_until": "2030-06-30T00:00:00+02:00",
            },
            format="json",
        )

    # Then it is created (generation starts once it is committed) ...
    assert response.status_code == 201, response.json()
    body = response.json()
    assert {k: body[k] for k in ("brand", "promotion", "name", "prefix", "quantity")} == {
        "brand": a.brand.slug,
        "promotion": promotion.pk,
        "name": "Spring mailing",
        "prefix": "SPR-",
        "quantity": 12,
    }
    assert body["status"] in ("pending", "generating", "ready")
    assert {"generated", "progress_percent", "valid_until", "voided_at"} <= set(body)
    assert body["valid_until"] == "2030-06-29T22:00:00Z"
    # ... and its codes exist, each usable twice
    made = VoucherBatch.objects.get(pk=body["id"])
    codes = list(made.codes.all())
    assert len(codes) == 12
    assert all(c.code.startswith("SPR-") and c.max_uses == 2 for c in codes)
    assert made.created_by == a.staff
    # ... and its detail shows it ready, with the codes in each state
    detail = client.get(batch_url(made)).json()
    assert (detail["status"], detail["generated"], detail["progress_percent"]) == ("ready", 12, 100)
    assert detail["code_counts"] == {
        "available": 12,
        "reserved": 0,
        "redeemed": 0,
        "expired": 0,
        "voided": 0,
    }


def test_a_batch_for_one_customer_binds_its_codes_to_them(a, django_capture_on_commit_callbacks):
    promotion = voucher_promotion(a)
    client = token_client(a.staff)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            BATCHES,
            {
                "promotion": promotion.pk,
                "name": "Apology",
                "quantity": 1,
                "customer": a.customer.pk,
            },
            format="json",
        )

    assert response.status_code == 201, response.json()
    assert response.json()["customer"] == a.customer.pk
    assert response.json()["customer_email"] == a.customer.email  # a brand admin sees it
    assert VoucherCode.objects.get(batch_id=response.json()["id"]).customer == a.customer


def _valid(promotion) -> dict:
    return {"promotion": promotion.pk, "name": "Batch", "quantity": 5}


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        (
            {"prefix": "SPR!NG"},
            {"prefix": ["At most 12 characters: capital letters, digits and dashes."]},
        ),
        (
            {"quantity": 1_000_000, "length": 6},
            {"length": ["Too short for this many codes: add characters."]},
        ),
        (
            {"valid_from": "2030-02-01T00:00:00Z", "valid_until": "2030-01-01T00:00:00Z"},
            {"valid_until": ["The end must be after the start."]},
        ),
        ({"name": " "}, {"name": ["This field may not be blank."]}),
        ({"quantity": 0}, {"quantity": ["Ensure this value is greater than or equal to 1."]}),
        ({"length": 30}, {"length": ["Ensure this value is less than or equal to 24."]}),
        ({"customer": 999_999_999}, {"customer": ["Not a customer of the promotion's brand."]}),
        (
            {"promotion": 999_999_999},
            {"promotion": ["Unknown promotion, or not one of your brands'."]},
        ),
    ],
)
def test_bad_input_is_a_400_with_field_errors_and_changes_nothing(a, change, fields):
    promotion = voucher_promotion(a)
    outbox = OutboxMessage.objects.count()
    versions = promotion.versions.count()

    response = token_client(a.staff).post(BATCHES, {**_valid(promotion), **change}, format="json")

    body = assert_error(response, 400)
    assert body["fields"] == fields
    assert not VoucherBatch.objects.exists()
    assert OutboxMessage.objects.count() == outbox
    assert promotion.versions.count() == versions


def test_a_promotion_with_a_shared_code_is_refused_in_words(a):
    promotion = voucher_promotion(a, code="SHARED")

    response = token_client(a.staff).post(BATCHES, _valid(promotion), format="json")

    body = assert_error(response, 400, "invalid_voucher_batch")
    assert list(body["fields"]) == ["promotion"]
    assert not VoucherBatch.objects.exists()


def test_a_promotion_or_customer_of_another_brand_is_refused(a, b):
    mine, theirs = voucher_promotion(a), voucher_promotion(b)
    client = token_client(a.staff)

    response = client.post(BATCHES, _valid(theirs), format="json")
    assert assert_error(response, 400, "unknown_promotion")["fields"] == {
        "promotion": ["Unknown promotion, or not one of your brands'."]
    }
    response = client.post(BATCHES, {**_valid(mine), "customer": b.customer.pk}, format="json")
    assert assert_error(response, 400)["fields"] == {
        "customer": ["Not a customer of the promotion's brand."]
    }
    assert not VoucherBatch.objects.exists()


# --- Listing, brand isolation -------------------------------------------------------------------


def test_staff_list_their_brands_batches_by_promotion_and_status(a, b):
    spring, autumn = voucher_promotion(a, name="Spring"), voucher_promotion(a, name="Autumn")
    first, second = batch(spring, quantity=2), batch(autumn, quantity=2)
    pending = VoucherBatch.objects.create(
        brand=a.brand, promotion=spring, name="Not yet", quantity=3
    )
    theirs = batch(voucher_promotion(b), quantity=2)
    client = token_client(a.staff)

    assert ids(client.get(BATCHES)) == {first.pk, second.pk, pending.pk}
    assert ids(client.get(BATCHES, {"promotion": spring.pk})) == {first.pk, pending.pk}
    assert ids(client.get(BATCHES, {"status": "pending"})) == {pending.pk}
    assert ids(client.get(BATCHES, {"promotion": theirs.promotion_id})) == set()
    assert_error(client.get(BATCHES, {"status": "lost"}), 400)
    assert_error(client.get(BATCHES, {"promotion": "x"}), 400)


def test_another_brands_batches_and_codes_answer_as_missing_ones(a, b):
    theirs = batch(voucher_promotion(b), quantity=2)
    code = theirs.codes.first()
    client = token_client(a.staff)

    for url in (
        batch_url(theirs),
        batch_url(theirs, "codes/"),
        batch_url(theirs, "export.csv"),
        batch_url(theirs, "export.xlsx"),
        batch_url(theirs, "sheet.pdf"),
        code_url(code),
        code_url(code, "qr.png"),
        code_url(code, "qr.svg"),
    ):
        assert_error(client.get(url), 404)
    assert_error(client.post(batch_url(theirs, "void/")), 404, "voucher_batch_not_found")
    assert_error(client.post(code_url(code, "void/")), 404, "voucher_code_not_found")
    assert client.get(CODES, {"code": code.code}).json()["count"] == 0
    assert ids(client.get(BATCHES)) == set()

    theirs.refresh_from_db()
    code.refresh_from_db()
    assert theirs.voided_at is None
    assert code.status == "available"


def test_a_batchs_codes_are_listed_page_by_page_in_few_queries(a, django_assert_max_num_queries):
    made = batch(voucher_promotion(a), quantity=30, customer=a.customer)
    client = token_client(a.staff)
    client.get(batch_url(made, "codes/"))  # the user's brands and roles, once

    with django_assert_max_num_queries(12):
        response = client.get(batch_url(made, "codes/"), {"page_size": 20})

    body = response.json()
    assert (body["count"], len(body["results"])) == (30, 20)
    row = body["results"][0]
    assert (row["batch"], row["brand"], row["customer_email"]) == (
        made.pk,
        a.brand.slug,
        a.customer.email,
    )
    assert client.get(batch_url(made, "codes/"), {"status": "voided"}).json()["count"] == 0


def test_the_batch_list_takes_the_same_queries_for_one_batch_or_many(
    a, django_assert_max_num_queries
):
    promotion = voucher_promotion(a)
    batch(promotion, quantity=1, customer=a.customer)
    client = token_client(a.staff)
    client.get(BATCHES)
    with django_assert_max_num_queries(12) as one:
        client.get(BATCHES)
    for _ in range(4):
        batch(promotion, quantity=1, customer=a.customer)

    with django_assert_max_num_queries(len(one.captured_queries)):
        assert client.get(BATCHES).json()["count"] == 5


# --- Roles --------------------------------------------------------------------------------------


def test_what_each_role_may_do_with_vouchers(a):
    promotion = voucher_promotion(a)
    made = batch(promotion, quantity=2)
    code = made.codes.first()
    create = {"promotion": promotion.pk, "name": "By role", "quantity": 1}

    def answers(role: str) -> dict:
        client = role_client(a, role)
        return {
            "list": client.get(BATCHES).status_code,
            "create": client.post(BATCHES, create, format="json").status_code,
            "batch": client.get(batch_url(made)).status_code,
            "codes": client.get(batch_url(made, "codes/")).status_code,
            "csv": client.get(batch_url(made, "export.csv")).status_code,
            "lookup": client.get(CODES, {"code": code.code}).status_code,
            "code": client.get(code_url(code)).status_code,
            "qr": client.get(code_url(code, "qr.png")).status_code,
            "void code": client.post(code_url(code, "void/")).status_code,
            "void batch": client.post(batch_url(made, "void/")).status_code,
        }

    everything = dict.fromkeys(
        ["list", "batch", "codes", "csv", "lookup", "code", "qr", "void code", "void batch"], 200
    )
    assert answers(ANALYST) == {
        **everything,
        "create": 403,
        "void code": 403,
        "void batch": 403,
    }
    assert answers(STORE_MANAGER) == {
        **dict.fromkeys(everything, 403),
        "create": 403,
        "lookup": 200,
        "code": 200,
        "qr": 200,
    }
    assert answers(SUPPORT_AGENT) == {**dict.fromkeys(everything, 403), "create": 403}
    assert answers(MARKETING_MANAGER) == {**everything, "create": 201}
    assert VoucherBatch.objects.filter(name="By role").count() == 1


def test_customers_and_tills_are_refused(a):
    made = batch(voucher_promotion(a), quantity=1)
    for client in (token_client(a.customer.user), device_client(a.device_key)):
        assert_error(client.get(BATCHES), 403)
        assert_error(client.get(batch_url(made, "export.csv")), 403)
        assert_error(client.post(batch_url(made, "void/")), 403)
    made.refresh_from_db()
    assert made.voided_at is None


# --- Voiding ------------------------------------------------------------------------------------


def test_voiding_a_batch_voids_its_codes_and_again_changes_nothing(
    a, django_capture_on_commit_callbacks
):
    made = batch(voucher_promotion(a), quantity=3)
    client = token_client(a.staff)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(batch_url(made, "void/"))

    assert response.status_code == 200, response.json()
    assert response.json()["voided_at"] is not None
    assert set(made.codes.values_list("status", flat=True)) == {"voided"}
    assert client.get(batch_url(made)).json()["code_counts"]["voided"] == 3
    voided_at = response.json()["voided_at"]
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(batch_url(made, "void/"))
    assert (again.status_code, again.json()["voided_at"]) == (200, voided_at)


def test_voiding_a_code_leaves_the_others_and_a_redeemed_code_stays_redeemed(a):
    made = batch(voucher_promotion(a), quantity=2)
    first, second = made.codes.order_by("pk")
    client = token_client(a.staff)

    response = client.post(code_url(first, "void/"))

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "voided"
    second.refresh_from_db()
    assert second.status == "available"
    second.status = "redeemed"
    second.save(update_fields=["status"])
    assert client.post(code_url(second, "void/")).json()["status"] == "redeemed"
    assert_error(client.post(f"{CODES}999999999/void/"), 404, "voucher_code_not_found")


# --- Looking codes up ---------------------------------------------------------------------------


def test_a_code_is_found_as_typed_or_scanned_within_ones_brands(a, b):
    mine = batch(voucher_promotion(a), quantity=2, prefix="SPR-")
    code = mine.codes.first()
    offline = batch(voucher_promotion(a, name="Offline"), quantity=1, offline=True)
    signed_code = offline.codes.get()
    client = role_client(a, STORE_MANAGER)

    typed = client.get(CODES, {"code": f"  {code.code.lower()} "})
    scanned = client.get(CODES, {"code": exports.qr_payload(signed_code)})

    assert ids(typed) == {code.pk}
    assert typed.json()["results"][0]["batch_name"] == mine.name
    assert ids(scanned) == {signed_code.pk}
    assert ids(client.get(CODES, {"code": "SPR-NOTACODE"})) == set()
    body = assert_error(client.get(CODES), 400)
    assert list(body["fields"]) == ["code"]


def test_a_codes_detail_shows_its_uses_with_the_customer_as_the_role_may_see_it(a):
    promotion = voucher_promotion(a)
    made = batch(promotion, quantity=1, uses_per_code=3)
    code = made.codes.get()
    place_with(a, code.code, customer=a.customer)

    admin = token_client(a.staff).get(code_url(code)).json()
    manager = role_client(a, MARKETING_MANAGER).get(code_url(code)).json()

    assert (admin["uses"], admin["redemption_count"]) == (1, 1)
    use = admin["redemptions"][0]
    assert (use["customer"], use["customer_email"], use["status"]) == (
        a.customer.pk,
        a.customer.email,
        "reserved",
    )
    assert use["order"] is not None and use["used_at"] is not None
    assert {"store", "channel", "redeemed_at", "released_at"} <= set(use)
    email = a.customer.email
    assert manager["redemptions"][0]["customer_email"] == f"{email[0]}***@{email.split('@')[1]}"


# --- Downloads ----------------------------------------------------------------------------------


def test_downloads_have_their_content_types(a):
    made = batch(voucher_promotion(a), quantity=3)
    code = made.codes.first()
    client = token_client(a.staff)

    for url, content_type, magic in (
        (batch_url(made, "export.csv"), "text/csv", b"code,"),
        (
            batch_url(made, "export.xlsx"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            b"PK",
        ),
        (batch_url(made, "sheet.pdf"), "application/pdf", b"%PDF"),
        (code_url(code, "qr.png"), "image/png", b"\x89PNG"),
        (code_url(code, "qr.svg"), "image/svg+xml", b"<?xml"),
    ):
        # Whatever the client says it accepts
        response = client.get(url, HTTP_ACCEPT="application/json")
        assert response.status_code == 200, (url, response.status_code)
        assert response["Content-Type"].split(";")[0] == content_type, url
        assert b"".join(response.streaming_content if response.streaming else [response.content])[
            :10
        ].startswith(magic), url
        assert "no-store" in response["Cache-Control"]
        assert "voucher-" in response["Content-Disposition"]


def test_the_csv_and_xlsx_show_emails_in_full_only_to_who_sees_them(a):
    made = batch(voucher_promotion(a), quantity=2, customer=a.customer)
    email = a.customer.email
    masked = f"{email[0]}***@{email.split('@')[1]}"

    def csv_emails(client) -> set[str]:
        response = client.get(batch_url(made, "export.csv"))
        text = b"".join(response.streaming_content).decode()
        return {row["customer_email"] for row in csv.DictReader(io.StringIO(text))}

    def xlsx_emails(client) -> set[str]:
        response = client.get(batch_url(made, "export.xlsx"))
        sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
        return {row[5] for row in sheet.iter_rows(min_row=2, values_only=True)}

    admin, analyst = token_client(a.staff), role_client(a, ANALYST)
    assert csv_emails(admin) == xlsx_emails(admin) == {email}
    assert csv_emails(analyst) == xlsx_emails(analyst) == {masked}


def test_a_refused_download_is_an_error_in_json_whatever_the_client_accepts(a, monkeypatch):
    made = batch(voucher_promotion(a), quantity=3)
    monkeypatch.setattr(exports, "PDF_MAX_CODES", 2)
    client = token_client(a.staff)

    response = client.get(batch_url(made, "sheet.pdf"), HTTP_ACCEPT="application/pdf")

    assert response["Content-Type"] == "application/json"
    assert_error(response, 400, "batch_too_large_for_pdf")
    missing = client.get(f"{CODES}999999999/qr.png", HTTP_ACCEPT="image/png")
    assert missing["Content-Type"] == "application/json"
    assert_error(missing, 404, "voucher_code_not_found")


# --- Throttling and the schema ------------------------------------------------------------------


def _voucher_views():
    for pattern in get_resolver().url_patterns:
        yield from _views(pattern)


def _views(pattern):
    if isinstance(pattern, URLPattern):
        view = getattr(pattern.callback, "view_class", None)
        if view is not None and view.__module__ == "vouchers.api.views":
            yield view
    else:
        for child in pattern.url_patterns:
            yield from _views(child)


def test_every_vouchers_view_counts_under_the_vouchers_scope():
    views = list(_voucher_views())

    assert len(views) == 13
    assert {view.throttle_scope for view in views} == {"vouchers"}


def test_past_the_rate_staff_get_a_429(settings, a):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "vouchers": "2/minute"}
    client = token_client(a.staff)

    answers = [client.get(BATCHES).status_code for _ in range(3)]

    assert answers == [200, 200, 429]
    assert_error(client.get(CODES, {"code": "X"}), 429, "throttled")


def test_the_schema_documents_the_operations_with_examples_and_their_errors():
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    messages = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    GENERATOR_STATS.reset()

    validate_schema(schema)
    assert [m for m in messages if "voucher" in str(m).lower()] == []
    paths = {path: ops for path, ops in schema["paths"].items() if path.startswith(API)}

    assert len([op for ops in paths.values() for op in ops]) == 14
    create = paths[BATCHES]["post"]
    assert create["requestBody"]["content"]["application/json"]["examples"]
    for ops in paths.values():
        for operation in ops.values():
            for status in ("401", "403", "429"):
                error = operation["responses"][status]["content"]["application/json"]
                assert error["schema"] == {"$ref": "#/components/schemas/Error"}
    png = paths[f"{CODES}{{code_id}}/qr.png"]["get"]["responses"]["200"]["content"]
    assert list(png) == ["image/png"]


def test_a_retried_create_with_one_idempotency_key_makes_one_batch(a):
    promotion = voucher_promotion(a)
    client = token_client(a.staff)
    body = {"promotion": promotion.pk, "name": "Retried", "quantity": 3}

    first = client.post(BATCHES, body, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    again = client.post(BATCHES, body, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    other = client.post(
        BATCHES, {**body, "quantity": 4}, format="json", HTTP_IDEMPOTENCY_KEY="batch-1"
    )

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert_error(other, 409, "idempotency_key_reused")
    assert VoucherBatch.objects.filter(promotion=promotion).count() == 1


def test_distribution_sends_a_code_to_each_customer_of_a_label_once(
    a, b, django_capture_on_commit_callbacks
):
    from labels.models import CustomerLabel, Label
    from notifications.models import Notification

    made = batch(voucher_promotion(a), quantity=5)
    newsletter = Label.objects.create(name="News", type=Label.Type.CUSTOMER, brand=a.brand)
    CustomerLabel.objects.create(label=newsletter, customer=a.customer)
    products = Label.objects.create(name="Drinks", type=Label.Type.PRODUCT, brand=a.brand)
    client = token_client(a.staff)
    url = f"{BATCHES}{made.pk}/distribute/"

    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(url, {"label": newsletter.pk}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(url, {"label": newsletter.pk}, format="json")

    assert (sent.status_code, again.status_code) == (202, 202)
    assert sent.json() == {"batch": made.pk, "label": newsletter.pk, "status": "sending"}
    assert list(
        made.codes.filter(assigned_at__isnull=False).values_list("customer", flat=True)
    ) == [a.customer.pk]
    assert Notification.objects.filter(event="voucher.assigned").count() == 1
    refused = client.post(url, {"label": products.pk}, format="json")
    assert refused.status_code == 400 and refused.json()["message"]
    foreign = token_client(b.staff).post(url, {"label": newsletter.pk}, format="json")
    assert_error(foreign, 404)
