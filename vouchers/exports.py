"""A batch's codes out of the platform: QR codes (PNG, SVG), a printable A4 sheet (PDF), and
lists (CSV, XLSX). Reads only: nothing here changes a code.

What a QR code carries (`qr_payload`):

- a code of an online batch: the code itself, e.g. `SPRING-7KQ4MZ9TX` (QR alphanumeric mode,
  the smallest symbol). The server looks it up when it is scanned or typed.
- a code of an offline batch (`offline=True`): its signed form (`vouchers.codes`)

      V1.<code>.<batch id>.<signature>

  where `signature` is the Ed25519 signature (base64url, unpadded, 86 characters) of
  `voucher:v1:<brand id>:<batch id>:<code>` under the brand's key (`BrandVoucherKey`). A till
  checks it offline against the public key in its bundle (`offline_voucher_check`); the server
  reads the code out of it (`vouchers.selectors.entered_code`). Ed25519 signatures are
  deterministic, so a code's payload is the same in every export.

QR codes are plain QR (never Micro QR, which phones do not read), error correction M (not
boosted, so the level is what is written here), with the standard quiet zone of 4 modules.

Every export reads the codes in primary-key order through `.iterator()`, a chunk at a time,
and loads the brand's signing key once per batch, so the number of queries and the memory of
the rows do not grow with the batch. Checks that can refuse an export run before the first
row, so a streamed response never stops half-way with an error.

- PDF: reportlab keeps every page until it writes the file (a few hundred bytes a code: each QR
  code is a small compressed image) and encoding a QR code takes several milliseconds (segno's
  mask selection), so the sheet is refused above `PDF_MAX_CODES` codes; it is also refused for
  a batch not fully generated (a partial sheet would be mailed as if complete) and for a voided
  batch.
- CSV and XLSX: every code of the batch with its state. The customer's email is masked
  (`core.privacy.mask_email`) unless the caller passes `reveal_personal=True` (the caller asks
  `core.privacy.pii_level`). A text cell that a spreadsheet would run as a formula (`=`, `+`,
  `-`, `@`) is written as text: quoted in the CSV, typed as a string in the XLSX. Codes are
  left as they are (their characters cannot form a formula).
"""

import csv
import io
import math
import zoneinfo
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import BinaryIO

import segno
from django.utils import dateformat, timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from PIL import Image
from reportlab.lib.colors import Color, black
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from core.errors import ApplicationError
from core.privacy import mask_email
from vouchers.codes import signed_payload
from vouchers.keys import brand_key_get_or_create, brand_private_key
from vouchers.models import VoucherBatch, VoucherCode

QR_ERROR = "m"
QUIET_ZONE = 4  # modules, the QR standard's minimum
PNG_SCALE = 10  # pixels per module: 0.85 mm a module printed at 300 dpi
PNG_DPI = 300
SVG_MODULE_MM = 0.5  # natural size: a signed code (about 55 modules) is under 30 mm wide

ITERATOR_CHUNK = 2_000
PDF_MAX_CODES = 1_000
# A workbook is written whole before it is sent (about 4 s per 100,000 rows here); a larger
# batch is exported as CSV, which streams.
XLSX_MAX_CODES = 100_000

CSV_HEADER = ("code", "qr_payload", "status", "uses", "max_uses", "customer_email")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# QR payloads and symbols


def _payload_maker(batch: VoucherBatch) -> Callable[[str], str]:
    """`code text -> payload` for the batch's codes, with the brand's key loaded once."""
    if not batch.offline:
        return str
    private_key = brand_private_key(brand_key_get_or_create(brand_id=batch.brand_id))
    brand_id, batch_id = batch.brand_id, batch.pk

    def signed(code: str) -> str:
        return signed_payload(
            private_key=private_key, brand_id=brand_id, batch_id=batch_id, code=code
        )

    return signed


def qr_payload(code: VoucherCode) -> str:
    """The text the code's QR code carries (see the module docstring)."""
    return _payload_maker(code.batch)(code.code)


def _symbol(payload: str) -> segno.QRCode:
    return segno.make_qr(payload, error=QR_ERROR, boost_error=False)


def qr_png(code: VoucherCode) -> bytes:
    """The code's QR code as a black-on-white PNG of 10 pixels a module, marked 300 dpi."""
    out = io.BytesIO()
    _symbol(qr_payload(code)).save(out, kind="png", scale=PNG_SCALE, border=QUIET_ZONE, dpi=PNG_DPI)
    return out.getvalue()


def qr_svg(code: VoucherCode) -> bytes:
    """The code's QR code as an SVG document (UTF-8), 0.5 mm a module at its natural size."""
    out = io.BytesIO()
    _symbol(qr_payload(code)).save(
        out, kind="svg", scale=SVG_MODULE_MM, unit="mm", border=QUIET_ZONE
    )
    return out.getvalue()


# The printable sheet

PAGE_WIDTH, PAGE_HEIGHT = A4
COLUMNS, ROWS = 3, 4
CARDS_PER_PAGE = COLUMNS * ROWS
MARGIN = 10 * mm
FOOTER = 8 * mm
CARD_WIDTH = (PAGE_WIDTH - 2 * MARGIN) / COLUMNS
CARD_HEIGHT = (PAGE_HEIGHT - 2 * MARGIN - FOOTER) / ROWS
CARD_PADDING = 4 * mm
QR_SIDE = 38 * mm  # quiet zone included
TEXT_WIDTH = CARD_WIDTH - 2 * CARD_PADDING
CODE_FONT, CODE_MAX_SIZE = "Courier-Bold", 12
NAME_FONT, NAME_SIZE = "Helvetica-Bold", 9
NOTE_FONT, NOTE_SIZE = "Helvetica", 7.5
CUT_LINE = Color(0.7, 0.7, 0.7)


def _refuse(message: str, code: str) -> ApplicationError:
    return ApplicationError(message, code=code)


def _local(moment: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    return timezone.localtime(moment, zone)


def _day(moment: datetime) -> str:
    return dateformat.format(moment, "j M Y")


def _day_and_time(moment: datetime, *, end: bool) -> str:
    """A start as its day (and time, when not midnight); an end, which is exclusive, as the
    last day it includes when it falls at midnight."""
    if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        return _day(moment - timedelta(days=1) if end else moment)
    return f"{_day(moment)} {dateformat.format(moment, 'H:i')}"


def validity_text(batch: VoucherBatch) -> str:
    """When the batch's codes work, in the brand's time zone: the batch's window within the
    promotion's dates."""
    promotion = batch.promotion
    starts = [d for d in (batch.valid_from, promotion.starts_at) if d is not None]
    ends = [d for d in (batch.valid_until, promotion.ends_at) if d is not None]
    zone = zoneinfo.ZoneInfo(batch.brand.time_zone or "UTC")
    start = _day_and_time(_local(max(starts), zone), end=False) if starts else None
    end = _day_and_time(_local(min(ends), zone), end=True) if ends else None
    if start and end:
        return f"Valid {start} \N{EN DASH} {end}"
    if start:
        return f"Valid from {start}"
    if end:
        return f"Valid until {end}"
    return "No expiry date"


def _lines(text: str, font: str, size: float, most: int, width: float = TEXT_WIDTH) -> list[str]:
    """`text` wrapped to `width`, in at most `most` lines (the last cut short with "…")."""
    lines = simpleSplit(text, font, size, width) or [""]
    if len(lines) <= most:
        return lines
    kept, last = lines[: most - 1], " ".join(lines[most - 1 :])
    while last and stringWidth(last + "…", font, size) > width:
        last = last[:-1]
    return [*kept, last.rstrip() + "…"]


def _draw_qr(canvas: Canvas, payload: str, x: float, y: float) -> None:
    """The QR code, bottom-left at (x, y), QR_SIDE wide with its quiet zone: a greyscale image
    of one pixel a module, scaled without interpolation (the PDF default), so each module
    prints as a sharp square. About 500 bytes a code, where squares drawn as paths take
    several kilobytes of page content that reportlab keeps uncompressed until it saves."""
    rows = _symbol(payload).matrix_iter(border=QUIET_ZONE)
    pixels = bytes(0 if dark else 255 for row in rows for dark in row)
    side = math.isqrt(len(pixels))
    image = Image.frombytes("L", (side, side), pixels)
    canvas.drawImage(ImageReader(image), x, y, QR_SIDE, QR_SIDE)


def _draw_card(
    canvas: Canvas, *, slot: int, code: str, payload: str, name: list[str], validity: list[str]
) -> None:
    column, row = slot % COLUMNS, slot // COLUMNS
    left = MARGIN + column * CARD_WIDTH
    top = PAGE_HEIGHT - MARGIN - row * CARD_HEIGHT
    canvas.setStrokeColor(CUT_LINE)
    canvas.setLineWidth(0.3)
    canvas.setDash(2, 2)
    canvas.rect(left, top - CARD_HEIGHT, CARD_WIDTH, CARD_HEIGHT, stroke=1, fill=0)
    canvas.setDash()
    _draw_qr(canvas, payload, left + (CARD_WIDTH - QR_SIDE) / 2, top - CARD_PADDING - QR_SIDE)

    centre = left + CARD_WIDTH / 2
    canvas.setFillColor(black)
    size = min(CODE_MAX_SIZE, CODE_MAX_SIZE * TEXT_WIDTH / stringWidth(code, CODE_FONT, 12))
    baseline = top - CARD_PADDING - QR_SIDE - size
    canvas.setFont(CODE_FONT, size)
    canvas.drawCentredString(centre, baseline, code)
    baseline -= 2 * mm
    canvas.setFont(NAME_FONT, NAME_SIZE)
    for line in name:
        baseline -= NAME_SIZE * 1.2
        canvas.drawCentredString(centre, baseline, line)
    baseline -= 1 * mm
    canvas.setFont(NOTE_FONT, NOTE_SIZE)
    for line in validity:
        baseline -= NOTE_SIZE * 1.2
        canvas.drawCentredString(centre, baseline, line)


def _draw_footer(canvas: Canvas, *, text: str, page: int, pages: int) -> None:
    canvas.setFillColor(black)
    canvas.setFont(NOTE_FONT, NOTE_SIZE)
    canvas.drawString(MARGIN, MARGIN, text)
    canvas.drawRightString(PAGE_WIDTH - MARGIN, MARGIN, f"Page {page} of {pages}")


def batch_pdf(batch: VoucherBatch, out: BinaryIO) -> None:
    """Write an A4 PDF of the batch's codes to `out` (a binary file): 12 cards a page, each
    with the QR code, the code, the promotion's name and the validity, dashed lines to cut
    along. Refused (before anything is written) for a batch above `PDF_MAX_CODES` codes, not
    fully generated, or voided."""
    if batch.quantity > PDF_MAX_CODES:
        raise _refuse(
            f"A printable sheet holds at most {PDF_MAX_CODES:,} codes; this batch has "
            f"{batch.quantity:,}. Export it as CSV or XLSX instead.",
            "batch_too_large_for_pdf",
        )
    if batch.voided_at is not None:
        raise _refuse("This batch is voided: its codes cannot be used.", "batch_voided")
    ready = batch.status == VoucherBatch.Status.READY
    count = VoucherCode.objects.filter(batch=batch).count() if ready else 0
    if count == 0:
        raise _refuse(
            "This batch's codes are not all generated yet: print it when it is ready.",
            "batch_not_ready",
        )
    payload_of = _payload_maker(batch)
    name = _lines(batch.promotion.name, NAME_FONT, NAME_SIZE, 2)
    validity = _lines(validity_text(batch), NOTE_FONT, NOTE_SIZE, 2)
    footer = _lines(f"{batch.brand.name} · {batch.name}", NOTE_FONT, NOTE_SIZE, 1, PAGE_WIDTH / 2)[
        0
    ]
    pages = math.ceil(count / CARDS_PER_PAGE)

    canvas = Canvas(out, pagesize=A4, pageCompression=1)
    canvas.setTitle(f"{batch.name}: voucher codes")
    canvas.setAuthor(batch.brand.name)
    codes = (
        VoucherCode.objects.filter(batch=batch)
        .order_by("pk")
        .values_list("code", flat=True)
        .iterator(chunk_size=ITERATOR_CHUNK)
    )
    page = 0
    for index, code in enumerate(codes):
        slot = index % CARDS_PER_PAGE
        if slot == 0:
            if page:
                _draw_footer(canvas, text=footer, page=page, pages=pages)
                canvas.showPage()
            page += 1
        _draw_card(
            canvas, slot=slot, code=code, payload=payload_of(code), name=name, validity=validity
        )
    _draw_footer(canvas, text=footer, page=page, pages=pages)
    canvas.showPage()
    canvas.save()


# Lists


def _text_cell(value: str | None) -> str:
    """A text a spreadsheet would run as a formula, quoted so that it shows as text."""
    if value and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value or ""


def _rows(batch: VoucherBatch, reveal_personal: bool) -> Iterator[tuple]:
    """`(code, payload, status, uses, max_uses, email)` for every code of the batch, by pk.
    The key is loaded here, at the call, not at the first row."""
    payload_of = _payload_maker(batch)
    email_of = (lambda email: email) if reveal_personal else mask_email
    codes = (
        VoucherCode.objects.filter(batch=batch)
        .order_by("pk")
        .values_list("code", "status", "uses", "max_uses", "customer__email")
        .iterator(chunk_size=ITERATOR_CHUNK)
    )

    def rows() -> Iterator[tuple]:
        for code, status, uses, max_uses, email in codes:
            yield code, payload_of(code), status, uses, max_uses, email_of(email)

    return rows()


class _Line:
    """A file that hands back what is written to it: `csv.writer` formats one line at a time."""

    def write(self, value: str) -> str:
        return value


def batch_csv_rows(batch: VoucherBatch, reveal_personal: bool = False) -> Iterator[str]:
    """The batch's codes as CSV lines (header first, `\\r\\n` line ends), for a
    `StreamingHttpResponse`. The customer's email is masked unless `reveal_personal`."""
    rows = _rows(batch, reveal_personal)
    writer = csv.writer(_Line())

    def lines() -> Iterator[str]:
        yield writer.writerow(CSV_HEADER)
        for code, payload, status, uses, max_uses, email in rows:
            yield writer.writerow((code, payload, status, uses, max_uses, _text_cell(email)))

    return lines()


def batch_xlsx(batch: VoucherBatch, out: BinaryIO, reveal_personal: bool = False) -> None:
    """Write the batch's codes as an XLSX workbook to `out` (openpyxl's write-only mode: rows
    go to a temporary file, not memory). The customer's email is masked unless
    `reveal_personal`. Refused above `XLSX_MAX_CODES` codes (the CSV streams any size)."""
    if batch.quantity > XLSX_MAX_CODES:
        raise _refuse(
            f"An Excel export holds at most {XLSX_MAX_CODES:,} codes; this batch has "
            f"{batch.quantity:,}. Export it as CSV instead.",
            "batch_too_large_for_xlsx",
        )
    rows = _rows(batch, reveal_personal)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title="Codes")
    for index, width in enumerate((24, 60 if batch.offline else 24, 12, 8, 10, 32), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"

    def text(value: str | None) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=value or None)
        cell.data_type = "s"  # never a formula, whatever the text starts with
        return cell

    bold = Font(bold=True)
    header = []
    for title in CSV_HEADER:
        cell = text(title)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for code, payload, status, uses, max_uses, email in rows:
        sheet.append([text(code), text(payload), text(status), uses, max_uses, text(email)])
    workbook.save(out)
