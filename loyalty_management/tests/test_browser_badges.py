"""A real browser: a marketing manager defines a badge in the admin, then awards a manual badge
to a customer found by searching their name."""

import tempfile
from pathlib import Path

import pytest

from brands.roles import MARKETING_MANAGER
from brands.tests.factories import BrandFactory
from core.tests.api_world import staff_user
from core.tests.browser import chromium_launch
from customers.services import customer_create
from loyalty_management.models import BadgeDefinition, CustomerBadge
from loyalty_management.services.badges import badge_definition_save

# Kept after the run (in /tmp) so a person can look at what the browser saw.
SCREENSHOTS = Path(tempfile.gettempdir())


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_marketer_defines_a_badge_and_awards_one_by_searching_the_customer(live_server):
    from playwright.sync_api import sync_playwright

    # Given a brand with a manual badge, a customer and a marketing manager
    brand = BrandFactory(slug="burger-a", name="Burger A")
    customer = customer_create(
        brand=brand, email="ada@example.com", first_name="Ada", last_name="Lovelace"
    )
    hero = badge_definition_save(brand=brand, data={"name": "Local hero", "kind": "manual"})
    staff_user("marketer", role=MARKETING_MANAGER, brands=[brand])

    with sync_playwright() as playwright:
        browser = chromium_launch(playwright)
        try:
            page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
            add_badge = "/admin/loyalty_management/badgedefinition/add/"
            page.goto(f"{live_server.url}/admin/login/?next={add_badge}")
            page.fill("input[name=username]", "marketer")
            page.fill("input[name=password]", "pass-word-123")
            page.click("input[type=submit]")

            # When they define a badge for five paid orders, leaving the threshold out first
            page.wait_for_selector("select[name=kind]")
            page.select_option("select[name=brand]", str(brand.pk))
            page.fill("input[name=name]", "Regular")
            page.select_option("select[name=kind]", "order_count")
            page.click("input[name=_save]")
            missing = page.locator(".errorlist").first.inner_text()
            page.fill("input[name=order_count]", "5")
            page.click("input[name=_save]")
            saved = page.locator("ul.messagelist").inner_text()

            # And award the manual badge, picking the customer by searching their name
            page.goto(f"{live_server.url}/admin/loyalty_management/customerbadge/add/")
            page.select_option("select[name=badge]", str(hero.pk))
            page.click(".field-customer .select2-selection")
            page.fill(".select2-search__field", "Lovel")
            page.click(".select2-results__option:has-text('Ada Lovelace')")
            page.fill("input[name=note]", "Helped at the fair")
            page.click("input[name=_save]")
            awarded = page.locator("ul.messagelist").inner_text()
            listed = page.locator("#result_list").inner_text()
            page.screenshot(path=str(SCREENSHOTS / "badge_awarded.png"), full_page=True)
        finally:
            browser.close()

    # Then the missing threshold was a plain sentence, and both were saved
    assert missing == "Give the number of paid orders."
    assert "was added successfully" in saved
    regular = BadgeDefinition.objects.get(name="Regular")
    assert (regular.kind, regular.order_count) == ("order_count", 5)
    assert "The badge Local hero was awarded; the customer is told." in awarded
    assert "Ada Lovelace" in listed
    held = CustomerBadge.objects.get()
    assert (held.badge, held.customer, held.awarded_by.username) == (hero, customer, "marketer")
