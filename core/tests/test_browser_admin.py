"""A real browser logs in to the admin as brand staff and sees only their brand's orders."""

import os
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from brands.roles import BRAND_ADMIN
from brands.tests.factories import BrandFactory, StaffUserFactory, StoreFactory
from catalog.tests.factories import ProductFactory
from core.tests.browser import chromium_launch
from customers.services import customer_create
from orders.tests.factories import place_order

# Kept after the run (in /tmp) so a person can look at what the browser saw.
SCREENSHOT = str(Path(tempfile.gettempdir()) / "admin_orders_brand_staff.png")


@pytest.fixture
def orders_of_two_brands():
    orders = {}
    for slug, name in (("burger-a", "Burger A"), ("fashion-b", "Fashion B")):
        brand = BrandFactory(slug=slug, name=name)
        store = StoreFactory(brand=brand, code=f"{slug}-store")
        product = ProductFactory(brand=brand, price=Decimal("9.90"))
        customer = customer_create(brand=brand, email=f"buyer@{slug}.example.com")
        orders[slug] = [
            place_order(
                brand=brand,
                products_and_quantities=[(product, quantity)],
                store=store,
                customer=customer,
            )
            for quantity in (1, 2, 3)
        ]
    return orders


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_brand_staff_sees_only_their_orders_in_a_real_browser(live_server, orders_of_two_brands):
    from playwright.sync_api import sync_playwright

    # Given a staff user of the first brand, with the brand admin role
    staff = StaffUserFactory(username="burger-staff")
    staff.groups.add(Group.objects.get(name=BRAND_ADMIN))
    staff.staff_brands.add(orders_of_two_brands["burger-a"][0].brand)

    with sync_playwright() as playwright:
        browser = chromium_launch(playwright)
        try:
            page = browser.new_page()
            # When they log in through the admin's login form
            page.goto(f"{live_server.url}/admin/login/?next=/admin/orders/order/")
            page.fill("input[name=username]", "burger-staff")
            page.fill("input[name=password]", "pass-word-123")
            page.click("input[type=submit]")
            page.wait_for_selector("#result_list")

            # And open the orders changelist
            row_links = page.locator("#result_list tbody tr th a").all_inner_texts()
            brands_shown = set(page.locator("#result_list tbody td.field-brand").all_inner_texts())
            page.screenshot(path=SCREENSHOT, full_page=True)
        finally:
            browser.close()

    # Then exactly their brand's orders are listed
    assert page.url.endswith("/admin/orders/order/")
    expected = {str(order) for order in orders_of_two_brands["burger-a"]}
    assert set(row_links) == expected
    assert brands_shown == {"Burger A"}
    assert os.path.getsize(SCREENSHOT) > 0
