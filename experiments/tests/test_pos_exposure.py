"""A till assigns a customer's variant offline exactly as the server would: the uploaded
ticket is accepted (same result), and its customer is exposed with that variant."""

import pytest

from customers.services import customer_create
from experiments.models import ExperimentExposure
from experiments.services import VariantInput
from experiments.tests.factories import live_promotion, running_experiment
from promotions.services.calculator import experiment_variant
from promotions.tests.test_upload_api import device_bundle, upload
from vouchers.tests.test_pos_upload import applied_ids, till_ticket

pytestmark = pytest.mark.django_db


def test_offline_tickets_price_each_customer_under_their_variant_and_expose_them(a):
    ten = live_promotion(a, "10")
    experiment = running_experiment(
        a,
        VariantInput(name="Control", promotion=None, is_control=True),
        VariantInput(name="Ten", promotion=ten),
    )
    treated = experiment.variants.get(promotion=ten)
    bundle = device_bundle(a.device_key)
    compiled = next(p for p in bundle[0] if p["id"] == ten.pk)["experiment"]
    people = [
        customer_create(brand=a.brand, email=f"till{i}@example.com", first_name=f"T{i}")
        for i in range(12)
    ]

    tickets = [
        till_ticket(a, f"ab-{i}", bundle=bundle, customer=person) for i, person in enumerate(people)
    ]
    response = upload(a.device_key, tickets)

    assert response.status_code == 200, response.content[:500]
    assert {r["status"] for r in response.json()["results"]} == {"accepted"}
    assigned = {}
    for person, ticket in zip(people, tickets, strict=True):
        variant = experiment_variant(
            compiled,
            now=int(experiment.starts_at.timestamp()) + 60,
            customer_id=person.pk,
            labels=set(),
            tier=None,
        )
        assert (ten.pk in applied_ids(ticket["result"])) == (variant == treated.pk)
        assigned[person.pk] = variant
    exposures = dict(
        ExperimentExposure.objects.filter(experiment=experiment).values_list(
            "customer_id", "variant_id"
        )
    )
    assert exposures == assigned
    assert len(set(assigned.values())) == 2
