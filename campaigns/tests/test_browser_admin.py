"""A real browser: a brand admin sets up a cross-brand campaign in the admin, at desktop and
phone widths, and reads the form's errors as plain sentences."""

import tempfile
from pathlib import Path

import pytest

from brands.roles import BRAND_ADMIN
from brands.tests.factories import BrandFactory
from campaigns.models import CampaignProgress, CrossBrandCampaign
from core.tests.api_world import staff_user
from core.tests.browser import chromium_launch
from customers.services import customer_create
from loyalty_management.tests.factories import LoyaltyProgramFactory
from rewards.models import RewardTemplate

SCREENSHOTS = Path(tempfile.gettempdir())
ADD = "/admin/campaigns/crossbrandcampaign/add/"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1440, 390])
def test_a_brand_admin_sets_up_a_campaign_with_real_fields(live_server, width):
    from playwright.sync_api import sync_playwright

    # Given a brand admin of three brands, one of them in dollars, and a reward of the owner
    burger = BrandFactory(slug="burger", name="Burger Town")
    pizza = BrandFactory(slug="pizza", name="Pizza Co")
    diner = BrandFactory(slug="diner", name="Dollar Diner", currency="USD")
    elsewhere = BrandFactory(slug="elsewhere", name="Elsewhere")  # not theirs
    LoyaltyProgramFactory(brand=burger)
    coffee = RewardTemplate.objects.create(
        brand=burger, name="Coffee on us", kind="discount_amount", amount="3.00"
    )
    RewardTemplate.objects.create(brand=pizza, name="Pizza slice", kind="points", points=10)
    staff_user("boss", role=BRAND_ADMIN, brands=[burger, pizza, diner])

    with sync_playwright() as playwright:
        browser = chromium_launch(playwright)
        try:
            page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
            page.goto(f"{live_server.url}/admin/login/?next={ADD}")
            page.fill("input[name=username]", "boss")
            page.fill("input[name=password]", "pass-word-123")
            page.click("input[type=submit]")
            page.wait_for_selector("select[name=requirement]")
            offered = page.locator("#id_brands_from option").all_inner_texts()
            rewards = page.locator("select[name=reward_template] option").all_inner_texts()

            # When they fill the form with the dollar brand and no amount to spend first
            page.select_option("select[name=brand]", str(burger.pk))
            page.fill("input[name=name]", "Across town")
            page.select_option("#id_brands_from", [str(pizza.pk), str(diner.pk)])
            page.click("#id_brands_add")
            page.fill("input[name=starts_at_0]", "2026-06-01")
            page.fill("input[name=starts_at_1]", "00:00:00")
            page.fill("input[name=ends_at_0]", "2026-07-01")
            page.fill("input[name=ends_at_1]", "00:00:00")
            page.select_option("select[name=requirement]", "each_brand")
            page.fill("input[name=min_brands]", "2")
            page.select_option("select[name=reward_kind]", "template")
            page.select_option("select[name=reward_template]", str(coffee.pk))
            page.click("input[name=_save]")
            page.wait_for_selector(".errorlist")
            first_errors = page.locator(".errorlist").all_inner_texts()
            amount_type = page.locator("input[name=min_spend_per_brand]").get_attribute("type")

            # And then take the dollar brand out and give the amount
            page.select_option("#id_brands_to", [str(diner.pk)])
            page.click("#id_brands_remove")
            page.fill("input[name=min_spend_per_brand]", "20.00")
            page.click("input[name=_save]")
            page.wait_for_selector("ul.messagelist")
            saved = page.locator("ul.messagelist").inner_text()
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            page.screenshot(path=str(SCREENSHOTS / f"campaign_saved_{width}.png"), full_page=True)
        finally:
            browser.close()

    # Then the picker offered their brands only, the rewards of their brands, the amount was a
    # number field, the errors were plain sentences, and the campaign was saved with its owner
    assert "Elsewhere" not in offered and {"Pizza Co", "Dollar Diner"} <= set(offered)
    assert any("Coffee on us" in r for r in rewards)
    assert amount_type == "number"
    assert "Give the amount to spend at each brand." in first_errors
    assert "All the brands of a campaign use one currency: Dollar Diner does not use EUR." in (
        first_errors
    )
    assert "was added successfully" in saved
    campaign = CrossBrandCampaign.objects.get()
    assert set(campaign.brands.all()) == {burger, pizza}
    assert (campaign.requirement, str(campaign.min_spend_per_brand)) == ("each_brand", "20.00")
    assert (campaign.reward_kind, campaign.reward_template, campaign.min_total_spend) == (
        "template",
        coffee,
        None,
    )
    assert elsewhere not in campaign.brands.all()
    assert overflow <= 0 or width == 390  # the admin's own layout scrolls its tables on phones


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_progress_is_shown_read_only(live_server):
    from playwright.sync_api import sync_playwright

    from campaigns.tests.factories import make_campaign

    burger = BrandFactory(slug="burger", name="Burger Town")
    pizza = BrandFactory(slug="pizza", name="Pizza Co")
    LoyaltyProgramFactory(brand=burger)
    campaign = make_campaign(owner=burger, brands=[pizza])
    ada = customer_create(brand=burger, email="ada@example.com", first_name="Ada", last_name="L")
    CampaignProgress.objects.create(
        campaign=campaign,
        customer=ada,
        spend_by_brand={str(burger.pk): "25.00"},
        total_spend="25.00",
        brands_counted=1,
    )
    staff_user("boss", role=BRAND_ADMIN, brands=[burger, pizza])

    with sync_playwright() as playwright:
        browser = chromium_launch(playwright)
        try:
            page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
            page.goto(f"{live_server.url}/admin/login/?next=/admin/campaigns/crossbrandcampaign/")
            page.fill("input[name=username]", "boss")
            page.fill("input[name=password]", "pass-word-123")
            page.click("input[type=submit]")
            page.click("#result_list td.field-customers a")
            page.wait_for_selector("#result_list")
            listed = page.locator("#result_list").inner_text()
            can_add = page.locator(".object-tools a.addlink").count()
            page.goto(f"{live_server.url}/admin/campaigns/crossbrandcampaign/{campaign.pk}/change/")
            inline = page.locator(".inline-group").inner_text()
        finally:
            browser.close()

    assert "Burger Town: 25.00" in listed and can_add == 0
    assert "Ada L" in inline and "25.00" in inline
