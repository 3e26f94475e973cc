"""A real browser on the storefront account page, wide (1440px) and narrow (390px): a customer
signs in from the page, sees their points, tier progress and reward code, redeems a catalogue
item and sees the success, the points go down and the request listed, and cancels a request
still waiting; the page never scrolls sideways, and its script runs under the content security
policy."""

import tempfile
from decimal import Decimal
from pathlib import Path

import pytest

from brands.tests.factories import BrandFactory
from campaigns.tests.factories import make_campaign
from core.tests.browser import chromium_launch
from customers.services import customer_create
from loyalty_management.models import LoyaltyTransaction, RedemptionItem, RedemptionRequest
from loyalty_management.services.ledger import account_get_or_create, ledger_credit
from loyalty_management.tests.factories import LoyaltyProgramFactory, TierFactory
from rewards.models import CustomerReward, RewardKind
from rewards.services import RewardSpec, reward_issue

PASSWORD = "pass-word-123"
SCREENSHOTS = Path(tempfile.gettempdir())
OVERFLOW = "document.documentElement.scrollWidth > document.documentElement.clientWidth"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1440, 390])
def test_a_customer_redeems_points_and_sees_their_code(live_server, width):
    from playwright.sync_api import expect, sync_playwright

    # Given a member with 120 points, a code, and a catalogue of three items
    brand = BrandFactory(slug=f"account-{width}", name="Corner Shop")
    program = LoyaltyProgramFactory(brand=brand)
    TierFactory(program=program, name="Silver", position=1, threshold=Decimal("0"))
    TierFactory(program=program, name="Gold", position=2, threshold=Decimal("500"))
    customer = customer_create(brand=brand, email="member@example.com", password=PASSWORD)
    account = account_get_or_create(customer=customer, program=program)
    ledger_credit(
        account_id=account.pk,
        kind=LoyaltyTransaction.Kind.BONUS,
        points=120,
        idempotency_key="welcome",
        reason="Welcome gift for a very loyal customer with a long name",
    )
    code = reward_issue(
        customer=customer,
        brand=brand,
        spec=RewardSpec(name="Five off", kind=RewardKind.DISCOUNT_AMOUNT, amount=Decimal("5")),
        idempotency_key="code",
        source=CustomerReward.Source.STAFF,
    )[0].code
    tote = RedemptionItem.objects.create(
        brand=brand,
        name="Tote bag",
        points_cost=50,
        kind=RedemptionItem.Kind.PHYSICAL,
        auto_approve=False,
    )
    RedemptionItem.objects.create(
        brand=brand,
        name="Five in your wallet",
        points_cost=60,
        kind=RedemptionItem.Kind.WALLET_CREDIT,
        wallet_amount=Decimal("5.00"),
    )
    RedemptionItem.objects.create(
        brand=brand, name="Bicycle", points_cost=9000, kind=RedemptionItem.Kind.PHYSICAL
    )
    campaign = make_campaign(
        owner=brand,
        brands=[BrandFactory(slug=f"partner-{width}", name="Partner Bakery With A Long Name")],
        name="Across the neighbourhood",
    )

    with sync_playwright() as playwright:
        browser = chromium_launch(playwright)
        try:
            context = browser.new_context(viewport={"width": width, "height": 900})
            context.grant_permissions(["clipboard-read", "clipboard-write"])
            page = context.new_page()
            errors, violations = [], []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on(
                "console",
                lambda message: (
                    violations.append(message.text)
                    if "Content Security Policy" in message.text
                    else None
                ),
            )

            # When they open the account page, they are asked to sign in and come back
            page.goto(f"{live_server.url}/account/")
            page.get_by_label("Email (staff: username)").fill("member@example.com")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{live_server.url}/account/")
            before = page.locator("#points-available").inner_text()
            campaign_missing = page.locator(f"#campaign-{campaign.pk}-missing").inner_text()
            progress = page.locator("#tier-progress-text").inner_text()
            code_box = page.locator(".code-box__code")
            shown_code = code_box.inner_text()
            code_fits = code_box.bounding_box()
            bicycle_button = page.get_by_role("button", name="Redeem Bicycle")
            bicycle_disabled = bicycle_button.is_disabled()
            overflow_before = page.evaluate(OVERFLOW)
            page.screenshot(path=str(SCREENSHOTS / f"account_{width}.png"), full_page=True)

            # The copy button copies the code
            page.get_by_role("button", name=f"Copy code {code}").click()
            expect(page.locator("#copy-status")).to_have_text(f"Code {code} copied.")
            copied = page.evaluate("navigator.clipboard.readText()")

            # They redeem the tote bag: a success message, fewer points, the request listed
            page.get_by_role("button", name="Redeem Tote bag").click()
            page.wait_for_selector(".alert--success")
            success = page.locator(".alert--success").inner_text()
            after = page.locator("#points-available").inner_text()
            listed = page.locator("#redemptions").inner_text()
            overflow_after = page.evaluate(OVERFLOW)
            page.screenshot(path=str(SCREENSHOTS / f"account_redeemed_{width}.png"), full_page=True)

            # And withdraw it while it waits
            page.get_by_role("button", name="Cancel the request for Tote bag").click()
            page.wait_for_selector(".alert--success")
            cancelled = page.locator(".alert--success").inner_text()
            restored = page.locator("#points-available").inner_text()

            # The basket page links back to the account page
            page.get_by_role("link", name="Your basket").click()
            page.wait_for_url(f"{live_server.url}/basket/")
            page.get_by_role("link", name="Your account").click()
            page.wait_for_url(f"{live_server.url}/account/")
        finally:
            browser.close()

    assert before == "120 points"
    assert campaign_missing == "2 more brands to go, 40.00 EUR more to spend."
    assert progress == (
        "You earned 120 of the 500 points that Gold needs in the last 12 months: 380 points to go."
    )
    assert shown_code == code and copied == code
    assert code_fits["x"] >= 0 and code_fits["x"] + code_fits["width"] <= width
    assert bicycle_disabled
    assert not overflow_before and not overflow_after
    assert "You redeemed 50 points for Tote bag. It is waiting for approval" in success
    assert after == "70 points"
    assert "Tote bag" in listed and "Waiting for approval" in listed
    assert (
        "You cancelled your request for Tote bag; 50 points went back to your balance." in cancelled
    )
    assert restored == "120 points"
    assert errors == [] and violations == []
    [redemption] = RedemptionRequest.objects.filter(item=tote)
    assert redemption.status == RedemptionRequest.Status.CANCELLED
