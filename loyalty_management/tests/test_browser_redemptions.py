"""A real browser: a brand admin rejects waiting redemption requests from the approval queue,
giving the reason on the intermediate page, at a desktop and a phone width."""

import tempfile
from pathlib import Path

import pytest

from brands.roles import BRAND_ADMIN
from brands.tests.factories import BrandFactory
from core.tests.api_world import staff_user
from core.tests.browser import chromium_launch
from customers.tests.factories import CustomerFactory
from loyalty_management.models import LoyaltyAccount, RedemptionRequest
from loyalty_management.services.catalogue import redemption_item_save
from loyalty_management.services.ledger import account_get_or_create, ledger_credit
from loyalty_management.services.redemptions import redemption_request
from loyalty_management.tests.factories import LoyaltyProgramFactory

SCREENSHOTS = Path(tempfile.gettempdir())
QUEUE = "/admin/loyalty_management/redemptionrequest/?status__exact=requested"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1440, 390])
def test_a_brand_admin_rejects_requests_with_a_reason(live_server, width):
    from playwright.sync_api import sync_playwright

    # Given two waiting requests for a physical item
    brand = BrandFactory(slug="burger-a", name="Burger A")
    program = LoyaltyProgramFactory(brand=brand)
    account = account_get_or_create(customer=CustomerFactory(), program=program)
    ledger_credit(account_id=account.pk, kind="bonus", points=500, idempotency_key="fund")
    item = redemption_item_save(
        brand=brand,
        data={"name": "Beach towel", "points_cost": 200, "kind": "physical", "stock": 5},
    )
    type(item).objects.filter(pk=item.pk).update(auto_approve=False)
    for _ in range(2):
        redemption_request(customer=account.customer, brand=brand, item_id=item.pk)
    staff_user("boss", role=BRAND_ADMIN, brands=[brand])

    with sync_playwright() as playwright:
        browser = chromium_launch(playwright)
        try:
            page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
            page.goto(f"{live_server.url}/admin/login/?next={QUEUE}")
            page.fill("input[name=username]", "boss")
            page.fill("input[name=password]", "pass-word-123")
            page.click("input[type=submit]")
            page.wait_for_selector("#result_list")
            rows = page.locator("#result_list tbody tr").count()

            # When they pick both, choose to reject, and first leave the reason empty
            page.check("#action-toggle")
            page.select_option("select[name=action]", "reject")
            page.click("button[name=index]")
            page.wait_for_selector("input[name=reason]")
            intro = page.locator("#content").inner_text()
            page.click("input[type=submit][value='Reject them']")
            reason_missing = page.locator("input[name=reason]").evaluate(
                "field => field.validity.valueMissing"
            )
            still_waiting = RedemptionRequest.objects.filter(status="requested").count()

            # And then give one
            page.fill("input[name=reason]", "The towels are sold out.")
            page.click("input[type=submit][value='Reject them']")
            page.wait_for_selector("ul.messagelist")
            message = page.locator("ul.messagelist").inner_text()
            page.screenshot(path=str(SCREENSHOTS / f"redemptions_rejected_{width}.png"))
        finally:
            browser.close()

    # Then the page explained what happens, and both were rejected with the reason
    assert rows == 2
    assert "Reject 2 requests?" in intro and "points and the reserved units go back" in intro
    assert reason_missing is True and still_waiting == 2  # the browser asked for it first
    assert "2 request(s) rejected." in message
    assert set(RedemptionRequest.objects.values_list("status", "reason")) == {
        ("rejected", "The towels are sold out.")
    }
    account = LoyaltyAccount.objects.get(pk=account.pk)
    assert account.available_points == 500
