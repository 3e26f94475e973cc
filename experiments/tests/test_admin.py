"""The experiments admin: a draft set up with its variants through the form (the customer label
and the promotions picked by search among the brand's), refused in plain sentences; a draft's
fields and variants changed together (rows renamed, repointed, added, removed), refused the same
way, never over someone else's save; a started experiment read only, a POST to it changing
nothing; another brand's staff never see it; the start, stop and promote buttons ask first and
call the services; the results page shows a small data set's figures and its chart."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.test import Client
from django.utils import timezone

from brands.roles import MARKETING_MANAGER
from core.tests.api_world import staff_user
from customers.services import customer_create
from experiments.models import Experiment, ExperimentExposure, ExperimentVariant
from experiments.services import VariantInput, experiment_start
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


def draft(tenant, *variants: VariantInput) -> Experiment:
    return running_experiment(tenant, *variants, start=False)


def change_form(experiment, rows, **data) -> dict:
    """A draft's change form as the browser posts it: its fields (changed by `data`) and the
    variants' rows, saved ones first (with their `id`, and `DELETE` to remove one)."""
    form = experiment_form(experiment.brand, [], **data)
    form.pop("brand")  # fixed once created: not a field of the change form
    saved = [row for row in rows if "id" in row]
    form.update({"variants-TOTAL_FORMS": str(len(rows)), "variants-INITIAL_FORMS": str(len(saved))})
    for index, row in enumerate(rows):
        for key, value in row.items():
            form[f"variants-{index}-{key}"] = value
    return form


def saved_row(saved: ExperimentVariant, **changes) -> dict:
    """A saved variant's row as the page shows it, with `changes`."""
    row = variant(saved.name, saved.promotion, str(saved.weight), saved.is_control)
    row.update({"id": str(saved.pk), "experiment": str(saved.experiment_id), **changes})
    return {key: value for key, value in row.items() if value is not None}


def variants_of(experiment) -> list[tuple]:
    return [
        (v.name, v.promotion, v.weight, v.is_control) for v in experiment.variants.order_by("pk")
    ]


def test_a_drafts_fields_and_variants_are_changed_together_through_the_form(a):
    # Given a draft of three variants
    client = logged_in(marketer(a))
    ten, fifteen, twenty, five = (live_promotion(a, p) for p in ("10", "15", "20", "5"))
    experiment = draft(
        a,
        VariantInput(name="Control", promotion=None, is_control=True),
        VariantInput(name="Ten off", promotion=ten),
        VariantInput(name="Fifteen off", promotion=fifteen),
    )
    control, ten_off, fifteen_off = experiment.variants.order_by("pk")
    url = f"{EXPERIMENTS}{experiment.pk}/change/"

    # When its page opens, its variants are a form: rows to change, remove and add
    page = client.get(url).content.decode()
    assert 'name="variants-0-name"' in page and 'name="variants-2-DELETE"' in page
    assert 'id="variants-empty"' in page and 'name="variants-MAX_NUM_FORMS" value="10"' in page
    assert f"{AUTOCOMPLETE}?brand={a.brand.pk}" in page
    assert "experiment-variants-locked" not in page

    # And they rename the control, give Ten off another promotion, remove Fifteen off and add
    # Five off, with a new name and audience
    response = client.post(
        url,
        change_form(
            experiment,
            [
                saved_row(control, name="No promotion"),
                saved_row(ten_off, promotion=str(twenty.pk), weight="2"),
                saved_row(fifteen_off, DELETE="on"),
                variant("Five off", five),
            ],
            name="Five, ten or twenty",
            audience="tier",
            audience_tier="Gold",
        ),
    )

    # Then the draft has its new fields and exactly the variants of the form, in its order
    assert response.status_code == 302, response.content.decode()[:3000]
    experiment.refresh_from_db()
    assert (experiment.name, experiment.audience, experiment.audience_tier, experiment.status) == (
        "Five, ten or twenty",
        "tier",
        "Gold",
        "draft",
    )
    assert variants_of(experiment) == [
        ("No promotion", None, 1, True),
        ("Ten off", twenty, 2, False),
        ("Five off", five, 1, False),
    ]
    done = client.get(EXPERIMENTS).content.decode()
    assert "was changed successfully" in done
    history = LogEntry.objects.get(object_id=str(experiment.pk), action_flag=CHANGE)
    told = history.get_change_message()
    for sentence in (
        "Changed Name for experiment variant “No promotion”.",
        "Changed Promotion and Weight for experiment variant “Ten off”.",
        "Deleted experiment variant “Fifteen off”.",
        "Added experiment variant “Five off”.",
    ):
        assert sentence in told, told

    # And the control can move to another row
    first, second, third = experiment.variants.order_by("pk")
    response = client.post(
        url,
        change_form(
            experiment,
            [
                saved_row(first, is_control=None),
                saved_row(second, is_control="on"),
                saved_row(third),
            ],
            name="Five, ten or twenty",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert [v[3] for v in variants_of(experiment)] == [False, True, False]


def test_bad_variants_of_a_draft_are_refused_in_plain_sentences_and_nothing_changes(a):
    client = logged_in(marketer(a))
    ten, fifteen = live_promotion(a, "10"), live_promotion(a, "15")
    experiment = draft(
        a,
        VariantInput(name="Control", promotion=None, is_control=True),
        VariantInput(name="Ten off", promotion=ten),
    )
    control, ten_off = experiment.variants.order_by("pk")
    before = (variants_of(experiment), sorted(experiment.variants.values_list("pk", flat=True)))
    url = f"{EXPERIMENTS}{experiment.pk}/change/"
    yesterday = (timezone.localtime() - timedelta(days=1)).strftime("%Y-%m-%d")
    cases = [
        (
            [saved_row(control, is_control=None), saved_row(ten_off)],
            {},
            ["Mark exactly one variant as the control."],
        ),
        (
            [saved_row(control), saved_row(ten_off, DELETE="on")],
            {},
            ["An experiment has between 2 and 10 variants."],
        ),
        (
            [saved_row(control), saved_row(ten_off), variant("Ten again", ten)],
            {},
            ["A promotion can be only one of the variants."],
        ),
        (
            [saved_row(control), saved_row(ten_off, name="", weight="0")],
            {},
            ["This field is required.", "Ensure this value is greater than or equal to 1."],
        ),
        (
            [saved_row(control, is_control=None), variant("Fifteen", fifteen)],
            {"ends_at_0": yesterday},
            ["Mark exactly one variant as the control.", "The end must be after the start."],
        ),
    ]
    for rows, data, sentences in cases:
        response = client.post(url, change_form(experiment, rows, name="Renamed", **data))
        html = response.content.decode()
        assert response.status_code == 200, (rows, data)
        for sentence in sentences:
            assert sentence in html, (sentence, html[html.find("errorlist") - 200 :][:800])
        assert "Please correct the error" in html

    # The sentence is above the variants, the field's on its field
    assert 'class="errorlist nonform"' in html
    assert html.index("The end must be after the start.") < html.index('id="variants-group"')
    experiment.refresh_from_db()
    assert experiment.name == "Ten or fifteen"
    assert (variants_of(experiment), sorted(experiment.variants.values_list("pk", flat=True))) == (
        before
    )


def test_variants_saved_by_someone_else_meanwhile_are_not_overwritten(a):
    # Given a draft whose page two marketers opened; the first saves it
    client = logged_in(marketer(a))
    ten = live_promotion(a, "10")
    experiment = draft(
        a,
        VariantInput(name="Control", promotion=None, is_control=True),
        VariantInput(name="Ten off", promotion=ten),
    )
    control, ten_off = experiment.variants.order_by("pk")
    url = f"{EXPERIMENTS}{experiment.pk}/change/"
    first = change_form(experiment, [saved_row(control), saved_row(ten_off, name="Ten percent")])
    assert client.post(url, first).status_code == 302

    # When the second saves the rows their page still shows
    second = change_form(experiment, [saved_row(control), saved_row(ten_off, weight="3")])
    html = client.post(url, second).content.decode()

    # Then they are told to reload, and the first one's variants stay
    assert "The variants were changed by someone else while this page was open" in html
    assert variants_of(experiment) == [("Control", None, 1, True), ("Ten percent", ten, 1, False)]


def test_a_started_experiment_is_read_only_and_a_post_changes_nothing(a):
    client = logged_in(marketer(a))
    ten = live_promotion(a, "10")
    experiment = draft(
        a,
        VariantInput(name="Control", promotion=None, is_control=True),
        VariantInput(name="Ten off", promotion=ten),
    )
    control, ten_off = experiment.variants.order_by("pk")
    url = f"{EXPERIMENTS}{experiment.pk}/change/"
    # The draft's page as it was opened, then it is started
    edit = change_form(
        experiment, [saved_row(control), saved_row(ten_off, name="Ten percent")], name="Again"
    )
    client.post(f"{EXPERIMENTS}{experiment.pk}/start/")
    experiment.refresh_from_db()
    assert experiment.status == "running"

    # Its page has no form: fields and variants are shown, not inputs
    page = client.get(url).content.decode()
    assert 'name="_save"' not in page and 'name="name"' not in page
    assert 'name="variants-0-name"' not in page and "DELETE" not in page
    assert "variants-empty" not in page and "Ten off" in page
    assert "The variants no longer change once the experiment has started" in page

    # The draft's form posted now changes nothing, and says why in a sentence
    response = client.post(url, edit, follow=True)
    assert response.redirect_chain == [(url, 302)]
    assert (
        "The experiment Ten or fifteen was started meanwhile, so nothing was changed: a started "
        "experiment can no longer be edited."
    ) in response.content.decode()
    experiment.refresh_from_db()
    assert (experiment.name, experiment.status) == ("Ten or fifteen", "running")
    assert variants_of(experiment) == [("Control", None, 1, True), ("Ten off", ten, 1, False)]
    assert not LogEntry.objects.filter(action_flag=CHANGE).exists()


def test_a_draft_started_while_being_saved_is_refused_and_nothing_changes(a, monkeypatch):
    # Given a draft that is started between the page's checks and the service's lock
    import experiments.admin as experiments_admin

    client = logged_in(marketer(a))
    ten = live_promotion(a, "10")
    experiment = draft(
        a,
        VariantInput(name="Control", promotion=None, is_control=True),
        VariantInput(name="Ten off", promotion=ten),
    )
    control, ten_off = experiment.variants.order_by("pk")
    real_update = experiments_admin.experiment_update

    def started_first(**kwargs):
        experiment_start(experiment_id=kwargs["experiment_id"])
        return real_update(**kwargs)

    monkeypatch.setattr(experiments_admin, "experiment_update", started_first)
    url = f"{EXPERIMENTS}{experiment.pk}/change/"

    # When the draft's form is saved
    edit = change_form(
        experiment, [saved_row(control), saved_row(ten_off, name="Ten percent")], name="Again"
    )
    response = client.post(url, edit, follow=True)

    # Then the service refuses it, the page says so, and only the start happened
    assert response.redirect_chain == [(url, 302)]
    assert "The experiment Ten or fifteen was started meanwhile" in response.content.decode()
    experiment.refresh_from_db()
    assert (experiment.name, experiment.status) == ("Ten or fifteen", "running")
    assert variants_of(experiment) == [("Control", None, 1, True), ("Ten off", ten, 1, False)]
    assert not LogEntry.objects.filter(action_flag=CHANGE).exists()


def test_a_drafts_promotion_that_ended_since_is_kept_not_dropped(a):
    client = logged_in(marketer(a))
    ten = live_promotion(a, "10")
    experiment = draft(
        a,
        VariantInput(name="Control", promotion=None, is_control=True),
        VariantInput(name="Ten off", promotion=ten),
    )
    Promotion.objects.filter(pk=ten.pk).update(status="ended")
    ten.refresh_from_db()
    control, ten_off = experiment.variants.order_by("pk")
    url = f"{EXPERIMENTS}{experiment.pk}/change/"

    page = client.get(url).content.decode()
    assert f'<option value="{ten.pk}" selected>' in page
    rows = [saved_row(control), saved_row(ten_off)]
    response = client.post(url, change_form(experiment, rows, name="Renamed"))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert variants_of(experiment) == [("Control", None, 1, True), ("Ten off", ten, 1, False)]


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
