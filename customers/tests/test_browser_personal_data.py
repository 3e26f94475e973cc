"""In a real browser: a support agent sees customers masked; a brand admin erases one after
confirming."""

import tempfile
from datetime import date
from pathlib import Path

import pytest

from brands.roles import BRAND_ADMIN, SUPPORT_AGENT
from brands.tests.factories import BrandFactory
from core.tests.api_world import staff_user
from core.tests.browser import chromium_launch
from customers.models import PersonalDataAudit
from customers.services import customer_create

SCREENSHOTS = Path(tempfile.gettempdir())
EMAIL = "jane.doe@example.com"


def _login(page, base_url: str, username: str, next_url: str) -> None:
    page.goto(f"{base_url}/admin/login/?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pass-word-123")
    page.click("input[type=submit]")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_masked_for_support_and_erased_by_the_brand_admin_in_a_real_browser(live_server):
    from playwright.sync_api import sync_playwright

    # Given a customer of a brand, its support agent and its brand admin
    brand = BrandFactory(slug="shop", name="Shop")
    customer = customer_create(
        brand=brand,
        email=EMAIL,
        first_name="Jane",
        last_name="Doe",
        phone="+33 6 12 34 56 78",
        birth_date=date(1985, 3, 9),
    )
    staff_user("support", role=SUPPORT_AGENT, brands=[brand])
    staff_user("boss", role=BRAND_ADMIN, brands=[brand])
    changelist = "/admin/customers/customer/"

    with sync_playwright() as playwright:
        browser = chromium_launch(playwright)
        try:
            # When the support agent opens the customer list and the customer's page
            support = browser.new_page()
            _login(support, live_server.url, "support", changelist)
            support.wait_for_selector("#result_list")
            row = support.locator("#result_list tbody tr").first.inner_text()
            support.goto(f"{live_server.url}{changelist}{customer.pk}/change/")
            form = support.locator("#customer_form").inner_text()
            email_inputs = support.locator("input[name=email]").count()
            support.screenshot(path=str(SCREENSHOTS / "admin_customer_masked.png"), full_page=True)

            # And the brand admin erases the customer through the action and its confirmation
            boss = browser.new_context().new_page()
            _login(boss, live_server.url, "boss", changelist)
            boss.check(f"input[name=_selected_action][value='{customer.pk}']")
            boss.select_option("select[name=action]", "erase_personal_data")
            boss.click("button[name=index]")
            boss.wait_for_selector("text=Yes, erase their personal data")
            confirmation = boss.locator("#content").inner_text()
            boss.screenshot(path=str(SCREENSHOTS / "admin_customer_erase.png"), full_page=True)
            boss.click("input[value='Yes, erase their personal data']")
            boss.wait_for_selector(".messagelist")
            message = boss.locator(".messagelist").inner_text()
        finally:
            browser.close()

    # Then the agent saw enough to recognise the customer, and no more
    assert "Jane Doe" in row and "j***@example.com" in row and "+33 ••• •• 78" in row
    assert EMAIL not in row + form and "1985" not in form
    assert "j***@example.com" in form and "--03-09" in form and email_inputs == 0
    # And the erasure asked first, in plain words, then happened and was audited
    assert "Jane Doe (customer" in confirmation
    assert "Their orders, totals and loyalty points are kept." in confirmation
    assert "Personal data of 1 customer(s) erased" in message
    customer.refresh_from_db()
    assert (customer.email, customer.first_name, customer.erased_at is not None) == (None, "", True)
    assert PersonalDataAudit.objects.get().actor_name == "boss"
