"""A real browser: a marketing manager sets up an experiment in the admin at a desktop width
(the customer label and the variants' promotions picked by search, a third variant added to the
inline, a refusal in a plain sentence first), then changes the draft's variants there (a row
renamed, one given another promotion, one removed, one added, a refusal first), and reads an
experiment's results at a phone width with no sideways scrolling. No page breaks the content
security policy."""

import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from brands.roles import MARKETING_MANAGER
from core.tests.api_world import build_tenant, staff_user
from core.tests.browser import admin_page, chromium_launch
from customers.services import customer_create
from experiments.models import Experiment, ExperimentExposure
from experiments.services import VariantInput
from experiments.tests.factories import live_promotion, order, running_experiment
from labels.models import Label

SCREENSHOTS = Path(tempfile.gettempdir())
PASSWORD = "pass-word-123"
EXPERIMENTS = "/admin/experiments/experiment/"
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def signed_in(browser, live_server, width: int, next_path: str):
    return admin_page(
        browser,
        live_server,
        width=width,
        next_path=next_path,
        username="marketer",
        password=PASSWORD,
    )


def variants(experiment) -> list[tuple]:
    return [
        (v.name, v.promotion, v.weight, v.is_control) for v in experiment.variants.order_by("pk")
    ]


def rows(page, count: int) -> list[tuple]:
    """The variants' rows as the page shows them: name, promotion, weight, control."""
    chosen = "#variants-{} .field-promotion select option:checked"
    return [
        (
            page.input_value(f"input[name=variants-{i}-name]"),
            "".join(page.locator(chosen.format(i)).all_inner_texts()),
            page.input_value(f"input[name=variants-{i}-weight]"),
            page.is_checked(f"input[name=variants-{i}-is_control]"),
        )
        for i in range(count)
    ]


def pick(page, container: str, term: str, option: str) -> list[str]:
    """Search a select2 picker and choose `option`; returns what the search offered."""
    page.click(f"{container} .select2-selection")
    page.fill(".select2-container--open .select2-search__field", term)
    page.wait_for_selector(f".select2-results__option:has-text('{option}')")
    offered = page.locator(".select2-results__option").all_inner_texts()
    page.click(f".select2-results__option:has-text('{option}')")
    return offered


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_marketer_sets_up_and_changes_an_experiments_variants_at_a_desktop_width(live_server):
    from playwright.sync_api import sync_playwright

    # Given a brand with live promotions and a customer label, and another brand's
    a, b = build_tenant("a"), build_tenant("b")
    ten, fifteen = live_promotion(a, "10"), live_promotion(a, "15")
    twenty, thirty = live_promotion(a, "20"), live_promotion(a, "30")
    live_promotion(b, "12")
    regulars = Label.objects.create(brand=a.brand, name="Regulars", type="customer")
    Label.objects.create(brand=b.brand, name="Regulars of B", type="customer")
    staff_user("marketer", role=MARKETING_MANAGER, brands=[a.brand])
    starts = timezone.localtime() + timedelta(days=1)
    ends = starts + timedelta(days=21)

    with sync_playwright() as playwright:
        browser = chromium_launch(playwright)
        try:
            page, watch = signed_in(browser, live_server, 1440, f"{EXPERIMENTS}add/")
            page.wait_for_selector("#variants-group")
            label_row = page.locator(".form-row.field-audience_label")
            label_hidden_first = not label_row.is_visible()

            # When they fill the form: a label audience, dates, three variants, two controls
            page.fill("input[name=name]", "Ten or fifteen")
            page.fill("textarea[name=hypothesis]", "Fifteen percent off sells more than ten.")
            page.check("input[name=audience][value=label]")
            label_shown = label_row.is_visible()
            labels = pick(page, ".field-audience_label", "Reg", "Regulars")
            page.fill("input[name=starts_at_0]", starts.strftime("%Y-%m-%d"))
            page.fill("input[name=starts_at_1]", "09:00:00")
            page.fill("input[name=ends_at_0]", ends.strftime("%Y-%m-%d"))
            page.fill("input[name=ends_at_1]", "09:00:00")
            page.fill("input[name=gross_margin_percent]", "35")
            page.fill("input[name=variants-1-name]", "Fifteen off")
            promotions = pick(page, "#variants-1 .field-promotion", "off", "15% off")
            page.click("#variants-group .add-row a")
            page.fill("input[name=variants-2-name]", "Ten off")
            pick(page, "#variants-2 .field-promotion", "10", "10% off")
            page.fill("input[name=variants-2-weight]", "2")
            page.check("input[name=variants-2-is_control]")
            page.screenshot(path=str(SCREENSHOTS / "experiment_add_1440.png"), full_page=True)
            page.click("input[name=_save]")
            page.wait_for_selector(".errornote")
            refused = page.locator("#variants-group .errorlist").all_inner_texts()
            page.screenshot(path=str(SCREENSHOTS / "experiment_refused_1440.png"), full_page=True)

            # And then leave only the first row as the control
            page.uncheck("input[name=variants-2-is_control]")
            page.click("input[name=_save]")
            page.wait_for_selector("ul.messagelist")
            saved = page.locator("ul.messagelist").inner_text()
            page.click("#result_list a:has-text('Ten or fifteen')")
            page.wait_for_selector(".experiment-start-link")
            overflow = page.evaluate(OVERFLOW)
            page.screenshot(path=str(SCREENSHOTS / "experiment_draft_1440.png"), full_page=True)
            created = rows(page, 3)

            # When they change the draft's variants: rename the control, give Fifteen off the
            # twenty percent promotion, remove Ten off, add Thirty off, and leave no control
            page.fill("input[name=variants-0-name]", "No promotion")
            page.uncheck("input[name=variants-0-is_control]")
            page.fill("input[name=variants-1-name]", "Twenty off")
            pick(page, "#variants-1 .field-promotion", "20", "20% off")
            page.check("input[name=variants-2-DELETE]")
            page.click("#variants-group .add-row a")
            page.fill("input[name=variants-3-name]", "Thirty off")
            pick(page, "#variants-3 .field-promotion", "30", "30% off")
            edit_overflow = page.evaluate(OVERFLOW)
            page.screenshot(path=str(SCREENSHOTS / "experiment_edit_1440.png"), full_page=True)
            page.click("input[name=_save]")
            page.wait_for_selector(".errornote")
            edit_refused = page.locator("#variants-group .errorlist").all_inner_texts()

            # And then mark the first row as the control again
            page.check("input[name=variants-0-is_control]")
            page.click("input[name=_save]")
            page.wait_for_selector("ul.messagelist")
            changed = page.locator("ul.messagelist").inner_text()
        finally:
            browser.close()

    # Then the label field showed with its audience, the pickers offered the brand's rows only,
    # the refusal was a plain sentence, and the draft was saved with its three variants
    assert label_hidden_first and label_shown
    assert any("Regulars" in text for text in labels)
    assert not any("Regulars of B" in text for text in labels)
    assert any("15% off" in text for text in promotions)
    assert not any("12% off" in text for text in promotions)
    assert refused == ["Mark exactly one variant as the control."]
    assert "was added successfully" in saved
    assert created == [
        ("Control", "", "1", True),
        ("Fifteen off", str(fifteen), "1", False),
        ("Ten off", str(ten), "2", False),
    ]
    assert overflow <= 0
    # And the draft's variants changed as the form said, once refused in a sentence
    assert edit_refused == ["Mark exactly one variant as the control."]
    assert "was changed successfully" in changed
    experiment = Experiment.objects.get()
    assert (experiment.audience_label, experiment.status) == (regulars, "draft")
    assert variants(experiment) == [
        ("No promotion", None, 1, True),
        ("Twenty off", twenty, 1, False),
        ("Thirty off", thirty, 1, False),
    ]
    assert edit_overflow <= 0
    assert watch.problems == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_results_fit_a_phone(live_server):
    from playwright.sync_api import sync_playwright

    # Given a running experiment with exposed customers and their orders
    a = build_tenant("a")
    experiment = running_experiment(
        a,
        VariantInput(name="No promotion", promotion=None, is_control=True),
        VariantInput(name="Ten percent off everything", promotion=live_promotion(a, "10")),
        gross_margin_percent=Decimal("30"),
    )
    control, treated = experiment.variants.order_by("pk")
    exposed = experiment.starts_at + timedelta(minutes=5)
    for i in range(12):
        person = customer_create(brand=a.brand, email=f"p{i}@example.com", first_name=f"P{i}")
        ExperimentExposure.objects.create(
            experiment=experiment,
            variant=control if i % 2 else treated,
            customer=person,
            exposed_at=exposed,
        )
        if i in (1, 2, 4, 6, 8, 10):  # one of six control customers buys, five of six treated
            order(a, person, f"{10 + i}.00", "1.00" if i % 2 == 0 else "0.00", at=exposed)
    staff_user("marketer", role=MARKETING_MANAGER, brands=[a.brand])
    url = f"{EXPERIMENTS}{experiment.pk}/results/"

    with sync_playwright() as playwright:
        browser = chromium_launch(playwright)
        try:
            page, watch = signed_in(browser, live_server, 390, url)
            page.wait_for_selector("svg.experiment-chart")
            overflow = page.evaluate(OVERFLOW)
            charts = page.locator("svg.experiment-chart")
            chart_widths = [charts.nth(i).bounding_box()["width"] for i in range(charts.count())]
            warning = page.locator(".experiment-warnings").inner_text()
            tables = page.locator(".experiment-figures").all_inner_texts()
            page.screenshot(path=str(SCREENSHOTS / "experiment_results_390.png"), full_page=True)
            desktop = page.context.browser.new_context(viewport={"width": 1440, "height": 900})
            wide = desktop.new_page()
            wide.context.add_cookies(page.context.cookies())
            wide.goto(f"{live_server.url}{url}")
            wide_overflow = wide.evaluate(OVERFLOW)
            wide.screenshot(path=str(SCREENSHOTS / "experiment_results_1440.png"), full_page=True)
        finally:
            browser.close()

    # Then nothing scrolls sideways, both charts fit, the warning and the figures are there
    assert overflow <= 0 and wide_overflow <= 0
    assert len(chart_widths) == 2 and all(0 < width <= 390 for width in chart_widths)
    assert "The sample is too small to decide" in warning
    assert "two-proportion z-test" in tables[1] and "Welch's t-test" in tables[1]
    assert "EUR" in tables[0]
    assert watch.problems == []
