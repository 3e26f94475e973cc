"""A real browser, wide and narrow: a customer pays part of a basket from their wallet."""

import tempfile
from decimal import Decimal
from pathlib import Path

import pytest

from brands.tests.factories import BrandFactory
from catalog.tests.factories import ProductFactory
from core.tests.browser import chromium_launch
from customers.services import customer_create
from orders.models import Order
from wallets.models import Wallet
from wallets.services import wallet_credit

PASSWORD = "pass-word-123"
SCREENSHOTS = Path(tempfile.gettempdir())


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1440, 390])
def test_a_customer_pays_part_of_the_basket_from_the_wallet(live_server, width):
    from playwright.sync_api import sync_playwright

    brand = BrandFactory(slug=f"wallet-shop-{width}", name="Wallet Shop")
    ProductFactory(brand=brand, sku="TEA-1", name="Green tea", price=Decimal("12.50"))
    customer = customer_create(brand=brand, email="wallet@example.com", password=PASSWORD)
    wallet_credit(customer=customer, brand=brand, amount=Decimal("20.00"), idempotency_key="w")

    with sync_playwright() as playwright:
        browser = chromium_launch(playwright)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(f"{live_server.url}/basket/")
            page.get_by_role("link", name="Sign in").first.click()
            page.get_by_label("Email (staff: username)").fill("wallet@example.com")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{live_server.url}/basket/")
            page.get_by_label("SKU").fill("TEA-1")
            page.get_by_label("Quantity", exact=True).fill("2")
            page.get_by_role("button", name="Add to basket").click()
            page.wait_for_selector("[data-sku='TEA-1']")

            # When they pay 15.00 of the 25.00 from the wallet
            field = page.get_by_label("Pay from your wallet (20.00 EUR available)")
            field_box = field.bounding_box()
            field.fill("15.00")
            page.get_by_role("button", name="Place order").click()
            page.wait_for_selector("#order-id")
            paid = page.locator("#order-wallet-amount").inner_text()
            due = page.locator("#order-amount-due").inner_text()
            overflow = page.evaluate(
                "document.documentElement.scrollWidth > document.documentElement.clientWidth"
            )
            page.screenshot(path=str(SCREENSHOTS / f"basket_wallet_{width}.png"), full_page=True)
        finally:
            browser.close()

    # Then the field fits the page, and the confirmation shows the split
    assert field_box["x"] >= 0 and field_box["x"] + field_box["width"] <= width
    assert not overflow
    assert (paid, due) == ("15.00 EUR", "10.00 EUR")
    order = Order.objects.get(brand=brand)
    assert (order.wallet_amount, order.amount_due) == (Decimal("15.00"), Decimal("10.00"))
    assert Wallet.objects.get(brand=brand).balance == Decimal("5.00")
