"""Exports of a batch's codes: QR codes that scan back to their payload (a signed one a till
accepts offline), the printable PDF sheet, and the CSV and XLSX lists."""

import base64
import csv
import io
import re
import time
import zlib
import zoneinfo
from datetime import datetime
from xml.etree import ElementTree

import pytest
import zxingcpp
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook
from PIL import Image

from brands.models import Brand
from core.errors import ApplicationError
from customers.models import Customer
from vouchers import exports
from vouchers.codes import VALID, offline_voucher_check
from vouchers.exports import (
    CSV_HEADER,
    batch_csv_rows,
    batch_pdf,
    batch_xlsx,
    qr_payload,
    qr_png,
    qr_svg,
    validity_text,
)
from vouchers.models import VoucherBatch
from vouchers.services import voucher_batch_create, voucher_batch_void
from vouchers.tests.factories import batch, voucher_promotion

pytestmark = pytest.mark.django_db


def scanned(png: bytes) -> list:
    return zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))


def pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page[^s]", pdf))


def pdf_text(pdf: bytes) -> bytes:
    """The PDF's content streams decoded (reportlab writes them ASCII85 + Flate)."""
    decoded = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.DOTALL):
        data = stream.strip()
        if data.endswith(b"~>"):
            data = base64.a85decode(data, adobe=True)
        try:
            decoded.append(zlib.decompress(data))
        except zlib.error:
            decoded.append(data)
    return b"\n".join(decoded)


_IMAGE = re.compile(
    rb"/Height (\d+) [^>]*?/Subtype /Image\s*/Type /XObject /Width (\d+)\s*>>\s*"
    rb"stream\r?\n(.*?)endstream",
    re.DOTALL,
)


def pdf_qr_texts(pdf: bytes) -> list[str]:
    """What a scanner reads from each image of the PDF (reportlab: grey, ASCII85 + Flate),
    enlarged without smoothing as a printer does."""
    found = []
    for height, width, stream in _IMAGE.findall(pdf):
        pixels = zlib.decompress(base64.a85decode(stream.strip(), adobe=True))
        image = Image.frombytes("L", (int(width), int(height)), pixels)
        image = image.resize((image.width * 8, image.height * 8), Image.Resampling.NEAREST)
        found.extend(r.text for r in zxingcpp.read_barcodes(image))
    return found


def csv_rows(batch_, **options) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(batch_csv_rows(batch_, **options)))))


def xlsx_rows(batch_, **options) -> list[tuple]:
    out = io.BytesIO()
    batch_xlsx(batch_, out, **options)
    workbook = load_workbook(io.BytesIO(out.getvalue()), read_only=True)
    return list(workbook["Codes"].iter_rows(values_only=True))


def test_an_online_codes_qr_code_carries_the_code(a):
    code = batch(voucher_promotion(a), quantity=1).codes.get()

    found = scanned(qr_png(code))

    assert qr_payload(code) == code.code
    assert [(r.text, r.format, r.ec_level) for r in found] == [
        (code.code, zxingcpp.BarcodeFormat.QRCode, "M")
    ]


def test_an_offline_codes_qr_code_carries_a_signature_a_till_accepts(a):
    promotion = voucher_promotion(a)
    made = batch(promotion, quantity=2, offline=True)
    code = made.codes.order_by("pk").first()

    payload = qr_payload(code)
    found = scanned(qr_png(code))
    promotion.refresh_from_db()
    check = offline_voucher_check(
        payload=found[0].text, promotions=[promotion.compiled], now=int(time.time())
    )

    assert payload.startswith(f"V1.{code.code}.{made.pk}.")
    assert [(r.text, r.format, r.ec_level) for r in found] == [
        (payload, zxingcpp.BarcodeFormat.QRCode, "M")
    ]
    assert check == {
        "status": VALID,
        "code": code.code,
        "batch_id": made.pk,
        "promotion_id": promotion.pk,
    }
    assert qr_payload(code) == payload  # Ed25519 is deterministic: every export agrees


def test_the_svg_is_an_svg_document(a):
    code = batch(voucher_promotion(a), quantity=1, offline=True).codes.get()

    svg = qr_svg(code)
    root = ElementTree.fromstring(svg)  # noqa: S314 (our own output, not untrusted input)

    assert b"<svg" in svg
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("width").endswith("mm")


def test_the_pdf_puts_twelve_cards_a_page_with_each_code_once(a):
    made = batch(voucher_promotion(a, name="Spring ten percent"), quantity=13, offline=True)
    rows = list(made.codes.order_by("pk"))
    codes = [row.code for row in rows]

    out = io.BytesIO()
    batch_pdf(made, out)
    pdf = out.getvalue()
    text = pdf_text(pdf)

    assert pdf.startswith(b"%PDF")
    assert pdf_pages(pdf) == 2
    assert all(text.count(f"({code})".encode()) == 1 for code in codes)
    assert text.count(b"(Spring ten percent)") == 13
    assert b"(Page 2 of 2)" in text
    assert sorted(pdf_qr_texts(pdf)) == sorted(qr_payload(row) for row in rows)


def test_the_cards_validity_is_the_batchs_window_within_the_promotions_in_brand_time(a):
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    Brand.objects.filter(pk=a.brand.pk).update(time_zone="Europe/Paris")
    promotion = voucher_promotion(
        a,
        starts_at=datetime(2026, 1, 1, 9, 30, tzinfo=paris),
        ends_at=datetime(2030, 1, 1, tzinfo=paris),
    )
    windowed = batch(
        promotion,
        valid_from=datetime(2026, 12, 1, tzinfo=paris),
        valid_until=datetime(2027, 6, 1, tzinfo=paris),
    )
    open_ended = batch(promotion)

    texts = [validity_text(VoucherBatch.objects.get(pk=b.pk)) for b in (windowed, open_ended)]

    # An end is exclusive: midnight on 1 June means the codes work through 31 May.
    assert texts == [
        "Valid 1 Dec 2026 \N{EN DASH} 31 May 2027",
        "Valid 1 Jan 2026 09:30 \N{EN DASH} 31 Dec 2029",
    ]


def test_the_pdfs_queries_do_not_grow_with_the_batch(a):
    promotion = voucher_promotion(a)
    small, large = (batch(promotion, quantity=n, offline=True) for n in (2, 30))

    def queries(made) -> int:
        made = type(made).objects.get(pk=made.pk)
        with CaptureQueriesContext(connection) as captured:
            batch_pdf(made, io.BytesIO())
        return len(captured)

    assert queries(small) == queries(large)


def test_the_pdf_is_refused_for_a_large_pending_or_voided_batch(a, monkeypatch):
    promotion = voucher_promotion(a)
    monkeypatch.setattr(exports, "PDF_MAX_CODES", 3)
    large = batch(promotion, quantity=4)
    pending = voucher_batch_create(promotion=promotion, name="Not generated", quantity=2)
    voided = voucher_batch_void(batch_id=batch(promotion, quantity=2).pk)

    answers = []
    for made in (large, pending, voided):
        out = io.BytesIO()
        with pytest.raises(ApplicationError) as refused:
            batch_pdf(made, out)
        answers.append((refused.value.code, out.getvalue()))

    assert answers == [
        ("batch_too_large_for_pdf", b""),
        ("batch_not_ready", b""),
        ("batch_voided", b""),
    ]


def test_the_csv_lists_every_code_with_its_payload_and_a_masked_email(a):
    promotion = voucher_promotion(a)
    made = batch(promotion, quantity=3, offline=True, customer=a.customer)
    codes = list(made.codes.order_by("pk"))

    masked = csv_rows(made)
    revealed = csv_rows(made, reveal_personal=True)
    promotion.refresh_from_db()
    checks = {
        offline_voucher_check(payload=row[1], promotions=[promotion.compiled], now=0)["status"]
        for row in masked[1:]
    }

    assert masked[0] == list(CSV_HEADER)
    assert masked[1:] == [
        [c.code, qr_payload(c), "available", "0", "1", "c***@example.com"] for c in codes
    ]
    assert [row[5] for row in revealed[1:]] == ["customer-a@example.com"] * 3
    assert checks == {VALID}
    assert next(iter(batch_csv_rows(made))) == ",".join(CSV_HEADER) + "\r\n"


def test_the_csv_of_an_online_batch_carries_the_codes_and_no_email(a):
    made = batch(voucher_promotion(a), quantity=2)

    rows = csv_rows(made)

    assert [row[:2] for row in rows[1:]] == [
        [c, c] for c in made.codes.order_by("pk").values_list("code", flat=True)
    ]
    assert [row[5] for row in rows[1:]] == ["", ""]


def test_the_csv_streams_in_a_fixed_number_of_queries(a):
    promotion = voucher_promotion(a)
    small, large = (batch(promotion, quantity=n, offline=True) for n in (2, 40))

    def queries(made) -> int:
        with CaptureQueriesContext(connection) as captured:
            lines = sum(1 for _ in batch_csv_rows(made))
        assert lines == made.quantity + 1
        return len(captured)

    assert queries(small) == queries(large)


def test_an_email_a_spreadsheet_would_run_as_a_formula_stays_text(a):
    Customer.objects.filter(pk=a.customer.pk).update(email="=HYPERLINK@example.com")
    made = batch(voucher_promotion(a), quantity=1, customer=a.customer)

    csv_email = csv_rows(made, reveal_personal=True)[1][5]
    out = io.BytesIO()
    batch_xlsx(made, out, reveal_personal=True)
    cell = load_workbook(io.BytesIO(out.getvalue()))["Codes"]["F2"]

    assert csv_email == "'=HYPERLINK@example.com"
    assert (cell.value, cell.data_type) == ("=HYPERLINK@example.com", "s")


def test_the_xlsx_reads_back_with_the_same_rows_as_the_csv(a):
    made = batch(voucher_promotion(a), quantity=3, offline=True, customer=a.customer)

    masked = xlsx_rows(made)
    revealed = xlsx_rows(made, reveal_personal=True)

    assert masked[0] == CSV_HEADER
    assert [list(map(str, row)) for row in masked[1:]] == csv_rows(made)[1:]
    assert {row[5] for row in masked[1:]} == {"c***@example.com"}
    assert {row[5] for row in revealed[1:]} == {"customer-a@example.com"}


def test_the_xlsx_is_refused_above_a_worksheets_rows(a, monkeypatch):
    monkeypatch.setattr(exports, "XLSX_MAX_CODES", 1)
    made = batch(voucher_promotion(a), quantity=2)
    out = io.BytesIO()

    with pytest.raises(ApplicationError) as refused:
        batch_xlsx(made, out)

    assert (refused.value.code, out.getvalue()) == ("batch_too_large_for_xlsx", b"")
