"""The user's VIP set-up, done by hand in a real headless Chromium: the five admin steps of the
deployment notes (label, trigger, rule, condition, action, each on its own add page), then the
rule is checked as configured and a VIP customer's new order gets 10% off."""

import tempfile
from decimal import Decimal
from pathlib import Path

import pytest

from brands.tests.factories import BrandFactory, StaffUserFactory, StoreFactory
from catalog.tests.factories import ProductFactory
from core.tests.browser import chromium_launch
from customers.services import customer_create
from labels.models import Label
from labels.services import label_assign_customer
from orders.services.placement import LineRequest, order_place
from rules.models import Event, Rule, RuleTrigger

TIMEOUT_MS = 15_000
# Kept after the run (in /tmp) so a person can look at what the browser saw.
SCREENSHOT = str(Path(tempfile.gettempdir()) / "admin_rules_vip_setup.png")
SCREENSHOT_DRY_RUN = str(Path(tempfile.gettempdir()) / "admin_rules_vip_dry_run.png")


def _launch(playwright):
    browser = chromium_launch(playwright)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return browser, page, errors


def _add_page(page, base_url: str, model: str) -> None:
    """From the admin index, follow the model's "Add" link (Rules > <model> > Add ...)."""
    page.goto(f"{base_url}/admin/")
    page.click(f"a.addlink[href$='/admin/{model}/add/']")
    page.wait_for_selector("form#content-main, #content-main form")


def _save(page) -> None:
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_users_five_admin_steps_set_up_the_vip_discount(live_server):
    from playwright.sync_api import sync_playwright

    # Given an admin, and a shop with a customer who will be a VIP
    StaffUserFactory(username="admin", is_superuser=True)
    brand = BrandFactory(slug="burger-a", name="Burger A", currency="EUR")
    store = StoreFactory(brand=brand, code="central")
    product = ProductFactory(brand=brand, price=Decimal("12.50"))
    customer = customer_create(brand=brand, email="vip@example.com")
    url = live_server.url

    with sync_playwright() as playwright:
        browser, page, errors = _launch(playwright)
        try:
            page.goto(f"{url}/admin/login/?next=/admin/")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", "pass-word-123")
            page.click("input[type=submit]")
            page.wait_for_selector("#content-main")

            # 1. Labels > Labels > Add Label
            _add_page(page, url, "labels/label")
            page.fill("#id_name", "Customer_VIP")
            page.select_option("#id_type", label="Customer")
            _save(page)

            # 2. Rules > Rule Triggers > Add Rule Trigger (name and code only)
            _add_page(page, url, "rules/ruletrigger")
            page.fill("#id_name", "On Order Creation Trigger")
            page.fill("#id_code", "discount_vip")
            _save(page)

            # 3. Rules > Rules > Add Rule
            _add_page(page, url, "rules/rule")
            page.fill("#id_name", "VIP Order Discount Rule")
            page.fill("#id_description", "Apply 10% discount to VIP customers' new orders")
            page.select_option("#id_status", "ENABLED")
            page.select_option("#id_trigger", label="On Order Creation Trigger (order.created)")
            _save(page)

            # 4. Rules > Rule Conditions > Add Rule Condition
            _add_page(page, url, "rules/rulecondition")
            page.select_option("#id_rule", label="VIP Order Discount Rule")
            page.select_option("#id_entity", "CUSTOMER")
            page.select_option("#id_operator", "HAS_LABEL")
            page.select_option("#id_label", label="Customer_VIP")
            _save(page)

            # 5. Rules > Rule Actions > Add Rule Action, first with a typo, then as written
            _add_page(page, url, "rules/ruleaction")
            page.select_option("#id_rule", label="VIP Order Discount Rule")
            page.select_option("#id_action_type", "DISCOUNT")
            page.fill("#id_action_params", '{"percentage": 110, "description": "VIP"}')
            page.click("input[name=_save]")
            page.wait_for_selector(".errornote")
            refused = page.inner_text(".form-row.field-action_params .errorlist")
            page.fill(
                "#id_action_params", '{"percentage": 10, "description": "VIP New Order Discount"}'
            )
            _save(page)
            page.screenshot(path=SCREENSHOT, full_page=True)
        finally:
            browser.close()

    assert errors == []
    assert refused == "percentage must be at most 100."

    # Then the rule exists as configured
    label = Label.objects.get(name="Customer_VIP")
    assert (label.type, label.brand) == (Label.Type.CUSTOMER, None)
    trigger = RuleTrigger.objects.get(code="discount_vip")
    assert (trigger.name, trigger.event) == ("On Order Creation Trigger", Event.ORDER_CREATED)
    rule = Rule.objects.get()
    assert (rule.name, rule.status, rule.trigger, rule.brand) == (
        "VIP Order Discount Rule",
        Rule.Status.ENABLED,
        trigger,
        None,
    )
    assert rule.description == "Apply 10% discount to VIP customers' new orders"
    assert not rule.labels.exists()
    assert list(rule.conditions.values_list("entity", "field", "operator", "label")) == [
        ("CUSTOMER", "", "HAS_LABEL", label.pk)
    ]
    assert list(rule.actions.values_list("action_type", "action_params")) == [
        (
            "DISCOUNT",
            {"percentage": "10", "description": "VIP New Order Discount", "base": "remaining"},
        )
    ]

    # And a VIP customer's new order gets 10% off, a non-VIP's does not
    plain, _ = order_place(
        brand=brand,
        lines=[LineRequest(product_id=product.pk, quantity=2)],
        store=store,
        customer=customer,
    )
    label_assign_customer(label=label, customer=customer)
    vip, _ = order_place(
        brand=brand,
        lines=[LineRequest(product_id=product.pk, quantity=2)],
        store=store,
        customer=customer,
    )
    assert plain.discount_amount == Decimal("0.00")
    assert plain.total == Decimal("25.00")
    assert vip.discount_percentage == Decimal("10.00")
    assert vip.discount_amount == Decimal("2.50")
    assert vip.discount_description == "VIP New Order Discount"
    assert vip.total == Decimal("22.50")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_dry_run_button_shows_what_the_vip_rule_would_do(live_server):
    from playwright.sync_api import sync_playwright

    from rules.services.authoring import vip_example_install

    # Given the VIP example, and a VIP customer with an order (placed before they were VIP)
    StaffUserFactory(username="admin", is_superuser=True)
    vip_example_install()
    brand = BrandFactory(slug="burger-a", name="Burger A", currency="EUR")
    store = StoreFactory(brand=brand, code="central")
    product = ProductFactory(brand=brand, price=Decimal("12.50"))
    customer = customer_create(brand=brand, email="vip@example.com", first_name="Vera")
    order, _ = order_place(
        brand=brand,
        lines=[LineRequest(product_id=product.pk, quantity=2)],
        store=store,
        customer=customer,
    )
    label_assign_customer(label=Label.objects.get(name="Customer_VIP"), customer=customer)
    rule = Rule.objects.get()
    url = live_server.url

    with sync_playwright() as playwright:
        browser, page, errors = _launch(playwright)
        try:
            page.goto(f"{url}/admin/login/?next=/admin/rules/rule/{rule.pk}/change/")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", "pass-word-123")
            page.click("input[type=submit]")
            # When they press "Dry run" on the rule's page
            page.click("a.dry-run-link")
            page.wait_for_selector("#dry_run_form")
            # And choose the customer by searching their email, and the order by its number
            page.click(".field-customer .select2-selection")
            page.fill(".select2-search__field", "vip@")
            page.click(".select2-results__option >> text=Vera")
            page.fill("#id_order", str(order.pk))
            page.click("input[name=_dry_run]")
            page.wait_for_selector("#dry-run-verdict")
            verdict = page.inner_text("#dry-run-verdict")
            holds = page.locator("#dry-run-conditions tbody td.holds").all_inner_texts()
            actions = page.locator("#dry-run-actions li").all_inner_texts()
            page.screenshot(path=SCREENSHOT_DRY_RUN, full_page=True)
        finally:
            browser.close()

    # Then they see that it fires, why, and the discount it would give, and nothing changed
    assert errors == []
    assert verdict == "The rule fires."
    assert holds == ["yes"]
    assert len(actions) == 1
    assert "2.50" in actions[0]
    order.refresh_from_db()
    assert order.discount_amount == Decimal("0.00")
    assert not rule.firings.exists()
