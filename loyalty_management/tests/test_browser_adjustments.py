"""A real browser: a support agent asks for an adjustment above their limits in the admin, and a
brand admin approves it from the list of adjustments."""

import tempfile
from pathlib import Path

import pytest

from brands.roles import ADJUSTMENT_LIMITS, BRAND_ADMIN, SUPPORT_AGENT
from brands.tests.factories import BrandFactory
from core.tests.api_world import staff_user
from core.tests.browser import chromium_launch
from customers.tests.factories import CustomerFactory
from loyalty_management.models import LoyaltyAccount, LoyaltyAdjustment
from loyalty_management.tests.factories import LoyaltyProgramFactory

# Kept after the run (in /tmp) so a person can look at what the browser saw.
SCREENSHOTS = Path(tempfile.gettempdir())


def _log_in(browser, live_server, username: str, next_url: str):
    page = browser.new_context().new_page()
    page.goto(f"{live_server.url}/admin/login/?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pass-word-123")
    page.click("input[type=submit]")
    return page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_adjustment_above_the_limit_is_approved_by_a_brand_admin(live_server):
    from playwright.sync_api import sync_playwright

    # Given an account, a support agent and a brand admin of its brand
    brand = BrandFactory(slug="burger-a", name="Burger A")
    account = LoyaltyAccount.objects.create(
        customer=CustomerFactory(), program=LoyaltyProgramFactory(brand=brand)
    )
    staff_user("agent", role=SUPPORT_AGENT, brands=[brand])
    staff_user("boss", role=BRAND_ADMIN, brands=[brand])
    points = ADJUSTMENT_LIMITS[SUPPORT_AGENT].per_adjustment + 1

    with sync_playwright() as playwright:
        browser = chromium_launch(playwright)
        try:
            # When the agent records an adjustment above their limit
            adjust = f"/admin/loyalty_management/loyaltyaccount/{account.pk}/adjust/"
            agent = _log_in(browser, live_server, "agent", adjust)
            agent.wait_for_selector("input[name=points]")
            limits_note = agent.locator("p.help").first.inner_text()
            agent.fill("input[name=points]", str(points))
            agent.fill("input[name=reason]", "Lost card")
            agent.click("input[type=submit]")
            agent_message = agent.locator("ul.messagelist").inner_text()
            agent_account_page = agent.locator("#content").inner_text()
            agent.screenshot(path=str(SCREENSHOTS / "adjustment_pending.png"), full_page=True)

            # And the brand admin approves it from the pending adjustments
            changelist = "/admin/loyalty_management/loyaltyadjustment/?status__exact=pending"
            boss = _log_in(browser, live_server, "boss", changelist)
            boss.wait_for_selector("#result_list")
            pending_rows = boss.locator("#result_list tbody tr").count()
            boss.check("#result_list tbody input.action-select")
            boss.select_option("select[name=action]", "approve")
            boss.click("button[name=index]")
            boss_message = boss.locator("ul.messagelist").inner_text()
            boss.screenshot(path=str(SCREENSHOTS / "adjustment_approved.png"), full_page=True)
        finally:
            browser.close()

    # Then the agent was told it waits, and after approval the points are on the account
    assert "points at a time" in limits_note
    assert "waits for a brand admin's approval" in agent_message
    assert "Pending approval" in agent_account_page  # the account lists it, pending
    assert pending_rows == 1
    assert "1 adjustment(s) approved." in boss_message
    adjustment = LoyaltyAdjustment.objects.get()
    assert (adjustment.status, adjustment.decided_by.username) == ("approved", "boss")
    account.refresh_from_db()
    assert account.available_points == points
