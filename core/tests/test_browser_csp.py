"""The content security policy in a real headless Chromium: the admin (login, a changelist, the
promotion change form running its preview panel), the storefront basket pages, Swagger UI and
Redoc all work under the policy with no violation, and the docs load nothing from outside."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from brands.tests.factories import BrandFactory, StoreFactory
from catalog.tests.factories import ProductFactory
from core.tests.browser import chromium_launch
from promotions.services.lifecycle import promotion_save
from promotions.tests.factories import PromotionFactory

PASSWORD = "pass-word-123"
TIMEOUT_MS = 20_000
AGREE = "Browser engine (engine.js v1.2.0) and server calculator agree."
# Redoc's bundle always shows its maker's logo from their CDN; the policy blocks it (nothing is
# loaded from outside) and Redoc hides the image. The one violation expected.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
# More admin pages with their own scripts: inlines, filter widgets, date pickers, the sidebar.
ADMIN_PAGES = [
    "/admin/",
    "/admin/rules/rule/add/",
    "/admin/customers/customer/",
    "/admin/orders/order/",
    "/admin/brands/posdevice/add/",
    "/admin/django_celery_beat/periodictask/",
]


@pytest.fixture
def promotion():
    brand = BrandFactory(slug="csp-shop", name="CSP Shop")
    StoreFactory(brand=brand, code="csp-central", name="Central")
    ProductFactory(brand=brand, name="Fries", sku="FRIES", price=Decimal("3.50"))
    get_user_model().objects.create_superuser(
        username="csp-admin", email="csp-admin@example.com", password=PASSWORD
    )
    return promotion_save(promotion=PromotionFactory.build(brand=brand, name="Ten off"))


class Recorder:
    """What the browser reports: CSP violations, script errors, requests that left the site."""

    def __init__(self, page, base_url: str):
        self.violations: list[str] = []
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.policies: dict[str, str] = {}
        self.page = page
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("response", self._response)

        def offline(route):
            if route.request.url.startswith(base_url) or route.request.url.startswith("data:"):
                return route.continue_()
            self.outside.append(route.request.url)
            return route.abort()

        page.route("**/*", offline)

    def _console(self, message):
        if "Content Security Policy" in message.text:
            self.violations.append(f"{self.page.url}: {message.text}")

    def unexpected_violations(self) -> list[str]:
        return [
            text
            for text in self.violations
            if not ("/api/redoc/: " in text and f"Loading the image '{REDOC_LOGO}'" in text)
        ]

    def _response(self, response):
        if response.request.resource_type == "document":
            self.policies[response.url] = response.headers.get("content-security-policy", "")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_admin_basket_and_api_docs_work_under_the_policy_and_offline(live_server, promotion):
    from playwright.sync_api import expect, sync_playwright

    base = live_server.url
    with sync_playwright() as playwright:
        browser = chromium_launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            seen = Recorder(page, base)

            # The basket pages, signed out
            page.goto(f"{base}/basket/")
            page.goto(f"{base}/basket/login/")
            expect(page.get_by_label("Password")).to_be_visible()

            # The admin: login, a changelist, the promotion form with its preview panel
            page.goto(f"{base}/admin/login/?next=/admin/promotions/promotion/")
            page.fill("input[name=username]", "csp-admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_selector("#result_list")
            page.goto(f"{base}/admin/promotions/promotion/{promotion.pk}/change/")
            page.get_by_role("button", name="Preview", exact=True).click()
            expect(page.locator("#preview-check")).to_have_text(AGREE)
            for path in ADMIN_PAGES:
                assert page.goto(f"{base}{path}").status == 200, path

            # Swagger UI renders the operations from the schema
            page.goto(f"{base}/api/docs/")
            page.wait_for_selector(".opblock-summary")
            operations = page.locator(".opblock-summary").count()

            # Redoc renders the operations too
            page.goto(f"{base}/api/redoc/")
            page.wait_for_selector("[data-section-id^='tag/']")
            sections = page.locator("[data-section-id^='operation/']").count()
        finally:
            browser.close()

    assert seen.unexpected_violations() == []
    assert seen.errors == []
    assert seen.outside == []
    assert operations > 20
    assert sections > 20
    # Every page was served with the policy: scripts from this site only; inline styles and
    # blob workers only on the Redoc page, whose bundle needs them.
    assert len(seen.policies) >= 6
    for url, policy in seen.policies.items():
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
        assert directives["script-src"] == "'self'", url
        assert directives["object-src"] == "'none'", url
        assert directives["frame-ancestors"] == "'none'", url
        inline = "/api/redoc/" in url
        assert directives["style-src"] == ("'self' 'unsafe-inline'" if inline else "'self'"), url
        assert directives.get("worker-src") == ("'self' blob:" if inline else None), url
