"""In a real browser: after too many wrong passwords, the basket and admin login pages say in a
plain sentence that sign-in is paused, and the right password does not get in meanwhile."""

import pytest

from accounts.tests.conftest import PASSWORD
from core.tests.browser import chromium_launch

MESSAGE = "Too many failed sign-in attempts"


def attempt(page, url: str, username: str, password: str) -> None:
    page.goto(url)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.locator("form [type=submit]").first.click()
    page.wait_for_load_state()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_login_pages_tell_a_locked_out_person_plainly(live_server, small_lockout, customer, staff):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = chromium_launch(playwright)
        try:
            page = browser.new_page()
            basket = f"{live_server.url}/basket/login/"
            for _ in range(2):
                attempt(page, basket, "jane@example.com", "not-the-password")
                assert MESSAGE not in page.content()
            attempt(page, basket, "jane@example.com", "not-the-password")
            alert = page.get_by_role("alert")
            assert MESSAGE in alert.inner_text()
            assert "try again in 15 minutes" in alert.inner_text()
            attempt(page, basket, "jane@example.com", PASSWORD)
            assert MESSAGE in page.get_by_role("alert").inner_text()
            assert page.url.startswith(basket)

            admin = f"{live_server.url}/admin/login/"
            attempt(page, admin, "clerk", PASSWORD)  # the address is locked now, too
            body = page.locator("body").inner_text()
            assert MESSAGE in body
            assert "Traceback" not in body
            assert page.url.startswith(admin)
        finally:
            browser.close()
