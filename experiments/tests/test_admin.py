"""The experiments admin: a draft set up with its variants through the form (the customer label
and the promotions picked by search among the brand's), refused in plain sentences; another
brand's staff never see it; the start, stop and promote buttons ask first and call the services;
the results page shows a small data set's figures and its chart."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from brands.roles import MARKETING_MANAGER
from core.tests.api_world import staff_user
from customers.services import customer_create
from experiments.models import Experiment, ExperimentExposure, ExperimentVariant
from experiments.services import VariantInput
from experiments.tests.factories import live_promotion, order, running_experiment
from labels.models import Label
from promotions.models import Promotion

pytestmark = pytest.mark.django_db

EXPERIMENTS = "/admin/experiments/experiment/"
ADD = f"{EXPERIMENTS}add/"
AUTOCOMPLETE = f"{EXPERIMENTS}autocomplete/"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def marketer(tenant, username="marketer"):
    return staff_user(username, role=MARKETING_MANAGER, brands=[tenant.brand])


def experiment_form(brand, variants, **data) -> dict:
    """The add form as the browser posts it: the experiment's fields and its variants' rows."""
    starts = timezone.localtime() + timedelta(days=1)
    ends = starts + timedelta(days=14)
    form = {
        "brand": brand.pk,
        "name": "Ten or fifteen",
        "hypothesis": "Fifteen percent off sells more than ten.",
        "audience": "everyone",
        "audience_label": "",
        "audience_tier": "",
        "starts_at_0": starts.strftime("%Y-%m-%d"),
        "starts_at_1": "09:00:00",
        "ends_at_0": ends.strftime("%Y-%m-%d"),
        "ends_at_1": "09:00:00",
        "gross_margin_percent": "35",
        "variants-TOTAL_FORMS": str(len(variants)),
        "variants-INITIAL_FORMS": "0",
        "variants-MIN_NUM_FORMS": "2",
        "variants-MAX_NUM_FORMS": "10",
    }
    for index, variant in enumerate(variants):
        for key, value in variant.items():
            form[f"variants-{index}-{key}"] = value
    form.update(data)
    return {key: value for key, value in form.items() if value is not None}


def variant(name, promotion=None, weight="1", control=False) -> dict:
    row = {"name": name, "promotion": promotion.pk if promotion else "", "weight": weight}
    if control:
        row["is_control"] = "on"
    return row


def picker(client, model_name, field_name, term="", brand=None) -> list[str]:
    params = {"app_label": "experiments", "model_name": model_name, "field_name": field_name}
    params["term"] = term
    url = AUTOCOMPLETE + (f"?brand={brand.pk}" if brand else "")
    response = client.get(url, params)
    assert response.status_code == 200, response.content[:300]
    return [row["text"] for row in response.json()["results"]]


def test_a_marketer_creates_an_experiment_with_its_variants_through_the_form(a, b):
    # Given a marketer of brand A, its live promotions, labels of every kind and brand
    user = marketer(a)
    client = logged_in(user)
    ten, fifteen = live_promotion(a, "10"), live_promotion(a, "15")
    live_promotion(b, "20")
    Promotion.objects.filter(pk=live_promotion(a, "5").pk).update(status="ended")
    vip = Label.objects.create(brand=a.brand, name="VIP", type="customer")
    Label.objects.create(brand=None, name="VIP everywhere", type="customer")
    Label.objects.create(brand=a.brand, name="VIP food", type="product")
    Label.objects.create(brand=b.brand, name="VIP of B", type="customer")

    # When they open the form
    page = client.get(ADD).content.decode()

    # Then the brand is preselected, the audience is a choice of three, the variants an inline
    # of two rows, and the pickers search the brand's customer labels and live promotions
    assert f'<option value="{a.brand.pk}" selected>' in page
    for value in ("everyone", "label", "tier"):
        assert f'type="radio" name="audience" value="{value}"' in page
    assert 'name="variants-TOTAL_FORMS" value="2"' in page
    assert 'value="Control"' in page and 'name="variants-0-is_control"' in page
    assert f"{AUTOCOMPLETE}?brand={a.brand.pk}" in page
    assert set(picker(client, "experiment", "audience_label", "VIP", a.brand)) == {
        "VIP everywhere",
        f"VIP ({a.brand.slug})",
    }
    assert set(picker(client, "experimentvariant", "promotion", "off", a.brand)) == {
        "10% off (Percent discount)",
        "15% off (Percent discount)",
    }
    other_picker = {"app_label": "labels", "model_name": "label", "field_name": "brand"}
    assert client.get(AUTOCOMPLETE, other_picker).status_code == 403

    # When they save an experiment for VIP customers, no promotion against fifteen percent
    response = client.post(
        ADD,
        experiment_form(
            a.brand,
            [variant("No promotion", control=True), variant("Fifteen", fifteen, weight="3")],
            audience="label",
            audience_label=str(vip.pk),
            audience_tier="Gold",  # not used by a label audience: left out
        ),
    )

    # Then it is a draft with its two variants, made by them
    assert response.status_code == 302, response.content.decode()[:3000]
    experiment = Experiment.objects.get()
    assert (experiment.brand, experiment.status, experiment.created_by) == (a.brand, "draft", user)
    assert (experiment.audience, experiment.audience_label, experiment.audience_tier) == (
        "label",
        vip,
        "",
    )
    assert experiment.gross_margin_percent == Decimal("35.00")
    assert experiment.hypothesis == "Fifteen percent off sells more than ten."
    assert [
        (v.name, v.promotion, v.weight, v.is_control) for v in experiment.variants.order_by("pk")
    ] == [("No promotion", None, 1, True), ("Fifteen", fifteen, 3, False)]
    listed = client.get(EXPERIMENTS).content.decode()
    assert "Ten or fifteen" in listed and "was added successfully" in listed
    assert ten.pk not in experiment.variants.values_list("promotion", flat=True)


def test_bad_input_is_refused_in_plain_sentences_and_nothing_is_created(a, b):
    client = logged_in(marketer(a))
    ten, fifteen, theirs = live_promotion(a, "10"), live_promotion(a, "15"), live_promotion(b, "5")
    food = Label.objects.create(brand=a.brand, name="Food", type="product")
    control, treated = variant("Control", control=True), variant("Ten", ten)
    yesterday = (timezone.localtime() - timedelta(days=1)).strftime("%Y-%m-%d")
    cases = [
        ({"name": ""}, [control, treated], ["This field is required."]),
        ({"ends_at_0": yesterday}, [control, treated], ["The end must be after the start."]),
        ({"audience": "label"}, [control, treated], ["Choose the customer label."]),
        ({"audience": "tier"}, [control, treated], ["Name the loyalty tier."]),
        ({"audience": "label", "audience_label": str(food.pk)}, [control, treated], ["Select a"]),
        ({}, [control], ["An experiment has between 2 and 10 variants."]),
        ({}, [variant("A", ten), variant("B", fifteen)], ["Mark exactly one variant as the"]),
        (
            {},
            [control, variant("Ten", ten), variant("Ten again", ten)],
            ["A promotion can be only one of the variants."],
        ),
        ({}, [control, variant("Theirs", theirs)], ["Select a valid choice."]),
        (
            {},
            [control, variant("", ten, weight="0")],
            ["This field is required.", "Ensure this value is greater than or equal to 1."],
        ),
    ]
    for data, variants, sentences in cases:
        response = client.post(ADD, experiment_form(a.brand, variants, **data))
        html = response.content.decode()
        assert response.status_code == 200, data
        for sentence in sentences:
            assert sentence in html, (data, sentence, html[html.find("errorlist") - 200 :][:800])
        assert "experiment_audience_fields" not in html and "IntegrityError" not in html

    # A user of two brands: a label and a promotion of the other brand than the experiment's
    both = staff_user("both", role=MARKETING_MANAGER, brands=[a.brand, b.brand])
    theirs_label = Label.objects.create(brand=b.brand, name="B people", type="customer")
    response = logged_in(both).post(
        ADD,
        experiment_form(
            a.brand,
            [control, variant("Theirs", theirs)],
            audience="label",
            audience_label=str(theirs_label.pk),
        ),
    )
    html = response.content.decode()
    assert "Choose a customer label of this brand." in html
    assert "Every promotion must be one of the experiment&#x27;s brand." in html

    assert not Experiment.objects.exists() and not ExperimentVariant.objects.exists()


def test_another_brands_staff_cannot_see_or_decide_it(a, b):
    ten = live_promotion(a, "10")
    experiment = running_experiment(
        a,
        VariantInput(name="Control", promotion=None, is_control=True),
        VariantInput(name="Ten off", promotion=ten),
        start=False,
    )
    client = logged_in(marketer(b, "marketer-b"))
    base = f"{EXPERIMENTS}{experiment.pk}/"

    assert "Ten or fifteen" not in client.get(EXPERIMENTS).content.decode()
    assert client.get(f"{base}change/").status_code == 302  # "does not exist"
    assert client.get(f"{base}results/").status_code == 404
    assert client.post(f"{base}start/").status_code == 404
    variant_id = experiment.variants.get(is_control=False).pk
    assert client.post(f"{base}promote/{variant_id}/").status_code == 404
    assert picker(client, "experimentvariant", "promotion", "off", a.brand) == []
    assert picker(client, "experimentvariant", "promotion", "off") == []
    experiment.refresh_from_db()
    assert experiment.status == "draft"


def test_a_draft_is_edited_and_a_running_experiment_is_read_only(a):
    client = logged_in(marketer(a))
    ten = live_promotion(a, "10")
    experiment = running_experiment(
        a,
        VariantInput(name="Control", promotion=None, is_control=True),
        VariantInput(name="Ten off", promotion=ten),
        start=False,
    )
    url = f"{EXPERIMENTS}{experiment.pk}/change/"
    page = client.get(url).content.decode()
    assert 'name="name"' in page and 'name="variants-0-name"' not in page  # variants are fixed
    data = experiment_form(a.brand, [], name="Renamed", audience="tier", audience_tier="Gold")
    data.pop("brand")
    data.update({"variants-TOTAL_FORMS": "2", "variants-INITIAL_FORMS": "2"})
    data.update({"variants-0-id": experiment.variants.order_by("pk")[0].pk})
    data.update({"variants-1-id": experiment.variants.order_by("pk")[1].pk})
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    experiment.refresh_from_db()
    assert (experiment.name, experiment.audience, experiment.audience_tier) == (
        "Renamed",
        "tier",
        "Gold",
    )
    assert experiment.variants.count() == 2

    client.post(f"{EXPERIMENTS}{experiment.pk}/start/")
    experiment.refresh_from_db()
    assert experiment.status == "running"
    page = client.get(url).content.decode()
    assert 'name="_save"' not in page and 'name="name"' not in page
    assert client.post(url, {**data, "name": "Again"}).status_code == 403
    experiment.refresh_from_db()
    assert experiment.name == "Renamed"


def test_start_stop_and_promote_ask_first_then_call_the_services(a):
    client = logged_in(marketer(a))
    ten, fifteen = live_promotion(a, "10"), live_promotion(a, "15")
    experiment = running_experiment(
        a,
        VariantInput(name="Ten off", promotion=ten, is_control=True),
        VariantInput(name="Fifteen off", promotion=fifteen),
        start=False,
    )
    base = f"{EXPERIMENTS}{experiment.pk}/"
    treated = experiment.variants.get(is_control=False)

    # A draft: Start, no Stop, no promote button
    page = client.get(f"{base}change/").content.decode()
    assert f'href="{base}start/"' in page and f"{base}stop/" not in page
    assert "Promote this variant" not in page and f'href="{base}results/"' in page

    # Start asks first, then starts
    confirm = client.get(f"{base}start/").content.decode()
    assert "Start the experiment Ten or fifteen?" in confirm and "Yes, start it" in confirm
    experiment.refresh_from_db()
    assert experiment.status == "draft"
    done = client.post(f"{base}start/", follow=True).content.decode()
    assert "The experiment Ten or fifteen is running" in done
    experiment.refresh_from_db()
    assert experiment.status == "running"

    # Running: Stop and a promote button per variant; starting again is refused in a sentence
    page = client.get(f"{base}change/").content.decode()
    assert f'href="{base}stop/"' in page and f"{base}start/" not in page
    assert page.count("Promote this variant") == 2
    again = client.post(f"{base}start/", follow=True).content.decode()
    assert "Only a draft experiment can be started." in again

    # Stop asks first, then stops: the control's promotion goes on, the other is paused
    confirm = client.get(f"{base}stop/").content.decode()
    assert "The control&#x27;s promotion, 10% off, goes on for everyone." in confirm
    done = client.post(f"{base}stop/", follow=True).content.decode()
    assert "The experiment Ten or fifteen is stopped." in done
    experiment.refresh_from_db()
    fifteen.refresh_from_db()
    assert (experiment.status, fifteen.status) == ("stopped", "paused")

    # Stopped without a winner: promote Fifteen off; it goes live, ten off ends
    confirm = client.get(f"{base}promote/{treated.pk}/").content.decode()
    assert "Promote Fifteen off, the winner of Ten or fifteen?" in confirm
    assert "The other variants&#x27; promotions end: 10% off." in confirm
    done = client.post(f"{base}promote/{treated.pk}/", follow=True).content.decode()
    assert "Fifteen off is the winner of Ten or fifteen" in done
    experiment.refresh_from_db()
    ten.refresh_from_db()
    fifteen.refresh_from_db()
    assert (experiment.winner, ten.status, fifteen.status) == (treated, "ended", "active")
    page = client.get(f"{base}change/").content.decode()
    assert "Promote this variant" not in page and "The winner" in page
    twice = client.post(f"{base}promote/{treated.pk}/", follow=True).content.decode()
    assert "A winner was already promoted." in twice


def test_a_service_refusal_is_shown_as_a_message(a):
    client = logged_in(marketer(a))
    ten = live_promotion(a, "10")
    experiment = running_experiment(
        a,
        VariantInput(name="Control", promotion=None, is_control=True),
        VariantInput(name="Ten off", promotion=ten),
        start=False,
    )
    Promotion.objects.filter(pk=ten.pk).update(status="paused")
    done = client.post(f"{EXPERIMENTS}{experiment.pk}/start/", follow=True).content.decode()
    assert (
        "Activate or schedule the variants&#x27; promotions first. 10% off is not active or "
        "scheduled."
    ) in done
    experiment.refresh_from_db()
    assert experiment.status == "draft"


def test_the_results_page_shows_the_figures_the_tests_and_a_chart(a):
    # Given the hand-computed data set of test_results: four control customers, four treated
    ten = live_promotion(a, "10")
    experiment = running_experiment(
        a,
        VariantInput(name="Control", promotion=None, is_control=True),
        VariantInput(name="Ten off", promotion=ten),
        gross_margin_percent=Decimal("30"),
    )
    control, treated = experiment.variants.order_by("pk")
    people = [
        customer_create(brand=a.brand, email=f"r{i}@example.com", first_name=f"R{i}")
        for i in range(8)
    ]
    exposed = experiment.starts_at + timedelta(minutes=5)
    for person, group in zip(people, [control] * 4 + [treated] * 4, strict=True):
        ExperimentExposure.objects.create(
            experiment=experiment, variant=group, customer=person, exposed_at=exposed
        )
    c1, c2, _c3, _c4, b1, b2, b3, _b4 = people
    later = exposed + timedelta(minutes=1)
    order(a, c1, "20.00", at=later)
    order(a, c2, "10.00", at=later)
    order(a, c2, "30.00", at=later)
    order(a, b1, "18.00", "2.00", at=later)
    order(a, b2, "27.00", "3.00", at=later)
    order(a, b3, "9.00", "1.00", at=later)

    # When a marketer opens its results from its page
    client = logged_in(marketer(a))
    page = client.get(f"{EXPERIMENTS}{experiment.pk}/change/").content.decode()
    url = f"{EXPERIMENTS}{experiment.pk}/results/"
    assert f'href="{url}"' in page
    html = client.get(url).content.decode()

    # Then each variant's figures are there, in the brand's currency
    for text in (
        '<td data-label="Value">4</td>',
        "50.0%",  # control: 2 of 4 bought
        "75.0%",  # ten off: 3 of 4
        "15.00 EUR",  # control revenue per customer
        "20.00 EUR",  # control average order
        "4.50 EUR",  # control margin per customer
        "13.50 EUR",
        "18.00 EUR",
        "1.50 EUR",  # ten off's discount cost per customer
        "4.05 EUR",
        # The differences with the control, their interval and p-value, and the tests
        "+25.0 points",
        "-1.50 EUR",
        "+1.50 EUR",
        "-0.45 EUR",
        "two-proportion z-test",
        "Welch&#x27;s t-test",
        "95% interval of the difference",
    ):
        assert text in html, text
    assert html.count("two-proportion z-test") >= 2
    assert "from -" in html and "points to +" in html
    # The warning, prominently, and the chart drawn on the server
    assert 'class="experiment-warnings" role="alert"' in html
    assert "The sample is too small to decide" in html
    assert html.count('<svg class="experiment-chart"') == 2
    assert "Control (control)</text>" in html
    assert 'text-anchor="end">50.0% (' in html and 'text-anchor="end">13.50 EUR</text>' in html
    assert '<rect class="chart-bar"' in html and 'class="chart-whisker"' in html
    assert "<script" not in html[html.find('id="content-main"') :]
    assert " style=" not in html


def test_a_drafts_results_page_says_there_are_none_yet(a):
    experiment = running_experiment(
        a,
        VariantInput(name="Control", promotion=None, is_control=True),
        VariantInput(name="Ten off", promotion=live_promotion(a, "10")),
        start=False,
    )
    html = logged_in(marketer(a)).get(f"{EXPERIMENTS}{experiment.pk}/results/").content.decode()
    assert "The experiment has not been started, so there are no results yet." in html
    assert "experiment-chart" not in html
