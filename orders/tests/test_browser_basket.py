"""A real browser on the storefront basket page: a VIP customer signs in, fills the basket, sees
the green VIP alert with 10% off and the right total, and places the order; a non-VIP customer
sees full price, then enters a reward code and sees its discount; the page fits a 375px phone
screen."""

import tempfile
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest

from brands.tests.factories import BrandFactory
from catalog.tests.factories import ProductFactory
from core.tests.browser import chromium_launch
from customers.services import customer_create
from labels.models import Label
from labels.services import label_assign_customer
from orders.models import Order
from orders.services.pricing import CODE_NOT_USABLE
from rewards.models import CustomerReward
from rewards.services import RewardSpec, reward_issue
from rules.models import Rule, RuleAction, RuleCondition, RuleTrigger

PASSWORD = "pass-word-123"
MINUS = "\u2212"  # as the page prints it
TOTALS = ("subtotal", "discount", "total")
# Kept after the run (in /tmp) so a person can look at what the browser saw.
SCREENSHOTS = Path(tempfile.gettempdir())


@pytest.fixture
def shop():
    """A brand with two products, the user's VIP rule set up as in the admin, a VIP customer
    and a regular one (both with storefront logins)."""
    brand = BrandFactory(slug="corner-shop", name="Corner Shop")
    ProductFactory(brand=brand, sku="TEA-1", name="Green tea", price=Decimal("12.50"))
    ProductFactory(brand=brand, sku="MUG-1", name="Tea mug", price=Decimal("7.50"))
    label = Label.objects.create(name="Customer_VIP", type="customer")
    trigger = RuleTrigger.objects.create(
        name="On Order Creation Trigger", code="discount_vip", event="order.created"
    )
    rule = Rule.objects.create(
        name="VIP Order Discount Rule",
        description="Apply 10% discount to VIP customers' new orders",
        status="ENABLED",
        trigger=trigger,
    )
    RuleCondition.objects.create(rule=rule, entity="CUSTOMER", operator="HAS_LABEL", label=label)
    RuleAction.objects.create(
        rule=rule,
        action_type="DISCOUNT",
        action_params={"percentage": "10", "description": "VIP New Order Discount"},
    )
    vip = customer_create(brand=brand, email="vip@example.com", password=PASSWORD)
    label_assign_customer(label=label, customer=vip)
    regular = customer_create(brand=brand, email="regular@example.com", password=PASSWORD)
    return {"brand": brand, "vip": vip, "regular": regular, "rule": rule}


@contextmanager
def chromium():
    """Headless Chromium. The ORM is only used outside this block: inside it, Playwright's
    greenlets would give queries a database connection of their own that is never closed."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = chromium_launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/basket/")
    page.get_by_role("link", name="Sign in").first.click()
    page.get_by_label("Email (staff: username)").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/basket/")


def add_product(page, sku: str, quantity: int) -> None:
    page.get_by_label("SKU").fill(sku)
    page.get_by_label("Quantity", exact=True).fill(str(quantity))
    page.get_by_role("button", name="Add to basket").click()
    page.wait_for_selector(f"[data-sku='{sku}']")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_vip_customer_sees_ten_percent_off_and_places_the_order(live_server, shop):
    with chromium() as browser:
        page = browser.new_page()
        # Given the VIP customer signed in on the basket page
        sign_in(page, live_server.url, "vip@example.com")

        # When they add two products (2 x 12.50 + 1 x 7.50 = 32.50)
        add_product(page, "TEA-1", 2)
        add_product(page, "MUG-1", 1)

        # Then a green status alert announces the VIP discount, and the totals include it
        alert = page.locator(".rule-discount")
        alert_role, alert_text = alert.get_attribute("role"), alert.inner_text()
        background = alert.evaluate("element => getComputedStyle(element).backgroundColor")
        totals = [page.locator(f"#basket-{name}").inner_text() for name in TOTALS]
        page.screenshot(path=str(SCREENSHOTS / "basket_vip.png"), full_page=True)

        # When they place the order with an impatient double click
        page.get_by_role("button", name="Place order").dblclick()
        page.wait_for_selector("#order-id")
        confirmation = {
            name: page.locator(f"#order-{name}").inner_text()
            for name in ("id", "discount-description", "discount-amount", "total")
        }
        page.screenshot(path=str(SCREENSHOTS / "basket_vip_confirmation.png"), full_page=True)

    assert alert_role == "status"
    assert alert_text.startswith("✓")
    assert f"VIP New Order Discount: {MINUS}10%" in alert_text
    assert "you save 3.25 EUR" in alert_text
    assert background == "rgb(231, 245, 234)"  # the success green, next to the ✓ and the text
    assert totals == ["32.50 EUR", f"{MINUS}3.25 EUR", "29.25 EUR"]
    # Then exactly one order is stored, with the VIP discount, and the confirmation shows it
    order = Order.objects.get(customer=shop["vip"])
    assert (order.subtotal, order.discount_total, order.total) == (
        Decimal("32.50"),
        Decimal("3.25"),
        Decimal("29.25"),
    )
    assert (order.discount_percentage, order.discount_amount, order.discount_description) == (
        Decimal("10.00"),
        Decimal("3.25"),
        "VIP New Order Discount",
    )
    assert confirmation == {
        "id": str(order.pk),
        "discount-description": "VIP New Order Discount (10%)",
        "discount-amount": f"{MINUS}3.25 EUR",
        "total": "29.25 EUR",
    }


def reward_code(brand, customer, name: str, amount: str) -> CustomerReward:
    reward, _ = reward_issue(
        customer=customer,
        brand=brand,
        spec=RewardSpec(name=name, kind="discount_amount", amount=Decimal(amount)),
        idempotency_key=f"browser:{customer.pk}:{name}",
        source=CustomerReward.Source.STAFF,
    )
    return reward


def enter_code(page, code: str) -> None:
    page.get_by_role("textbox", name="Voucher code").fill(code)
    page.get_by_role("button", name="Apply code").click()
    page.wait_for_selector(f"[data-reward-code='{code.upper()}']")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_non_vip_customer_sees_full_price_and_then_their_reward_code(live_server, shop):
    # Given the regular customer holds a reward code, and the VIP customer another one
    mine = reward_code(shop["brand"], shop["regular"], "Five off", "5.00")
    theirs = reward_code(shop["brand"], shop["vip"], "Birthday treat", "8.00")
    with chromium() as browser:
        page = browser.new_page()
        sign_in(page, live_server.url, "regular@example.com")

        add_product(page, "TEA-1", 2)
        add_product(page, "MUG-1", 1)

        alerts = page.locator(".rule-discount").count()
        content = page.content()
        totals = [page.locator(f"#basket-{name}").inner_text() for name in TOTALS]

        # When they enter their code (typed in lower case) and the VIP customer's
        enter_code(page, mine.code.lower())
        enter_code(page, theirs.code)
        mine_status = page.locator(f"[data-reward-code='{mine.code}'] .code__status").inner_text()
        theirs_status = page.locator(
            f"[data-reward-code='{theirs.code}'] .code__status"
        ).inner_text()
        reward_row = page.locator(f"tr[data-reward='{mine.pk}']").inner_text()
        with_code = [page.locator(f"#basket-{name}").inner_text() for name in TOTALS]
        page.screenshot(path=str(SCREENSHOTS / "basket_reward_code.png"), full_page=True)
        page.get_by_role("button", name="Place order").click()
        page.wait_for_selector("#order-id")
        confirmation_total = page.locator("#order-total").inner_text()

    assert alerts == 0
    assert "VIP" not in content
    assert totals == ["32.50 EUR", "0.00 EUR", "32.50 EUR"]
    # Then their code shows as a discount with the reward's name, the other with a reason that
    # does not tell whose it is
    assert mine_status == f"Five off: {MINUS}5.00 EUR"
    assert theirs_status == "Not applied: " + CODE_NOT_USABLE
    assert "Birthday treat" not in reward_row and "Five off" in reward_row
    assert with_code == ["32.50 EUR", f"{MINUS}5.00 EUR", "27.50 EUR"]
    order = Order.objects.get(customer=shop["regular"])
    assert (order.total, order.discount_total, order.discount_amount) == (
        Decimal("27.50"),
        Decimal("5.00"),
        Decimal("0.00"),
    )
    assert confirmation_total == "27.50 EUR"
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, mine.order_id) == ("used", order.pk)
    assert (theirs.status, theirs.order_id) == ("active", None)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_basket_fits_a_375px_phone_and_shows_keyboard_focus(live_server, shop):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 375, "height": 812})
        sign_in(page, live_server.url, "vip@example.com")
        add_product(page, "TEA-1", 3)
        # An unknown SKU: the error is on the field, the page still works.
        page.get_by_label("SKU").fill("NOT-A-REAL-SKU-WITH-A-VERY-LONG-NAME-0123456789")
        page.get_by_role("button", name="Add to basket").click()
        page.wait_for_selector("#id_sku_error")

        overflow = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        page.screenshot(path=str(SCREENSHOTS / "basket_375px.png"), full_page=True)
        sku_invalid = page.get_by_label("SKU").get_attribute("aria-invalid")
        sku_error = page.locator("#id_sku_error").inner_text()
        vip_alert_visible = page.locator(".rule-discount").is_visible()
        # Keyboard users land on the skip link first, with a visible focus outline.
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => [document.activeElement.textContent.trim(),"
            " getComputedStyle(document.activeElement).outlineStyle]"
        )
        # Every control on the page has an accessible name.
        unnamed = page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, button')]
                .filter(el => !(el.labels && el.labels.length) && !el.textContent.trim()
                        && !el.getAttribute('aria-label'))
                .map(el => el.outerHTML)"""
        )

    assert overflow[0] <= overflow[1] == 375
    assert sku_invalid == "true"
    assert "No product with SKU" in sku_error
    assert vip_alert_visible
    assert focused == ["Skip to main content", "solid"]
    assert unnamed == []
