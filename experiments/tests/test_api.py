"""The experiments API: staff create experiments with their variants for their brands'
promotions, see them with each variant's exposures, start, stop and promote a winner, and read
the results; another brand's experiments answer as missing ones."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import URLPattern, get_resolver
from django.utils import timezone
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from brands.roles import ANALYST, MARKETING_MANAGER, STORE_MANAGER, SUPPORT_AGENT
from core.tests.api_world import assert_error, device_client, ids, staff_user, token_client
from core.tests.redis_server import resilient_caches
from customers.services import customer_create
from experiments.models import Experiment, ExperimentExposure, ExperimentVariant
from experiments.services import VariantInput
from experiments.tests.factories import live_promotion, order, running_experiment
from labels.models import Label
from promotions.models import Promotion

pytestmark = pytest.mark.django_db

API = "/api/v1/experiments/"


def url(experiment, suffix: str = "") -> str:
    return f"{API}{experiment.pk}/{suffix}"


def role_client(tenant, role: str):
    return token_client(staff_user(f"{role}-{tenant.brand.slug}", role=role, brands=[tenant.brand]))


def ten_or_nothing(tenant, *, start=True, **fields) -> Experiment:
    ten = live_promotion(tenant, "10")
    return running_experiment(
        tenant,
        VariantInput(name="No promotion", promotion=None, is_control=True),
        VariantInput(name="Ten off", promotion=ten),
        start=start,
        **fields,
    )


def _valid(tenant, promotion) -> dict:
    return {
        "brand": tenant.brand.slug,
        "name": "Ten off or nothing",
        "hypothesis": "More buyers than it costs.",
        "starts_at": "2030-06-01T00:00:00Z",
        "ends_at": "2030-06-15T00:00:00+02:00",
        "gross_margin_percent": "35.50",
        "variants": [
            {"name": "No promotion", "promotion": None, "is_control": True},
            {"name": "Ten off", "promotion": promotion.pk, "weight": 3},
        ],
    }


def _unchanged(*promotions):
    return (
        Experiment.objects.count(),
        ExperimentVariant.objects.count(),
        [(p.status, p.versions.count()) for p in promotions],
    )


# --- Creating -----------------------------------------------------------------------------------


def test_staff_create_a_draft_experiment_with_its_variants(a):
    # Given a live promotion of brand A
    ten = live_promotion(a, "10")

    # When a brand admin creates an experiment with two variants
    response = token_client(a.staff).post(API, _valid(a, ten), format="json")

    # Then it is a draft of brand A, with its variants as sent and nobody exposed yet
    assert response.status_code == 201, response.json()
    body = response.json()
    assert {k: body[k] for k in ("brand", "name", "status", "audience", "winner")} == {
        "brand": a.brand.slug,
        "name": "Ten off or nothing",
        "status": "draft",
        "audience": "everyone",
        "winner": None,
    }
    assert (body["gross_margin_percent"], body["ends_at"]) == ("35.50", "2030-06-14T22:00:00Z")
    assert [
        (v["name"], v["promotion"], v["promotion_name"], v["weight"], v["is_control"])
        for v in body["variants"]
    ] == [
        ("No promotion", None, None, 1, True),
        ("Ten off", ten.pk, "10% off", 3, False),
    ]
    assert [v["exposures"] for v in body["variants"]] == [0, 0]
    experiment = Experiment.objects.get(pk=body["id"])
    assert (experiment.brand, experiment.created_by) == (a.brand, a.staff)
    assert experiment.variants.count() == 2
    # ... and the promotion is untouched until the experiment starts
    ten.refresh_from_db()
    assert "experiment" not in ten.compiled


def test_an_audience_by_a_customer_label_of_the_brand(a):
    vip = Label.objects.create(name="VIP", type=Label.Type.CUSTOMER, brand=a.brand)
    body = {**_valid(a, live_promotion(a, "10")), "audience": "label", "audience_label": vip.pk}

    response = token_client(a.staff).post(API, body, format="json")

    assert response.status_code == 201, response.json()
    assert (response.json()["audience"], response.json()["audience_label"]) == ("label", vip.pk)


@pytest.mark.parametrize(
    ("change", "code", "fields"),
    [
        ({"name": " "}, "validation_error", {"name": ["This field may not be blank."]}),
        (
            {"ends_at": "2030-05-01T00:00:00Z"},
            "invalid_experiment",
            {"ends_at": ["The end must be after the start."]},
        ),
        (
            {"variants": [{"name": "Alone", "is_control": True}]},
            "invalid_experiment",
            {"variants": ["An experiment has between 2 and 10 variants."]},
        ),
        (
            {"variants": [{"name": "A", "is_control": True}, {"name": "B", "is_control": True}]},
            "invalid_experiment",
            {"variants": ["Mark exactly one variant as the control."]},
        ),
        (
            {"variants": [{"name": "A", "is_control": True}, {"name": "B", "weight": 0}]},
            "validation_error",
            {"variants.1.weight": ["Ensure this value is greater than or equal to 1."]},
        ),
        (
            {"variants": [{"name": "A", "is_control": True}, {"name": "B", "promotion": 999_999}]},
            "unknown_promotion",
            {"variants.1.promotion": ["Unknown promotion, or not one of your brands'."]},
        ),
        (
            {"audience": "label"},
            "invalid_experiment",
            {"audience_label": ["Choose the customer label."]},
        ),
        (
            {"audience": "label", "audience_label": 999_999},
            "unknown_label",
            {"audience_label": ["Unknown label, or not one of your brands'."]},
        ),
        (
            {"audience": "tier", "audience_tier": " "},
            "invalid_experiment",
            {"audience_tier": ["Name the loyalty tier."]},
        ),
        (
            {"gross_margin_percent": "100.01"},
            "validation_error",
            {"gross_margin_percent": ["Ensure this value is less than or equal to 100."]},
        ),
        (
            {"brand": "brand-b"},
            "unknown_brand",
            {"brand": ["Unknown brand, or not one of yours."]},
        ),
    ],
)
def test_bad_input_is_a_400_with_field_errors_and_changes_nothing(a, change, code, fields):
    ten = live_promotion(a, "10")
    before = _unchanged(ten)

    response = token_client(a.staff).post(API, {**_valid(a, ten), **change}, format="json")

    body = assert_error(response, 400, code)
    assert body["fields"] == fields
    assert _unchanged(ten) == before


def test_another_brands_promotion_and_label_are_refused_as_unknown_ones(a, b):
    theirs = live_promotion(b, "10")
    their_label = Label.objects.create(name="VIP", type=Label.Type.CUSTOMER, brand=b.brand)
    client = token_client(a.staff)
    body = _valid(a, theirs)

    response = client.post(API, body, format="json")
    assert assert_error(response, 400, "unknown_promotion")["fields"] == {
        "variants.1.promotion": ["Unknown promotion, or not one of your brands'."]
    }
    response = client.post(
        API,
        {
            **_valid(a, live_promotion(a, "5")),
            "audience": "label",
            "audience_label": their_label.pk,
        },
        format="json",
    )
    assert assert_error(response, 400, "unknown_label")["fields"] == {
        "audience_label": ["Unknown label, or not one of your brands'."]
    }
    assert not Experiment.objects.exists()


def test_a_promotion_of_another_of_ones_brands_is_refused_in_words(a, b):
    # Staff of both brands: brand B's promotion is theirs, but not of the experiment's brand
    both = staff_user("both", role=MARKETING_MANAGER, brands=[a.brand, b.brand])

    response = token_client(both).post(API, _valid(a, live_promotion(b, "10")), format="json")

    body = assert_error(response, 400, "invalid_experiment")
    assert body["fields"] == {
        "variants": ["Every promotion must be one of the experiment's brand."]
    }
    assert not Experiment.objects.exists()


# --- Listing, detail, brand isolation -----------------------------------------------------------


def test_staff_list_their_brands_experiments_by_status(a, b):
    running, draft = ten_or_nothing(a), ten_or_nothing(a, start=False)
    ten_or_nothing(b)
    client = token_client(a.staff)

    assert ids(client.get(API)) == {running.pk, draft.pk}
    assert ids(client.get(API, {"status": "draft"})) == {draft.pk}
    assert ids(client.get(API, {"brand": "brand-b"})) == set()
    assert_error(client.get(API, {"status": "lost"}), 400)
    row = next(r for r in client.get(API).json()["results"] if r["id"] == running.pk)
    assert [v["name"] for v in row["variants"]] == ["No promotion", "Ten off"]
    assert "exposures" not in row["variants"][0]


def test_the_list_takes_the_same_queries_for_one_experiment_or_many(
    a, django_assert_max_num_queries
):
    ten_or_nothing(a, start=False)
    client = token_client(a.staff)
    client.get(API)
    with django_assert_max_num_queries(12) as one:
        client.get(API)
    for _ in range(3):
        ten_or_nothing(a, start=False)

    with django_assert_max_num_queries(len(one.captured_queries)):
        assert client.get(API).json()["count"] == 4


def test_the_detail_counts_the_customers_exposed_to_each_variant(a):
    experiment = ten_or_nothing(a)
    control, treated = experiment.variants.order_by("pk")
    for i, variant in enumerate([control, treated, treated]):
        person = customer_create(brand=a.brand, email=f"x{i}@example.com")
        ExperimentExposure.objects.create(
            experiment=experiment, variant=variant, customer=person, exposed_at=timezone.now()
        )

    body = token_client(a.staff).get(url(experiment)).json()

    assert body["status"] == "running"
    assert [(v["id"], v["exposures"]) for v in body["variants"]] == [
        (control.pk, 1),
        (treated.pk, 2),
    ]


def test_another_brands_experiment_answers_as_a_missing_one(a, b):
    theirs = ten_or_nothing(b)
    treated = theirs.variants.get(is_control=False)
    client = token_client(a.staff)

    for response in (
        client.get(url(theirs)),
        client.get(url(theirs, "results/")),
        client.post(url(theirs, "start/")),
        client.post(url(theirs, "stop/")),
        client.post(url(theirs, "promote/"), {"variant": treated.pk}, format="json"),
    ):
        assert_error(response, 404, "experiment_not_found")
    missing = client.get(f"{API}999999999/")
    assert_error(missing, 404, "experiment_not_found")
    assert ids(client.get(API)) == set()
    theirs.refresh_from_db()
    assert (theirs.status, theirs.winner_id) == ("running", None)
    assert Promotion.objects.get(pk=treated.promotion_id).status == "active"


# --- Roles --------------------------------------------------------------------------------------


def test_what_each_role_may_do_with_experiments(a, django_capture_on_commit_callbacks):
    def answers(role: str) -> dict:
        draft, running = ten_or_nothing(a, start=False), ten_or_nothing(a)
        client = role_client(a, role)
        create = _valid(a, live_promotion(a, "7"))
        with django_capture_on_commit_callbacks(execute=True):
            return {
                "list": client.get(API).status_code,
                "create": client.post(API, create, format="json").status_code,
                "detail": client.get(url(running)).status_code,
                "results": client.get(url(running, "results/")).status_code,
                "start": client.post(url(draft, "start/")).status_code,
                "stop": client.post(url(running, "stop/")).status_code,
                "promote": client.post(
                    url(running, "promote/"),
                    {"variant": running.variants.get(is_control=True).pk},
                    format="json",
                ).status_code,
            }

    reads = {"list": 200, "detail": 200, "results": 200}
    writes = dict.fromkeys(["create", "start", "stop", "promote"], 403)
    assert answers(ANALYST) == {**reads, **writes}
    assert answers(STORE_MANAGER) == dict.fromkeys([*reads, *writes], 403)
    assert answers(SUPPORT_AGENT) == dict.fromkeys([*reads, *writes], 403)
    assert answers(MARKETING_MANAGER) == {
        **reads,
        "create": 201,
        "start": 200,
        "stop": 200,
        # stopped a moment ago without a winner: promoting one afterwards is allowed
        "promote": 200,
    }
    assert Experiment.objects.filter(name="Ten off or nothing").count() == 1


def test_customers_and_tills_are_refused(a):
    experiment = ten_or_nothing(a)
    for client in (token_client(a.customer.user), device_client(a.device_key)):
        assert_error(client.get(API), 403)
        assert_error(client.get(url(experiment, "results/")), 403)
        assert_error(client.post(url(experiment, "stop/")), 403)
    experiment.refresh_from_db()
    assert experiment.status == "running"


# --- Start, stop, promote -----------------------------------------------------------------------


def test_start_then_stop_through_the_api(a, django_capture_on_commit_callbacks):
    five, ten = live_promotion(a, "5"), live_promotion(a, "10")
    client = token_client(a.staff)
    created = client.post(
        API,
        {
            **_valid(a, ten),
            "starts_at": (timezone.now() - timedelta(hours=1)).isoformat(),
            "ends_at": (timezone.now() + timedelta(days=7)).isoformat(),
            "variants": [
                {"name": "Five (today)", "promotion": five.pk, "is_control": True},
                {"name": "Ten", "promotion": ten.pk},
            ],
        },
        format="json",
    ).json()
    experiment = Experiment.objects.get(pk=created["id"])

    # When it is started: both promotions are compiled with the experiment
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(url(experiment, "start/"))
    assert started.status_code == 200, started.json()
    assert started.json()["status"] == "running"
    for promotion in (five, ten):
        promotion.refresh_from_db()
        assert promotion.compiled["experiment"]["id"] == experiment.pk
    # ... and starting it again is a conflict that changes nothing
    assert_error(client.post(url(experiment, "start/")), 409, "experiment_not_draft")

    # When it is stopped: the control goes on for everyone, the other variant is paused
    with django_capture_on_commit_callbacks(execute=True):
        stopped = client.post(url(experiment, "stop/"))
    assert stopped.status_code == 200, stopped.json()
    assert (stopped.json()["status"], stopped.json()["winner"]) == ("stopped", None)
    assert stopped.json()["stopped_at"]
    five.refresh_from_db()
    ten.refresh_from_db()
    assert (five.status, ten.status) == ("active", "paused")
    assert "experiment" not in five.compiled
    assert_error(client.post(url(experiment, "stop/")), 409, "experiment_not_running")


def test_promoting_a_winner_through_the_api(a, django_capture_on_commit_callbacks):
    five, ten = live_promotion(a, "5"), live_promotion(a, "10")
    experiment = running_experiment(
        a,
        VariantInput(name="Five (today)", promotion=five, is_control=True),
        VariantInput(name="Ten", promotion=ten),
    )
    winner = experiment.variants.get(promotion=ten)
    client = token_client(a.staff)

    # A variant of another experiment is not one of this one's
    other = ten_or_nothing(a, start=False).variants.first()
    body = assert_error(
        client.post(url(experiment, "promote/"), {"variant": other.pk}, format="json"),
        400,
        "invalid_experiment",
    )
    assert body["fields"] == {"variant": ["Unknown."]}
    assert_error(client.post(url(experiment, "promote/"), {}, format="json"), 400)
    experiment.refresh_from_db()
    assert (experiment.status, experiment.winner_id) == ("running", None)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(experiment, "promote/"), {"variant": winner.pk}, format="json")

    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["winner"]) == ("stopped", winner.pk)
    five.refresh_from_db()
    ten.refresh_from_db()
    assert (five.status, ten.status) == ("ended", "active")
    assert_error(
        client.post(url(experiment, "promote/"), {"variant": winner.pk}, format="json"),
        409,
        "experiment_has_winner",
    )


def test_a_draft_has_no_winner_to_promote(a):
    draft = ten_or_nothing(a, start=False)

    response = token_client(a.staff).post(
        url(draft, "promote/"), {"variant": draft.variants.first().pk}, format="json"
    )

    assert_error(response, 409, "experiment_not_started")


# --- Results ------------------------------------------------------------------------------------


def hand_made(tenant) -> Experiment:
    """experiments/tests/test_results.py's data set: four customers per variant."""
    experiment = ten_or_nothing(tenant, gross_margin_percent=Decimal("30"))
    control, treated = experiment.variants.order_by("pk")
    people = [
        customer_create(brand=tenant.brand, email=f"r{i}@example.com", first_name=f"R{i}")
        for i in range(8)
    ]
    exposed = experiment.starts_at + timedelta(minutes=5)
    for person, variant in zip(people, [control] * 4 + [treated] * 4, strict=True):
        ExperimentExposure.objects.create(
            experiment=experiment, variant=variant, customer=person, exposed_at=exposed
        )
    c1, c2, _c3, _c4, b1, b2, b3, _b4 = people
    later = exposed + timedelta(minutes=1)
    for person, total, discount in [
        (c1, "20.00", "0.00"),
        (c2, "10.00", "0.00"),
        (c2, "30.00", "0.00"),
        (b1, "18.00", "2.00"),
        (b2, "27.00", "3.00"),
        (b3, "9.00", "1.00"),
    ]:
        order(tenant, person, total, discount, at=later)
    order(tenant, b1, "99.00", at=later, status="pending")  # not paid: does not count
    return experiment


def test_the_results_of_a_hand_computed_experiment(a):
    experiment = hand_made(a)
    control, treated = experiment.variants.order_by("pk")

    response = token_client(a.staff).get(url(experiment, "results/"))

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["experiment"], body["currency"], body["confidence"]) == (
        experiment.pk,
        a.brand.currency,
        0.95,
    )
    assert body["window_end"] and body["computed_at"]
    c, t = body["variants"]
    assert (c["variant"], c["is_control"], c["promotion"]) == (control.pk, True, None)
    assert (t["variant"], t["is_control"], t["promotion"]) == (
        treated.pk,
        False,
        treated.promotion_id,
    )
    # Money as decimal strings, rates as floats (the arithmetic is in test_results.py)
    assert {k: c[k] for k in ("customers", "buyers", "orders", "conversion_rate")} == {
        "customers": 4,
        "buyers": 2,
        "orders": 3,
        "conversion_rate": 0.5,
    }
    assert [
        c[k]
        for k in (
            "revenue_per_customer",
            "average_order_value",
            "discount_cost_per_customer",
            "margin_per_customer",
        )
    ] == ["15.00", "20.00", "0.00", "4.50"]
    # 2 of 4: Wilson centre (0.5 + z^2/8) / (1 + z^2/4) = 0.5, half-width
    # z x sqrt(0.25/4 + z^2/64) / (1 + z^2/4) = 0.349961
    assert (c["conversion_low"], c["conversion_high"]) == (
        pytest.approx(0.150039, abs=1e-6),
        pytest.approx(0.849961, abs=1e-6),
    )
    assert (t["customers"], t["buyers"], t["orders"], t["conversion_rate"]) == (4, 3, 3, 0.75)
    assert [
        t[k]
        for k in (
            "revenue_per_customer",
            "average_order_value",
            "discount_cost_per_customer",
            "margin_per_customer",
        )
    ] == ["13.50", "18.00", "1.50", "4.05"]
    # The control is compared with nobody; the variant against it, with the test named
    assert c["comparisons"] is None
    conversion = t["comparisons"]["conversion_rate"]
    assert conversion["test"] == "two_proportion_z_test"
    assert isinstance(conversion["p_value"], float)
    assert conversion["difference"] == pytest.approx(0.25)
    assert conversion["p_value"] == pytest.approx(0.46521, abs=1e-5)
    assert (conversion["low"], conversion["high"]) == (
        pytest.approx(-0.398197, abs=1e-6),
        pytest.approx(0.898197, abs=1e-6),
    )
    revenue = t["comparisons"]["revenue_per_customer"]
    # -1.5 -/+ 28.8837: the interval's ends rounded half up to the cent
    assert revenue == {
        "test": "welch_t_test",
        "difference": "-1.50",
        "low": "-30.38",
        "high": "27.38",
        "p_value": pytest.approx(0.89873, abs=1e-5),
    }
    assert set(t["comparisons"]) == {
        "conversion_rate",
        "revenue_per_customer",
        "average_order_value",
        "discount_cost_per_customer",
        "incremental_margin",
    }
    assert {m["test"] for k, m in t["comparisons"].items() if k != "conversion_rate"} == {
        "welch_t_test"
    }
    # Eight customers decide nothing
    assert len(body["warnings"]) == 1
    assert "too small to decide" in body["warnings"][0]


def test_results_are_cached_until_the_experiment_changes(
    a, settings, django_capture_on_commit_callbacks
):
    settings.EXPERIMENT_RESULTS_CACHE_SECONDS = 300
    experiment = hand_made(a)
    client = token_client(a.staff)
    first = client.get(url(experiment, "results/")).json()
    # A new order of an exposed customer is not seen while the figures are cached...
    buyer = ExperimentExposure.objects.filter(variant__is_control=True).first().customer
    order(a, buyer, "40.00", at=experiment.starts_at + timedelta(minutes=30))

    assert client.get(url(experiment, "results/")).json() == first

    # ... and is once the experiment changes (stopped: a new version)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url(experiment, "stop/"))
    control = client.get(url(experiment, "results/")).json()["variants"][0]
    assert (control["orders"], control["revenue_per_customer"]) == (4, "25.00")


def test_results_answer_when_the_cache_raises(a, monkeypatch):
    experiment = hand_made(a)

    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", broken)
    monkeypatch.setattr(cache, "set", broken)

    response = token_client(a.staff).get(url(experiment, "results/"))

    assert response.status_code == 200
    assert response.json()["variants"][0]["revenue_per_customer"] == "15.00"


def test_results_answer_from_the_database_with_redis_killed(a, settings, redis_server):
    # Given the production cache on a Redis of our own, with the results cached
    settings.CACHES = resilient_caches(redis_server.url, prefix="experiments", cooldown=60)
    experiment = hand_made(a)
    client = token_client(a.staff)
    assert client.get(url(experiment, "results/")).status_code == 200
    assert any("experiment-results" in key for key in redis_server.keys("experiments"))

    # When Redis is killed
    redis_server.kill()
    response = client.get(url(experiment, "results/"))

    # Then the results are computed again from the database
    assert response.status_code == 200, response.content[:300]
    assert response.json()["variants"][1]["revenue_per_customer"] == "13.50"


# --- Throttling and the schema ------------------------------------------------------------------


def _experiment_views():
    def views(pattern):
        if isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "view_class", None)
            if view is not None and view.__module__ == "experiments.api.views":
                yield view
        else:
            for child in pattern.url_patterns:
                yield from views(child)

    for pattern in get_resolver().url_patterns:
        yield from views(pattern)


def test_every_experiments_view_counts_under_the_experiments_scope():
    views = list(_experiment_views())

    assert len(views) == 6
    assert {view.throttle_scope for view in views} == {"experiments"}


def test_past_the_rate_staff_get_a_429(settings, a):
    experiment = ten_or_nothing(a)
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "experiments": "2/minute"}
    client = token_client(a.staff)

    answers = [client.get(API).status_code for _ in range(3)]

    assert answers == [200, 200, 429]
    assert_error(client.get(url(experiment, "results/")), 429, "throttled")


def test_the_schema_documents_the_operations_with_examples_and_their_errors():
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    messages = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    GENERATOR_STATS.reset()

    validate_schema(schema)
    assert [m for m in messages if "experiment" in str(m).lower()] == []
    paths = {path: ops for path, ops in schema["paths"].items() if path.startswith(API)}
    assert len([op for ops in paths.values() for op in ops]) == 8
    create = paths[API]["post"]
    assert create["requestBody"]["content"]["application/json"]["examples"]
    for ops in paths.values():
        for operation in ops.values():
            for code in ("400", "401", "403", "429"):
                error = operation["responses"][code]["content"]["application/json"]
                assert error["schema"] == {"$ref": "#/components/schemas/Error"}
    for action in ("start", "stop", "promote"):
        assert "409" in paths[f"{API}{{experiment_id}}/{action}/"]["post"]["responses"]
    for path, method in [
        (API, "get"),
        (f"{API}{{experiment_id}}/", "get"),
        (f"{API}{{experiment_id}}/results/", "get"),
    ]:
        assert paths[path][method]["responses"]["200"]["content"]["application/json"]["examples"]


def test_a_draft_is_changed_as_a_whole_and_a_started_one_is_refused(a, b):
    draft = ten_or_nothing(a, start=False)
    fifteen = live_promotion(a, "15")
    client = token_client(a.staff)
    body = {**_valid(a, fifteen), "name": "Fifteen or nothing"}
    body.pop("brand")

    changed = client.put(url(draft), body, format="json")

    assert changed.status_code == 200, changed.content
    assert changed.json()["name"] == "Fifteen or nothing"
    assert [(v["name"], v["promotion"], v["weight"]) for v in changed.json()["variants"]] == [
        ("No promotion", None, 1),
        ("Ten off", fifteen.pk, 3),
    ]
    refused = client.put(url(draft), {**body, "variants": body["variants"][:1]}, format="json")
    assert_error(refused, 400, "invalid_experiment")
    assert draft.variants.count() == 2
    assert_error(token_client(b.staff).put(url(draft), body, format="json"), 404)
    assert_error(role_client(a, ANALYST).put(url(draft), body, format="json"), 403)
    running = ten_or_nothing(a)
    assert_error(client.put(url(running), body, format="json"), 409, "experiment_not_draft")
