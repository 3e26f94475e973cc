"""A real browser: a marketing manager creates a voucher batch in the admin at a desktop width
(the promotion picked by searching its name, a refusal in a plain sentence first) and sees the
batch's page with its codes counted; at a phone width, a till's question is answered with the
code lookup, and a batch's codes are sent to a customer label picked by search, with no sideways
scrolling. No page breaks the content security policy."""

import tempfile
from pathlib import Path

import pytest

from brands.roles import MARKETING_MANAGER
from core.tests.api_world import build_tenant, staff_user
from core.tests.browser import admin_page, chromium_launch
from customers.services import customer_create
from labels.models import CustomerLabel, Label
from orders.tests.factories import place_order
from vouchers.models import VoucherBatch, VoucherCode
from vouchers.tests.factories import batch, voucher_promotion

SCREENSHOTS = Path(tempfile.gettempdir())
PASSWORD = "pass-word-123"
BATCHES = "/admin/vouchers/voucherbatch/"
CODES = "/admin/vouchers/vouchercode/"
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def signed_in(browser, live_server, width: int, next_path: str):
    return admin_page(
        browser,
        live_server,
        width=width,
        next_path=next_path,
        username="marketer",
        password=PASSWORD,
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_marketer_creates_a_batch_and_sees_its_codes_counted(live_server):
    from playwright.sync_api import sync_playwright

    # Given a live voucher promotion of the marketer's brand, and another brand's
    a, b = build_tenant("a"), build_tenant("b")
    promotion = voucher_promotion(a, name="Ten off spring")
    voucher_promotion(b, name="Ten off elsewhere")
    staff_user("marketer", role=MARKETING_MANAGER, brands=[a.brand])

    with sync_playwright() as playwright:
        browser = chromium_launch(playwright)
        try:
            page, watch = signed_in(browser, live_server, 1440, f"{BATCHES}add/")
            page.wait_for_selector("input[name=quantity]")
            types = {
                name: page.locator(f"[name={name}]").evaluate("e => e.type")
                for name in ("quantity", "length", "uses_per_code", "valid_from", "offline")
            }

            # When they pick the promotion by typing part of its name
            page.click(".field-promotion .select2-selection")
            page.fill(".select2-search__field", "Ten off")
            page.wait_for_selector(".select2-results__option:has-text('Ten off spring')")
            offered = page.locator(".select2-results__option").all_inner_texts()
            page.click(".select2-results__option:has-text('Ten off spring')")

            # And ask for too many codes of 6 characters
            page.fill("input[name=name]", "Spring mailing")
            page.fill("input[name=quantity]", "100000")
            page.fill("input[name=prefix]", "spring-")
            page.fill("input[name=length]", "6")
            page.fill("input[name=valid_from]", "2026-05-01T09:00")
            page.fill("input[name=valid_until]", "2026-06-01T00:00")
            page.click("input[name=_save]")
            page.wait_for_selector(".errorlist")
            refused = page.locator(".field-length .errorlist").inner_text()
            refused_overflow = page.evaluate(OVERFLOW)
            page.screenshot(path=str(SCREENSHOTS / "voucher_batch_add_1440.png"), full_page=True)

            # And then settle for 20 codes of 8 characters
            page.fill("input[name=quantity]", "20")
            page.fill("input[name=length]", "8")
            page.click("input[name=_save]")
            page.wait_for_selector("ul.messagelist")
            message = page.locator("ul.messagelist").inner_text()
            progress = page.locator(".field-progress_view .readonly").inner_text()
            counts = page.locator("table.voucher-counts").inner_text()
            downloads = page.locator(".voucher-downloads a").all_inner_texts()
            void_button = page.locator(".object-tools a.voucher-void-link").inner_text()
            overflow = page.evaluate(OVERFLOW)
            page.screenshot(path=str(SCREENSHOTS / "voucher_batch_1440.png"), full_page=True)
        finally:
            browser.close()

    # Then the fields were real inputs, the refusal a plain sentence on its field, and the
    # batch was created with its codes, counted on its page
    assert types == {
        "quantity": "number",
        "length": "number",
        "uses_per_code": "number",
        "valid_from": "datetime-local",
        "offline": "checkbox",
    }
    assert any("Ten off spring" in option for option in offered)
    assert not any("elsewhere" in option for option in offered)
    assert refused == "Too short for this many codes: add characters."
    made = VoucherBatch.objects.get()
    assert (made.promotion, made.quantity, made.prefix, made.status) == (
        promotion,
        20,
        "SPRING-",
        "ready",
    )
    assert made.codes.count() == 20
    assert made.valid_from.isoformat() == "2026-05-01T09:00:00+00:00"
    assert "The batch Spring mailing was created; its 20 codes are being generated." in message
    assert "20 of 20 codes (100%)." in progress
    assert "Available\t20" in counts and "Redeemed\t0" in counts
    assert downloads == [
        "The codes as CSV",
        "The codes as an Excel workbook",
        "A sheet to print (PDF, QR codes)",
    ]
    assert void_button.lower() == "void this batch"
    assert refused_overflow <= 0 and overflow <= 0
    assert watch.problems == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_code_lookup_on_a_phone_finds_a_code_as_typed_without_sideways_scrolling(
    live_server,
):
    from playwright.sync_api import sync_playwright

    # Given a batch of the marketer's brand bound to a customer, whose first code an order holds
    a = build_tenant("a")
    made = batch(voucher_promotion(a), quantity=3, customer=a.customer, prefix="SPRING-")
    code = made.codes.order_by("pk").first()
    order = place_order(
        brand=a.brand,
        products_and_quantities=[(a.product, 1)],
        store=a.store,
        customer=a.customer,
        codes=[code.code],
    )
    # And a batch bound to no one, and a customer label of two of the brand's customers
    mailing = batch(voucher_promotion(a, name="Mailing ten"), quantity=4, name="Mailing")
    readers = Label.objects.create(name="Newsletter", type=Label.Type.CUSTOMER, brand=a.brand)
    for i in range(2):
        reader = customer_create(brand=a.brand, email=f"reader-{i}@example.com")
        CustomerLabel.objects.create(label=readers, customer=reader)
    staff_user("marketer", role=MARKETING_MANAGER, brands=[a.brand])

    with sync_playwright() as playwright:
        browser = chromium_launch(playwright)
        try:
            page, watch = signed_in(browser, live_server, 390, CODES)
            page.wait_for_selector("#searchbar")
            list_overflow = page.evaluate(OVERFLOW)

            # When they type the code as the customer reads it out, in lower case
            page.fill("#searchbar", f" {code.code.lower()} ")
            page.press("#searchbar", "Enter")
            page.wait_for_selector("#result_list")
            rows = page.locator("#result_list tbody tr").all_inner_texts()
            labels = page.locator("#result_list tbody td").evaluate_all(
                "cells => cells.map(c => getComputedStyle(c, '::before').content)"
            )
            found_overflow = page.evaluate(OVERFLOW)
            page.screenshot(path=str(SCREENSHOTS / "voucher_lookup_390.png"), full_page=True)

            # And open it
            page.click(f"#result_list a:has-text('{code.code}')")
            page.wait_for_selector("img.voucher-qr")
            qr_width = page.locator("img.voucher-qr").evaluate("img => img.naturalWidth")
            details = page.locator("#content-main").inner_text()
            redemption = page.locator("#redemptions-group tr.has_original").inner_text()
            code_overflow = page.evaluate(OVERFLOW)
            page.screenshot(path=str(SCREENSHOTS / "voucher_code_390.png"), full_page=True)

            # And the batch's page fits the phone too
            page.goto(f"{live_server.url}{BATCHES}{made.pk}/change/")
            page.wait_for_selector("table.voucher-counts")
            batch_overflow = page.evaluate(OVERFLOW)
            page.screenshot(path=str(SCREENSHOTS / "voucher_batch_390.png"), full_page=True)

            # And the other batch's codes are sent to the newsletter's readers, the label
            # picked by typing part of its name
            page.goto(f"{live_server.url}{BATCHES}{mailing.pk}/change/")
            page.click(".object-tools a.voucher-distribute-link")
            page.wait_for_selector(".field-label .select2-selection")
            left = page.locator(".voucher-unassigned").inner_text()
            page.click(".field-label .select2-selection")
            page.fill(".select2-search__field", "news")
            page.wait_for_selector(".select2-results__option:has-text('Newsletter')")
            picker_overflow = page.evaluate(OVERFLOW)
            page.screenshot(path=str(SCREENSHOTS / "voucher_distribute_390.png"), full_page=True)
            page.click(".select2-results__option:has-text('Newsletter')")
            distribute_overflow = page.evaluate(OVERFLOW)
            page.click("input[type=submit][value='Send the codes']")
            page.wait_for_selector("ul.messagelist")
            sent = page.locator("ul.messagelist").inner_text()
            assigned = page.locator(".field-assigned_view .readonly").inner_text()
            sent_overflow = page.evaluate(OVERFLOW)
        finally:
            browser.close()

    # Then the one code was found, its customer's email masked for this role, its QR image
    # served, and no page scrolled sideways
    assert len(rows) == 1 and code.code in rows[0]
    assert "c***@example.com" in rows[0] and "customer-a@example.com" not in rows[0]
    # On a phone each result is a card of labelled lines, not a table to scroll
    assert '"Status: "' in labels and '"Email: "' in labels
    assert qr_width > 0
    assert "Reserved by an order" in details and "1 of 1, 0 final" in details
    assert f"Order {order.pk}" in redemption and "brand-a/store-a" in redemption
    assert (list_overflow, found_overflow, code_overflow, batch_overflow) == (0, 0, 0, 0)
    # And the distribution page said how many codes were left, fitted the phone, and each
    # reader got one code
    assert "4 of 4 codes left to send" in left
    assert (picker_overflow, distribute_overflow, sent_overflow) == (0, 0, 0)
    assert "The codes are being sent to the customers of Newsletter." in sent
    assert assigned == "2 codes"
    assert VoucherCode.objects.filter(batch=mailing, assigned_at__isnull=False).count() == 2
    assert watch.problems == []
