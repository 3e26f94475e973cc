"""The preview panel of the promotion change form, in a real headless Chromium: the unsaved form
is compiled through the preview API, the basket is priced again in the browser by engine.js, and
both engines must agree."""

import os
import tempfile
import zoneinfo
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from brands.roles import MARKETING_MANAGER, STORE_MANAGER
from brands.tests.factories import BrandFactory, StaffUserFactory, StoreFactory
from catalog.tests.factories import ProductFactory
from core.tests.browser import chromium_launch
from promotions.models import Promotion
from promotions.services.lifecycle import promotion_save
from promotions.tests.factories import PromotionFactory

# Kept after the run (in /tmp) so a person can look at what the browser saw.
SCREENSHOT = str(Path(tempfile.gettempdir()) / "admin_promotion_preview.png")
SCREENSHOT_PAGE = str(Path(tempfile.gettempdir()) / "admin_promotion_preview_page.png")
SCREENSHOT_ISSUE = str(Path(tempfile.gettempdir()) / "admin_promotion_preview_issue.png")
TIMEOUT_MS = 15_000
AGREE = "Browser engine (engine.js v1.2.0) and server calculator agree."


@pytest.fixture
def shop():
    brand = BrandFactory(slug="burger-a", name="Burger A", currency="EUR")
    StoreFactory(brand=brand, code="burger-a-central", name="Central")
    products = {
        "cola": ProductFactory(brand=brand, name="Cola", sku="COLA", price=Decimal("2.99")),
        "fries": ProductFactory(brand=brand, name="Fries", sku="FRIES", price=Decimal("3.50")),
        "burger": ProductFactory(brand=brand, name="Burger", sku="BURGER", price=Decimal("8.90")),
    }
    # Another brand's product must never be offered in the sample basket.
    ProductFactory(brand=BrandFactory(slug="fashion-b"), name="Scarf", sku="SCARF")
    staff = StaffUserFactory(username="marketing-a")
    staff.groups.add(Group.objects.get(name=MARKETING_MANAGER))
    brand.staff.add(staff)
    return brand, products


def _log_in(page, base_url: str, next_path: str) -> None:
    page.goto(f"{base_url}/admin/login/?next={next_path}")
    page.fill("input[name=username]", "marketing-a")
    page.fill("input[name=password]", "pass-word-123")
    page.click("input[type=submit]")
    page.wait_for_selector("#promotion-preview")


def _launch(playwright):
    browser = chromium_launch(playwright)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return browser, page, errors


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_unsaved_bogo_is_previewed_and_both_engines_agree(live_server, shop):
    from playwright.sync_api import expect, sync_playwright

    brand, products = shop
    cola = products["cola"]

    with sync_playwright() as playwright:
        browser, page, errors = _launch(playwright)
        try:
            # Given a marketing manager of the brand on the add page of a promotion
            _log_in(page, live_server.url, "/admin/promotions/promotion/add/")
            page.select_option("#id_brand", str(brand.pk))
            expect(page.locator("#preview-products-status")).to_have_text(
                "3 product(s) of Burger A."
            )
            offered = page.get_by_label("Product of line 1").locator("option").all_inner_texts()

            # When they fill a bogo "buy 2 get 1 free" on the cola, without saving
            page.fill("#id_name", "Cola 3 for 2")
            page.select_option("#id_type", "bogo")
            page.fill("#id_params", '{"buy_quantity": 2, "get_quantity": 1, "percent": "100"}')
            page.select_option("#id_products_from", str(cola.pk))
            page.click("#id_products_add")
            # And make the sample basket 3 colas
            page.get_by_role("button", name="Remove line 3").click()
            page.get_by_role("button", name="Remove line 2").click()
            page.get_by_label("Product of line 1").select_option(str(cola.pk))
            page.get_by_label("Quantity of line 1").fill("3")
            page.get_by_role("button", name="Preview", exact=True).click()

            # Then the panel shows the discount and total priced by both engines, who agree
            results = page.locator("#preview-results")
            expect(page.locator("#preview-check")).to_have_text(AGREE)
            expect(page.locator("#preview-discount-total")).to_have_text("€2.99")
            expect(page.locator("#preview-total")).to_have_text("€5.98")
            expect(page.locator("#preview-subtotal")).to_have_text("€8.97")
            expect(page.locator(".preview-line-discount")).to_have_text(["€2.99"])
            expect(page.locator("#preview-applied")).to_contain_text("Cola 3 for 2: €2.99 off")
            expect(page.locator("#preview-issues")).to_have_text("No validation issues.")
            assert results.get_attribute("aria-live") == "polite"
            assert results.get_attribute("aria-busy") == "false"
            page.locator("#promotion-preview").screenshot(path=SCREENSHOT)
            page.screenshot(path=SCREENSHOT_PAGE, full_page=True)

            # When the percent becomes invalid and Enter is pressed in the basket
            page.fill("#id_params", '{"buy_quantity": 2, "get_quantity": 1, "percent": "0"}')
            page.get_by_label("Quantity of line 1").press("Enter")

            # Then the issue is shown on its field, nothing is discounted, and nothing was saved
            issues = page.locator("#preview-issues")
            expect(issues).to_contain_text("Validation issues (1)")
            expect(issues).to_contain_text("params.percent")
            expect(issues).to_contain_text("A percentage is above 0 and at most 100.")
            expect(issues).to_contain_text("percent_out_of_range")
            expect(page.locator("#preview-discount-total")).to_have_text("€0.00")
            expect(page.locator("#preview-check")).to_have_text(AGREE)
            # (No ORM call here: inside Playwright's block it would open a second connection.)
            assert page.url.endswith("/admin/promotions/promotion/add/")
            page.locator("#promotion-preview").screenshot(path=SCREENSHOT_ISSUE)

            # When the params are fixed, without pressing Preview
            page.fill("#id_params", '{"buy_quantity": 2, "get_quantity": 1, "percent": "100"}')

            # Then the panel updates by itself
            expect(page.locator("#preview-issues")).to_have_text("No validation issues.")
            expect(page.locator("#preview-discount-total")).to_have_text("€2.99")

            # When the promotion is saved with the normal button
            page.click("input[name=_save]")
            page.wait_for_selector("#result_list")
        finally:
            browser.close()

    # Then only the brand's products were offered, the page had no script error, and one
    # promotion was saved, by the save button, from the promotion form alone
    assert offered == [
        "Burger (BURGER) · €8.90",
        "Cola (COLA) · €2.99",
        "Fries (FRIES) · €3.50",
    ]
    assert errors == []
    promotion = Promotion.objects.get()
    assert promotion.name == "Cola 3 for 2"
    assert promotion.type == Promotion.Type.BOGO
    assert list(promotion.products.values_list("pk", flat=True)) == [cola.pk]
    assert promotion.compiled["params"]["percent_bp"] == 10_000
    assert os.path.getsize(SCREENSHOT) > 0


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_saved_promotion_is_previewed_with_its_unsaved_changes(live_server, shop):
    from playwright.sync_api import expect, sync_playwright

    # Given a saved 10% promotion on the fries
    brand, products = shop
    fries = products["fries"]
    promotion = PromotionFactory.build(brand=brand, name="Fries 10%", all_products=False)
    promotion = promotion_save(promotion=promotion, relations={"products": [fries.pk]}, actor=None)
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    tomorrow = (timezone.now() + timedelta(days=1)).astimezone(paris).date().isoformat()

    with sync_playwright() as playwright:
        browser, page, errors = _launch(playwright)
        try:
            # When its change page is opened (the brand is read only there)
            _log_in(page, live_server.url, f"/admin/promotions/promotion/{promotion.pk}/change/")
            expect(page.locator("#preview-products-status")).to_have_text(
                "3 product(s) of Burger A."
            )
            # Then the default basket starts with the promotion's products and is priced at once
            first = page.get_by_label("Product of line 1")
            expect(first).to_have_value(str(fries.pk))
            expect(page.locator(".preview-line-discount").first).to_have_text("€0.35")

            # When the percent is changed to 50 in the form, unsaved, a quantity is typed, and
            # the sample is priced in a store tomorrow at 12:30 of its wall clock
            page.fill("#id_params", '{"percent": "50"}')
            page.get_by_label("Quantity of line 1").fill("2")
            panel = page.locator("#promotion-preview")
            panel.get_by_label("Store", exact=True).select_option("burger-a-central")
            panel.get_by_label("Date and time", exact=True).fill(f"{tomorrow}T12:30")
            page.get_by_role("button", name="Preview", exact=True).click()

            # Then the preview uses the unsaved percent (50% of 2 x 3.50), at that local time
            expect(page.locator(".preview-line-discount").first).to_have_text("€3.50")
            expect(page.locator("#preview-check")).to_have_text(AGREE)
            expect(page.locator("#preview-results")).to_contain_text(
                f"Priced at store-local time {tomorrow}T12:30, channel web."
            )
            expect(page.locator("#preview-at-help")).to_have_text(
                "Store-local time (Europe/Paris). Empty: now."
            )

            # When the server's answer differs from engine.js by one cent (a calculator that
            # drifted: the real response is altered on its way to the page)
            def drift(route):
                response = route.fetch()
                body = response.json()
                body["result"]["discount_total"] += 1
                route.fulfill(response=response, json=body)

            page.route("**/api/v1/promotions/preview/", drift)
            page.get_by_role("button", name="Preview", exact=True).click()

            # Then the panel says so, as an alert
            check = page.locator("#preview-check")
            expect(check).to_contain_text("Mismatch: the browser engine (engine.js v1.2.0)")
            expect(check).to_have_attribute("role", "alert")
        finally:
            browser.close()

    assert errors == []
    promotion.refresh_from_db()
    assert promotion.params == {"percent": "10"}


@pytest.mark.django_db
def test_staff_who_may_only_view_a_promotion_get_no_preview_panel(client, shop):
    # Given a store manager of the brand, who may view promotions but not change them
    brand, _ = shop
    promotion = promotion_save(
        promotion=PromotionFactory.build(brand=brand, name="Weekday 10%"), relations={}, actor=None
    )
    viewer = StaffUserFactory(username="store-a")
    viewer.groups.add(Group.objects.get(name=STORE_MANAGER))
    brand.staff.add(viewer)
    client.force_login(viewer)

    # When they open the promotion
    response = client.get(f"/admin/promotions/promotion/{promotion.pk}/change/")

    # Then it is shown without the preview panel
    assert response.status_code == 200
    assert "Weekday 10%" in response.content.decode()
    assert b'id="promotion-preview"' not in response.content
