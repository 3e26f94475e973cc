"""Experiments through the pricing pipeline: each customer gets their variant's promotion only,
the same every time; exposures are recorded once; stopping and promoting a winner."""

import pytest
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from core.errors import ApplicationError, ConflictError
from customers.services import customer_create
from experiments.models import ExperimentExposure
from experiments.services import (
    VariantInput,
    experiment_promote,
    experiment_start,
    experiment_stop,
    experiment_update,
)
from experiments.tests.factories import live_promotion, running_experiment
from orders.services.placement import LineRequest, basket_price
from promotions.models import Promotion
from promotions.services.calculator import experiment_variant

pytestmark = pytest.mark.django_db


def quote(tenant, customer=None):
    return basket_price(
        brand=tenant.brand,
        lines=[LineRequest(product_id=tenant.product.pk, quantity=1)],
        customer=customer,
    )


def customers(tenant, count):
    return [
        customer_create(brand=tenant.brand, email=f"ab{i}@example.com", first_name=f"C{i}")
        for i in range(count)
    ]


@pytest.fixture
def ten_vs_none(a):
    ten = live_promotion(a, "10")
    experiment = running_experiment(
        a,
        VariantInput(name="No promotion", promotion=None, is_control=True),
        VariantInput(name="Ten off", promotion=ten, weight=1),
    )
    return experiment, ten


def test_each_customer_gets_the_promotion_of_their_variant_only(a, ten_vs_none):
    experiment, ten = ten_vs_none
    compiled = Promotion.objects.get(pk=ten.pk).compiled
    control, treated = experiment.variants.order_by("pk")
    people = customers(a, 30)

    for person in people:
        assigned = experiment_variant(
            compiled["experiment"],
            now=int(experiment.starts_at.timestamp()) + 3600,
            customer_id=person.pk,
            labels=set(),
            tier=None,
        )
        priced = quote(a, person)
        # 10% of 12.50, or nothing
        expected = 125 if assigned == treated.pk else 0
        assert priced.discount_total == expected
        rejected = {r["promotion_id"]: r["reason"] for r in priced.result["rejected"]}
        if assigned != treated.pk:
            assert rejected[ten.pk] == "not_in_variant"
    shares = set(
        ExperimentExposure.objects.filter(experiment=experiment).values_list("variant", flat=True)
    )
    assert shares == {control.pk, treated.pk}


def test_an_anonymous_basket_gets_the_control_and_is_not_counted(a, ten_vs_none):
    experiment, _ = ten_vs_none
    assert quote(a).discount_total == 0
    assert not ExperimentExposure.objects.filter(experiment=experiment).exists()


def test_a_customer_is_exposed_once_with_a_sticky_variant(a, ten_vs_none):
    experiment, _ = ten_vs_none
    person = customers(a, 1)[0]

    totals = {quote(a, person).total for _ in range(3)}

    assert len(totals) == 1
    exposure = ExperimentExposure.objects.get(experiment=experiment, customer=person)
    assert ExperimentExposure.objects.filter(experiment=experiment).count() == 1
    assert exposure.variant.is_control == (totals == {1250})


def test_an_audience_by_label_leaves_the_others_on_the_control(a):
    from labels.models import Label
    from labels.services import label_assign_customer

    vip = Label.objects.create(name="VIP", type=Label.Type.CUSTOMER, brand=a.brand)
    ten = live_promotion(a, "10")
    experiment = running_experiment(
        a,
        VariantInput(name="Control", promotion=None, is_control=True, weight=1),
        VariantInput(name="Ten", promotion=ten, weight=1000),
        audience="label",
        audience_label=vip,
    )
    insider, outsider = customers(a, 2)
    label_assign_customer(label=vip, customer=insider)

    assert quote(a, insider).discount_total == 125
    assert quote(a, outsider).discount_total == 0
    assert list(
        ExperimentExposure.objects.filter(experiment=experiment).values_list("customer", flat=True)
    ) == [insider.pk]


def test_stopping_pauses_the_variants_and_keeps_the_control(a):
    five, ten = live_promotion(a, "5"), live_promotion(a, "10")
    experiment = running_experiment(
        a,
        VariantInput(name="Five (today)", promotion=five, is_control=True),
        VariantInput(name="Ten", promotion=ten),
    )

    with TestCase.captureOnCommitCallbacks(execute=True):
        experiment_stop(experiment_id=experiment.pk)

    five.refresh_from_db()
    ten.refresh_from_db()
    assert (five.status, ten.status) == ("active", "paused")
    assert "experiment" not in five.compiled
    # everyone gets the control's promotion again
    assert {quote(a, person).discount_total for person in customers(a, 10)} == {63}  # half up


def test_promoting_a_winner_makes_it_the_promotion_for_everyone(a):
    five, ten = live_promotion(a, "5"), live_promotion(a, "10")
    experiment = running_experiment(
        a,
        VariantInput(name="Five (today)", promotion=five, is_control=True),
        VariantInput(name="Ten", promotion=ten),
    )
    winner = experiment.variants.get(promotion=ten)

    with TestCase.captureOnCommitCallbacks(execute=True):
        experiment_promote(experiment_id=experiment.pk, variant_id=winner.pk)

    five.refresh_from_db()
    ten.refresh_from_db()
    experiment.refresh_from_db()
    assert (experiment.status, experiment.winner_id) == ("stopped", winner.pk)
    assert (five.status, ten.status) == ("ended", "active")
    assert {quote(a, person).discount_total for person in customers(a, 10)} == {125}
    with pytest.raises(ConflictError):
        experiment_promote(experiment_id=experiment.pk, variant_id=winner.pk)


def test_an_experiment_needs_one_control_and_live_promotions(a):
    draft = live_promotion(a, "10")
    Promotion.objects.filter(pk=draft.pk).update(status="draft")
    with pytest.raises(ApplicationError) as refused:
        running_experiment(
            a,
            VariantInput(name="A", promotion=None),
            VariantInput(name="B", promotion=None),
        )
    assert refused.value.fields["variants"] == ["Mark exactly one variant as the control."]
    with pytest.raises(ApplicationError) as refused:
        running_experiment(
            a,
            VariantInput(name="A", promotion=None, is_control=True),
            VariantInput(name="B", promotion=Promotion.objects.get(pk=draft.pk)),
        )
    assert refused.value.fields["variants"] == ["10% off is not active or scheduled."]


def test_a_draft_can_be_changed_and_a_started_one_cannot(a):
    five, ten = live_promotion(a, "5"), live_promotion(a, "10")
    draft = running_experiment(
        a,
        VariantInput(name="Control", promotion=None, is_control=True),
        VariantInput(name="Five", promotion=five),
        start=False,
    )
    fields = {
        "name": "Five or ten",
        "starts_at": draft.starts_at,
        "ends_at": draft.ends_at,
        "variants": [
            VariantInput(name="Five", promotion=five, is_control=True),
            VariantInput(name="Ten", promotion=ten, weight=3),
        ],
    }

    changed = experiment_update(experiment_id=draft.pk, **fields)

    assert changed.name == "Five or ten"
    assert [(v.name, v.promotion_id, v.weight, v.is_control) for v in changed.variants.all()] == [
        ("Five", five.pk, 1, True),
        ("Ten", ten.pk, 3, False),
    ]
    with TestCase.captureOnCommitCallbacks(execute=True):
        experiment_start(experiment_id=draft.pk)
    with pytest.raises(ConflictError):
        experiment_update(experiment_id=draft.pk, **fields)


def _gold_member(tenant, customer):
    from loyalty_management.models import LoyaltyAccount
    from loyalty_management.tests.factories import LoyaltyProgramFactory, TierFactory

    program = LoyaltyProgramFactory(brand=tenant.brand)
    gold = TierFactory(program=program, name="Gold")
    LoyaltyAccount.objects.create(customer=customer, program=program, tier=gold)


def test_online_pricing_knows_the_customers_tier_for_tier_targeting(a, b):
    # A promotion for the Gold tier, which online pricing never saw before (the context had no
    # tier): now read in one query, and only at a brand whose promotions ask for a tier.
    live_promotion(a, "10", customer_tiers=["Gold"])
    live_promotion(b, "10")
    member, other = customers(a, 2)
    _gold_member(a, member)
    shopper = customer_create(brand=b.brand, email="b-shopper@example.com", first_name="B")

    assert quote(a, member).discount_total == 125
    assert quote(a, other).discount_total == 0
    assert _quote_queries(a, member) == _quote_queries(b, shopper) + 1


def _quote_queries(tenant, customer) -> int:
    quote(tenant, customer)  # the bundle cached
    with CaptureQueriesContext(connection) as captured:
        quote(tenant, customer)
    return len(captured)


def test_an_audience_by_tier_is_assigned_online(a):
    ten = live_promotion(a, "10")
    running_experiment(
        a,
        VariantInput(name="Control", promotion=None, is_control=True, weight=1),
        VariantInput(name="Ten", promotion=ten, weight=1000),
        audience="tier",
        audience_tier="Gold",
    )
    member, other = customers(a, 2)
    _gold_member(a, member)

    assert quote(a, member).discount_total == 125
    assert quote(a, other).discount_total == 0
