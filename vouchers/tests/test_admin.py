"""The vouchers admin: a batch added through a form of real fields and created by the service
(its codes generated at once with eager tasks), refused in plain sentences on the fields, read
only afterwards with its progress, counts and downloads, voided after a confirmation, sent to a
customer label picked by search (the service's refusals in its own sentences); the code lookup,
read only, with the customer's email masked by role, a QR image and the redemptions; and nothing
of another brand to see."""

import io
import zipfile
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from brands.roles import ANALYST, BRAND_ADMIN, MARKETING_MANAGER
from core.models import OutboxMessage
from core.tests.api_world import staff_user
from customers.services import customer_create
from labels.models import CustomerLabel, Label
from notifications.models import Notification
from orders.tests.factories import place_order
from promotions.services.lifecycle import promotion_set_status
from vouchers.distribution import ASSIGNED_EVENT
from vouchers.models import VoucherBatch, VoucherCode
from vouchers.services import voucher_batch_create, voucher_code_void
from vouchers.tests.factories import batch, voucher_promotion

pytestmark = pytest.mark.django_db

BATCHES = "/admin/vouchers/voucherbatch/"
ADD = f"{BATCHES}add/"
CODES = "/admin/vouchers/vouchercode/"
CODES_ONLY = "?app_label=vouchers&model_name=voucherbatch&field_name=promotion"
LABEL_PICKER = "app_label=labels&model_name=customerlabel&field_name=label"
SENT = "The codes are being sent to the customers of {}. Each customer gets one code, once."


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def batch_form(promotion, **data) -> dict:
    return {
        "promotion": promotion.pk,
        "name": "Spring mailing",
        "quantity": "25",
        "prefix": "spring-",
        "length": "8",
        "uses_per_code": "1",
        "customer": "",
        "valid_from": "",
        "valid_until": "",
        **data,
    }


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


@pytest.fixture
def marketer(a):
    return staff_user("marketer", role=MARKETING_MANAGER, brands=[a.brand])


def test_the_add_form_has_real_fields_and_pickers_by_search(a, marketer):
    html = page(logged_in(marketer).get(ADD))

    assert 'type="datetime-local" name="valid_from"' in html
    assert 'type="datetime-local" name="valid_until"' in html
    assert 'type="number" name="quantity"' in html
    assert 'type="checkbox" name="offline"' in html
    # The promotion and the customer are picked by search (autocomplete), not from a list
    assert 'name="promotion"' in html and "admin-autocomplete" in html
    assert html.count('data-ajax--url="/admin/autocomplete/"') == 2


def test_adding_a_batch_creates_it_through_the_service_and_generates_its_codes(
    a, marketer, django_capture_on_commit_callbacks
):
    # Given a live voucher promotion of the marketer's brand
    promotion = voucher_promotion(a)
    client = logged_in(marketer)

    # When they add a batch of 25 codes from 1 May to 1 June
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            ADD,
            batch_form(
                promotion, valid_from="2026-05-01T09:00", valid_until="2026-06-01T00:00", offline=""
            ),
        )

    # Then the batch was created by the service, with its codes, and its page is shown
    made = VoucherBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{BATCHES}{made.pk}/change/"
    assert (made.brand, made.promotion, made.prefix, made.quantity, made.created_by) == (
        a.brand,
        promotion,
        "SPRING-",
        25,
        marketer,
    )
    assert made.valid_from.isoformat() == "2026-05-01T09:00:00+00:00"
    assert (made.status, made.generated) == ("ready", 25)
    codes = list(VoucherCode.objects.filter(batch=made).values_list("code", flat=True))
    assert len(codes) == 25 and all(code.startswith("SPRING-") for code in codes)

    shown = page(client.get(response["Location"]))
    listed = page(client.get(BATCHES))
    assert "Spring mailing" in listed and "25 of 25" in listed and "Ready" in listed
    assert "The batch Spring mailing was created; its 25 codes are being generated." in shown
    assert '<progress value="25" max="25">100%</progress>' in shown
    assert "25 of 25 codes (100%)." in shown
    assert 'http-equiv="refresh"' not in shown  # generated: nothing to wait for
    assert f'?batch={made.pk}&amp;status__exact=available">25</a>' in shown
    assert 'name="_save"' not in shown  # read only
    assert "Void this batch" in shown
    for name in ("export.csv", "export.xlsx", "sheet.pdf"):
        assert f'href="{BATCHES}{made.pk}/{name}"' in shown


def test_a_batch_still_generating_refreshes_its_page_and_offers_no_download(a, marketer):
    promotion = voucher_promotion(a)
    # The generation is owed but not run: on-commit work is not executed here
    made = voucher_batch_create(promotion=promotion, name="Later", quantity=10)
    client = logged_in(marketer)

    shown = page(client.get(f"{BATCHES}{made.pk}/change/"))
    download = client.get(f"{BATCHES}{made.pk}/export.csv")

    assert '<meta http-equiv="refresh" content="2">' in shown
    assert "0 of 10 codes (0%); this page refreshes every 2 seconds." in shown
    assert "The files can be downloaded once the batch&#x27;s codes are generated." in shown
    assert download.status_code == 302
    after = page(client.get(download["Location"]))
    assert "The files can be downloaded once the batch&#x27;s codes are generated." in after


@pytest.mark.parametrize(
    ("data", "field", "sentence"),
    [
        ({"prefix": "spring!"}, "prefix", "At most 12 characters: capital letters, digits and"),
        ({"length": "3"}, "length", "Between 6 and 24 characters."),
        ({"length": "6", "quantity": "100000"}, "length", "Too short for this many codes"),
        ({"quantity": "0"}, "quantity", "Between 1 and 5,000,000 codes."),
        ({"uses_per_code": "0"}, "uses_per_code", "At least 1."),
        (
            {"valid_from": "2026-06-01T00:00", "valid_until": "2026-05-01T00:00"},
            "valid_until",
            "The end must be after the start.",
        ),
        ({"name": ""}, "name", "This field is required."),
    ],
)
def test_bad_input_is_refused_in_plain_sentences_on_its_field_and_creates_nothing(
    a, marketer, data, field, sentence, django_capture_on_commit_callbacks
):
    promotion = voucher_promotion(a)

    with django_capture_on_commit_callbacks(execute=True):
        html = page(logged_in(marketer).post(ADD, batch_form(promotion, **data)))

    # The sentence is in the error list of its own field
    errors = html[html.index(f'id="id_{field}_error"') :]
    assert sentence in errors[: errors.index("</ul>")], errors[:500]
    assert "invalid_voucher_batch" not in html and "voucher_batch_" not in html
    assert not VoucherBatch.objects.exists()
    assert not OutboxMessage.objects.filter(task="vouchers.generate_batch").exists()


def test_an_ended_promotion_and_another_brands_customer_or_promotion_are_refused(a, b, marketer):
    promotion = voucher_promotion(a)
    foreign_promotion = voucher_promotion(b)
    client = logged_in(marketer)

    foreign = page(client.post(ADD, batch_form(foreign_promotion)))
    stranger = page(client.post(ADD, batch_form(promotion, customer=str(b.customer.pk))))
    promotion_set_status(promotion_id=promotion.pk, status="ended")
    ended = page(client.post(ADD, batch_form(promotion)))

    assert "Select a valid choice" in foreign
    assert "Select a valid choice" in stranger
    assert "This promotion has ended." in ended
    assert not VoucherBatch.objects.exists()


def test_a_customer_of_another_of_the_users_brands_is_refused_by_the_service(a, b):
    # A brand admin of both brands may pick either's customers, but not for A's promotion
    boss = staff_user("boss", role=BRAND_ADMIN, brands=[a.brand, b.brand])
    promotion = voucher_promotion(a)

    html = page(logged_in(boss).post(ADD, batch_form(promotion, customer=str(b.customer.pk))))

    assert "This customer is not a customer of the promotion&#x27;s brand." in html
    assert not VoucherBatch.objects.exists()


def test_a_refusal_by_the_service_after_the_form_passed_lands_on_the_fields(
    a, marketer, monkeypatch
):
    # Given a form check that lets everything through (the promotion ends in between, say)
    monkeypatch.setattr("vouchers.admin.voucher_batch_errors", lambda **kwargs: {})
    promotion = voucher_promotion(a)

    html = page(logged_in(marketer).post(ADD, batch_form(promotion, length="3", prefix="a b")))

    assert "Between 6 and 24 characters." in html
    assert "At most 12 characters: capital letters, digits and dashes." in html
    assert "invalid_voucher_batch" not in html
    assert not VoucherBatch.objects.exists()


def test_another_brands_staff_cannot_see_or_touch_a_batch_or_its_codes(a, b):
    made = batch(voucher_promotion(a), quantity=3)
    code = made.codes.first()
    other = logged_in(b.staff)  # a brand admin of brand B

    listed = page(other.get(BATCHES))
    change = other.get(f"{BATCHES}{made.pk}/change/")
    lookup = page(other.get(CODES, {"q": code.code}))
    picker = other.get(f"/admin/autocomplete/{CODES_ONLY}&term=Ten").json()

    assert "Spring mailing" not in listed
    assert change.status_code == 302 and change["Location"] == "/admin/"
    for path in ("void/", "export.csv", "export.xlsx", "sheet.pdf"):
        assert other.get(f"{BATCHES}{made.pk}/{path}").status_code == 404, path
    assert other.post(f"{BATCHES}{made.pk}/void/").status_code == 404
    assert other.get(f"{CODES}{code.pk}/qr.png").status_code == 404
    assert f">{code.code}</a>" not in lookup and "0 results" in lookup
    assert picker["results"] == []  # A's promotion is not offered to B's staff
    made.refresh_from_db()
    assert made.voided_at is None


def test_the_promotion_picker_offers_the_users_brands_promotions(a, b, marketer):
    mine = voucher_promotion(a, name="Ten off spring")
    voucher_promotion(b, name="Ten off elsewhere")

    results = logged_in(marketer).get(f"/admin/autocomplete/{CODES_ONLY}&term=Ten").json()

    assert [row["id"] for row in results["results"]] == [str(mine.pk)]


def test_voiding_a_batch_asks_first_then_voids_it_and_its_codes(
    a, marketer, django_capture_on_commit_callbacks
):
    made = batch(voucher_promotion(a), quantity=4)
    client = logged_in(marketer)
    void = f"{BATCHES}{made.pk}/void/"

    asked = page(client.get(void))
    assert made.voided_at is None
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(void)
    shown = page(client.get(response["Location"]))

    made.refresh_from_db()
    assert "Void the batch Spring mailing?" in asked and 'value="Yes, void this batch"' in asked
    assert "4 codes" in asked
    assert response.status_code == 302
    assert made.voided_at is not None
    assert set(made.codes.values_list("status", flat=True)) == {"voided"}
    assert "The batch Spring mailing was voided: none of its codes can be used any more." in shown
    assert "Void this batch" not in shown
    assert f'?batch={made.pk}&amp;status__exact=voided">4</a>' in shown
    assert "sheet.pdf" not in shown and "No sheet to print: the batch is voided." in shown


def test_a_role_that_only_views_cannot_void(a):
    made = batch(voucher_promotion(a), quantity=2)
    analyst = logged_in(staff_user("analyst", role=ANALYST, brands=[a.brand]))

    shown = page(analyst.get(f"{BATCHES}{made.pk}/change/"))

    assert "Void this batch" not in shown
    assert analyst.post(f"{BATCHES}{made.pk}/void/").status_code == 403
    made.refresh_from_db()
    assert made.voided_at is None


def test_downloads_answer_the_right_content_types_with_emails_as_the_role_allows(a, marketer):
    made = batch(voucher_promotion(a), quantity=3, customer=a.customer)
    code = made.codes.first()
    boss = logged_in(a.staff)  # a brand admin: sees emails in full
    masked = logged_in(marketer)  # sees them masked

    csv_masked = masked.get(f"{BATCHES}{made.pk}/export.csv")
    csv_full = boss.get(f"{BATCHES}{made.pk}/export.csv")
    xlsx = masked.get(f"{BATCHES}{made.pk}/export.xlsx")
    pdf = masked.get(f"{BATCHES}{made.pk}/sheet.pdf")
    png = masked.get(f"{CODES}{code.pk}/qr.png")

    assert csv_masked["Content-Type"] == "text/csv; charset=utf-8"
    assert csv_masked["Content-Disposition"] == (
        f'attachment; filename="voucher-batch-{made.pk}.csv"'
    )
    assert {"private", "no-store"} <= set(csv_masked["Cache-Control"].split(", "))
    masked_text = b"".join(csv_masked.streaming_content).decode()
    full_text = b"".join(csv_full.streaming_content).decode()
    assert masked_text.splitlines()[0] == "code,qr_payload,status,uses,max_uses,customer_email"
    assert len(masked_text.splitlines()) == 4 and code.code in masked_text
    assert "c***@example.com" in masked_text and "customer-a@example.com" not in masked_text
    assert "customer-a@example.com" in full_text

    assert xlsx["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    workbook = zipfile.ZipFile(io.BytesIO(b"".join(xlsx.streaming_content)))
    assert "xl/workbook.xml" in workbook.namelist()
    assert pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
    assert png["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    signed = batch(made.promotion, quantity=1, offline=True, name="Till codes").codes.get()
    signed_png = masked.get(f"{CODES}{signed.pk}/qr.png")
    assert signed_png["Content-Type"] == "image/png" and len(signed_png.content) > len(png.content)


def test_a_batch_too_large_to_print_gets_a_plain_sentence_not_a_file(a, marketer, monkeypatch):
    monkeypatch.setattr("vouchers.exports.PDF_MAX_CODES", 2)
    made = batch(voucher_promotion(a), quantity=3)
    client = logged_in(marketer)

    shown = page(client.get(f"{BATCHES}{made.pk}/change/"))
    response = client.get(f"{BATCHES}{made.pk}/sheet.pdf")
    after = page(client.get(response["Location"]))

    assert "sheet.pdf" not in shown and "a sheet holds at most 2 codes" in shown
    assert response.status_code == 302
    assert "A printable sheet holds at most 2 codes; this batch has 3." in after
    assert "batch_too_large_for_pdf" not in after


def test_the_code_lookup_finds_a_code_as_typed_and_masks_the_email_by_role(a, marketer):
    made = batch(voucher_promotion(a), quantity=3, customer=a.customer)
    code = made.codes.order_by("pk").first()
    typed = f"  {code.code.lower()} "

    found = page(logged_in(marketer).get(CODES, {"q": typed}))
    found_by_boss = page(logged_in(a.staff).get(CODES, {"q": code.code}))
    partial = page(logged_in(marketer).get(CODES, {"q": code.code[:-2]}))

    assert found.count(f">{code.code}</a>") == 1
    assert "1 voucher code" in found
    assert "c***@example.com" in found and "customer-a@example.com" not in found
    assert "customer-a@example.com" in found_by_boss
    assert f">{code.code}</a>" not in partial and "0 results" in partial  # whole codes only


def test_a_codes_page_is_read_only_with_its_qr_image_and_redemptions(a, marketer):
    made = batch(voucher_promotion(a), quantity=2)
    code = made.codes.order_by("pk").first()
    order = place_order(
        brand=a.brand,
        products_and_quantities=[(a.product, 1)],
        store=a.store,
        customer=a.customer,
        codes=[code.code],
    )

    html = page(logged_in(marketer).get(f"{CODES}{code.pk}/change/"))

    assert f'src="{CODES}{code.pk}/qr.png"' in html and f'alt="QR code of {code.code}"' in html
    assert "1 of 1, 0 final" in html
    assert "Reserved by an order" in html
    inline = html[html.index('id="redemptions-group"') :]
    assert f"Order {order.pk}" in inline and "Anna Leea" in inline and "brand-a/store-a" in inline
    assert "Ten percent voucher" in html  # the promotion
    assert 'name="_save"' not in html


def test_voiding_selected_codes_skips_the_used_ones(a, marketer):
    made = batch(voucher_promotion(a), quantity=3)
    first, second, third = made.codes.order_by("pk")
    voucher_code_void(code_id=third.pk)
    client = logged_in(marketer)

    response = client.post(
        CODES,
        {"action": "void_selected", "_selected_action": [first.pk, second.pk, third.pk]},
        follow=True,
    )

    html = page(response)
    assert (
        "2 codes voided. 1 code was already redeemed, expired or voided and was left as it" in html
    )
    assert set(made.codes.values_list("status", flat=True)) == {"voided"}


def test_the_code_lookup_names_a_customer_without_their_email_for_a_role_that_may_not(a):
    store_customer = customer_create(
        brand=a.brand, email="zed@example.com", first_name="Zed", last_name="Q"
    )
    made = batch(
        voucher_promotion(a),
        quantity=1,
        customer=store_customer,
        valid_until=timezone.now() + timedelta(days=3),
    )
    code = made.codes.get()
    analyst = logged_in(staff_user("analyst", role=ANALYST, brands=[a.brand]))

    html = page(analyst.get(f"{CODES}{code.pk}/change/"))
    listed = page(analyst.get(CODES))

    assert "Zed Q" in html and "z***@example.com" in html and "zed@example.com" not in html
    assert "z***@example.com" in listed and "zed@example.com" not in listed
    assert "Void the selected codes" not in listed  # viewing only


def test_the_code_lookup_lists_in_a_fixed_number_of_queries(
    a, marketer, django_assert_max_num_queries
):
    # Given codes of two batches, each bound to a customer
    promotion = voucher_promotion(a)
    batch(promotion, quantity=2, customer=a.customer)
    client = logged_in(marketer)
    client.get(CODES)  # sessions, permissions and content types warmed up
    with django_assert_max_num_queries(100) as few:
        page(client.get(CODES))

    # When there are many more codes of more batches
    batch(promotion, quantity=30, customer=a.customer, name="Autumn")
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = page(client.get(CODES))

    # Then the list costs the same number of queries
    assert html.count("c***@example.com") == 32


# --- Sending a batch's codes to a customer label ---------------------------------------------


def newsletter(tenant, count: int, name: str = "Newsletter") -> tuple[Label, list]:
    """A customer label of the tenant's brand with `count` customers who have an email."""
    label = Label.objects.create(name=name, type=Label.Type.CUSTOMER, brand=tenant.brand)
    customers = [
        customer_create(brand=tenant.brand, email=f"{name.lower()}-{i}@example.com")
        for i in range(count)
    ]
    CustomerLabel.objects.bulk_create(CustomerLabel(label=label, customer=c) for c in customers)
    return label, customers


def picked(client, made, term: str) -> list[str]:
    url = f"{BATCHES}label-autocomplete/?batch={made.pk}&{LABEL_PICKER}&term={term}"
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return [row["text"] for row in response.json()["results"]]


def test_a_brand_admin_sends_a_batch_to_a_customer_label_picked_by_search(
    a, django_capture_on_commit_callbacks
):
    # Given a batch of 5 codes and a customer label of 3 customers of the brand
    made = batch(voucher_promotion(a), quantity=5)
    label, readers = newsletter(a, 3)
    Label.objects.create(name="News products", type=Label.Type.PRODUCT, brand=a.brand)
    Label.objects.create(name="News everywhere", type=Label.Type.CUSTOMER)  # global
    boss = logged_in(a.staff)
    distribute = f"{BATCHES}{made.pk}/distribute/"

    # When the brand admin opens the batch, follows its button and searches the label
    before = page(boss.get(f"{BATCHES}{made.pk}/change/"))
    asked = page(boss.get(distribute))
    offered = picked(boss, made, "News")
    with django_capture_on_commit_callbacks(execute=True):
        response = boss.post(distribute, {"label": label.pk})
    shown = page(boss.get(response["Location"]))

    # Then the page offered a picker by search among customer labels (the brand's and the
    # global ones) with the codes left to send, and after the POST each customer holds one code
    # and was notified
    assert f'href="{distribute}"' in before and "Send codes to a customer label" in before
    assert '<div class="readonly">0 codes</div>' in before  # none sent to customers yet
    assert 'name="label"' in asked and "admin-autocomplete" in asked
    assert f'data-ajax--url="{BATCHES}label-autocomplete/?batch={made.pk}"' in asked
    assert "<strong>5</strong> of 5 codes left to send" in asked
    assert sorted(offered) == ["News everywhere", f"Newsletter ({a.brand.slug})"]
    assert response.status_code == 302
    assert response["Location"] == f"{BATCHES}{made.pk}/change/"
    assert SENT.format("Newsletter") in shown
    held = dict(
        VoucherCode.objects.filter(batch=made, assigned_at__isnull=False).values_list(
            "customer_id", "code"
        )
    )
    assert set(held) == {customer.pk for customer in readers}
    notices = Notification.objects.filter(event=ASSIGNED_EVENT)
    assert sorted(notices.values_list("customer_id", flat=True)) == sorted(held)
    assert '<div class="readonly">3 codes</div>' in shown  # sent to customers
    assert "<strong>2</strong> of 5 codes left to send" in page(boss.get(distribute))
    assert OutboxMessage.objects.filter(task="vouchers.distribute_batch").count() == 1


def test_the_label_picker_keeps_to_the_batchs_brand_for_a_user_of_two_brands(a, b):
    made = batch(voucher_promotion(a), quantity=2)
    newsletter(a, 0, name="Readers")
    newsletter(b, 0, name="Readers elsewhere")
    both = logged_in(staff_user("both", role=MARKETING_MANAGER, brands=[a.brand, b.brand]))

    offered = picked(both, made, "Readers")
    no_batch = both.get(f"{BATCHES}label-autocomplete/?{LABEL_PICKER}&term=Readers")
    other_field = both.get(
        f"{BATCHES}label-autocomplete/?batch={made.pk}&{CODES_ONLY[1:]}&term=Ten"
    )

    assert offered == [f"Readers ({a.brand.slug})"]
    assert no_batch.status_code == 403 and other_field.status_code == 403


def test_another_brands_batch_cannot_be_sent_or_searched_for_labels(a, b):
    made = batch(voucher_promotion(a), quantity=2)
    label, _ = newsletter(b, 1)
    other = logged_in(b.staff)

    asked = other.get(f"{BATCHES}{made.pk}/distribute/")
    posted = other.post(f"{BATCHES}{made.pk}/distribute/", {"label": label.pk})
    searched = other.get(f"{BATCHES}label-autocomplete/?batch={made.pk}&{LABEL_PICKER}&term=N")

    assert (asked.status_code, posted.status_code, searched.status_code) == (404, 404, 403)
    assert not OutboxMessage.objects.filter(task="vouchers.distribute_batch").exists()
    assert not VoucherCode.objects.filter(batch=made, customer__isnull=False).exists()


def test_a_product_label_is_refused_in_the_services_sentence_and_nothing_is_owed(a):
    made = batch(voucher_promotion(a), quantity=2)
    vegan = Label.objects.create(name="Vegan", type=Label.Type.PRODUCT, brand=a.brand)
    boss = logged_in(a.staff)

    response = boss.post(f"{BATCHES}{made.pk}/distribute/", {"label": vegan.pk})
    shown = page(boss.get(response["Location"]))

    assert response.status_code == 302
    assert "Choose a customer label of the batch&#x27;s brand, or a global one." in shown
    assert 'class="error"' in shown
    assert "The codes are being sent" not in shown
    assert not OutboxMessage.objects.filter(task="vouchers.distribute_batch").exists()


def test_no_label_chosen_shows_the_page_again_with_a_sentence_on_the_field(a):
    made = batch(voucher_promotion(a), quantity=2)

    shown = page(logged_in(a.staff).post(f"{BATCHES}{made.pk}/distribute/", {"label": ""}))

    assert "Choose a customer label." in shown
    assert not OutboxMessage.objects.filter(task="vouchers.distribute_batch").exists()


def test_the_send_button_is_only_on_a_ready_batch_bound_to_no_one(a):
    ready = batch(voucher_promotion(a), quantity=2)
    personal = batch(voucher_promotion(a, name="Mine"), quantity=1, customer=a.customer)
    voided = batch(voucher_promotion(a, name="Gone"), quantity=1)
    voided.voided_at = timezone.now()
    voided.save(update_fields=["voided_at"])
    boss = logged_in(a.staff)

    def offered(made) -> bool:
        return "Send codes to a customer label" in page(boss.get(f"{BATCHES}{made.pk}/change/"))

    assert (offered(ready), offered(personal), offered(voided)) == (True, False, False)
    # And the page of a personal batch says the service's reason when posted to anyway
    label, _ = newsletter(a, 1)
    response = boss.post(f"{BATCHES}{personal.pk}/distribute/", {"label": label.pk})
    assert "belong to one customer" in page(boss.get(response["Location"]))


def test_a_role_that_only_views_cannot_send_a_batch(a):
    made = batch(voucher_promotion(a), quantity=2)
    label, _ = newsletter(a, 1)
    analyst = logged_in(staff_user("analyst", role=ANALYST, brands=[a.brand]))

    shown = page(analyst.get(f"{BATCHES}{made.pk}/change/"))

    assert "Send codes to a customer label" not in shown
    assert analyst.get(f"{BATCHES}{made.pk}/distribute/").status_code == 403
    assert analyst.post(f"{BATCHES}{made.pk}/distribute/", {"label": label.pk}).status_code == 403
    assert not OutboxMessage.objects.filter(task="vouchers.distribute_batch").exists()
