"""A real browser: a support agent debits a wallet from the admin's adjust form, then sees the
new balance and the ledger row on the wallet's page."""

import tempfile
from decimal import Decimal
from pathlib import Path

import pytest

from brands.roles import SUPPORT_AGENT
from brands.tests.factories import BrandFactory
from core.tests.api_world import staff_user
from core.tests.browser import chromium_launch
from customers.services import customer_create
from wallets.models import Wallet, WalletTransaction
from wallets.services import wallet_credit

# Kept after the run (in /tmp) so a person can look at what the browser saw.
SCREENSHOT = str(Path(tempfile.gettempdir()) / "wallet_adjusted.png")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_support_agent_adjusts_a_wallet_in_the_admin(live_server):
    from playwright.sync_api import sync_playwright

    # Given a wallet of 30.00 and a support agent of its brand
    brand = BrandFactory(slug="burger-w", name="Burger W")
    customer = customer_create(brand=brand, email="wallet@example.com")
    wallet_credit(customer=customer, brand=brand, amount=Decimal("30.00"), idempotency_key="w")
    wallet = Wallet.objects.get()
    staff_user("agent", role=SUPPORT_AGENT, brands=[brand])

    with sync_playwright() as playwright:
        browser = chromium_launch(playwright)
        try:
            page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
            adjust = f"/admin/wallets/wallet/{wallet.pk}/adjust/"
            page.goto(f"{live_server.url}/admin/login/?next={adjust}")
            page.fill("input[name=username]", "agent")
            page.fill("input[name=password]", "pass-word-123")
            page.click("input[type=submit]")

            # When they debit 7.50 with a reason
            page.wait_for_selector("input[name=amount]")
            limit_note = page.locator("p.help").first.inner_text()
            page.check("input[name=direction][value=debit]")
            page.fill("input[name=amount]", "7.50")
            page.fill("input[name=reason]", "Refund paid in cash")
            page.click("input[type=submit]")
            message = page.locator("ul.messagelist").inner_text()
            content = page.locator("#content").inner_text()
            page.screenshot(path=SCREENSHOT, full_page=True)
        finally:
            browser.close()

    # Then they are told in a sentence, and the wallet page lists the row
    assert "at most 50.00 EUR at a time" in limit_note
    assert "Wallet adjusted by -7.50 EUR; the balance is now 22.50 EUR." in message
    assert "Refund paid in cash" in content
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("22.50")
    assert WalletTransaction.objects.filter(kind="adjustment").count() == 1
