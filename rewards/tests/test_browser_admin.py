"""A real browser: a marketing manager defines a free-product birthday reward in the admin,
picking the product by searching its name, at a desktop and a phone width; a reward missing
what its kind needs is refused in a plain sentence."""

import tempfile
from decimal import Decimal
from pathlib import Path

import pytest

from brands.roles import MARKETING_MANAGER
from brands.tests.factories import BrandFactory
from catalog.tests.factories import ProductFactory
from core.tests.api_world import staff_user
from core.tests.browser import chromium_launch
from rewards.models import RewardTemplate

SCREENSHOTS = Path(tempfile.gettempdir())
ADD = "/admin/rewards/rewardtemplate/add/"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1440, 390])
def test_a_marketer_defines_a_birthday_reward_with_a_product_picked_by_search(live_server, width):
    from playwright.sync_api import sync_playwright

    # Given a brand with two products (one retired) and another brand's product
    brand = BrandFactory(slug="burger-a", name="Burger A")
    flat_white = ProductFactory(brand=brand, name="Flat white", sku="FW", price=Decimal("3.20"))
    ProductFactory(brand=brand, name="Flat bread", sku="FB", is_active=False)
    ProductFactory(brand=BrandFactory(slug="other"), name="Flat cake", sku="FC")
    staff_user("marketer", role=MARKETING_MANAGER, brands=[brand])

    with sync_playwright() as playwright:
        browser = chromium_launch(playwright)
        try:
            page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
            page.goto(f"{live_server.url}/admin/login/?next={ADD}")
            page.fill("input[name=username]", "marketer")
            page.fill("input[name=password]", "pass-word-123")
            page.click("input[type=submit]")
            page.wait_for_selector("select[name=kind]")
            inputs = {
                name: page.locator(f"[name={name}]").evaluate("e => e.type")
                for name in ("amount", "percentage", "points", "valid_days", "is_active")
            }

            # When they choose "one product free" but leave the product out
            page.select_option("select[name=brand]", str(brand.pk))
            page.fill("input[name=name]", "Birthday coffee")
            page.select_option("select[name=kind]", "free_product")
            page.select_option("select[name=trigger]", "birthday")
            page.fill("input[name=valid_days]", "14")
            page.click("input[name=_save]")
            missing = page.locator(".errorlist").first.inner_text()

            # And then pick the product by typing part of its name
            page.click(".field-product .select2-selection")
            page.fill(".select2-search__field", "Flat")
            page.wait_for_selector(".select2-results__option:has-text('Flat white')")
            offered = page.locator(".select2-results__option").all_inner_texts()
            page.click(".select2-results__option:has-text('Flat white')")
            page.click("input[name=_save]")
            page.wait_for_selector("ul.messagelist")
            saved = page.locator("ul.messagelist").inner_text()
            page.screenshot(path=str(SCREENSHOTS / f"reward_template_{width}.png"), full_page=True)
        finally:
            browser.close()

    # Then the fields were real inputs, the error a plain sentence, and the reward was saved
    assert inputs == {
        "amount": "number",
        "percentage": "number",
        "points": "number",
        "valid_days": "number",
        "is_active": "checkbox",
    }
    assert missing == "Choose the product this reward makes free."
    assert any("Flat white" in option for option in offered)
    assert not any("Flat cake" in option for option in offered)  # another brand's
    assert "was added successfully" in saved
    template = RewardTemplate.objects.get()
    assert (template.kind, template.product, template.trigger, template.valid_days) == (
        "free_product",
        flat_white,
        "birthday",
        14,
    )
