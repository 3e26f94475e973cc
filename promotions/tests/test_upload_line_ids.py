"""A ticket's line ids travel as the engine echoes them: a string, an integer or null.

ENGINE.md allows each; before, the upload turned 101 into "101" and filled a missing id with
the line's position, so the server's result never matched the device's: every such ticket was
flagged as a mismatch.
"""

from datetime import datetime
from decimal import Decimal

import pytest

from core.money import to_minor
from core.tests.api_world import build_tenant
from promotions.models import PosTicket, Promotion
from promotions.services.calculator import calculate
from promotions.services.engine_input import engine_context
from promotions.services.lifecycle import promotion_save
from promotions.tests.factories import PromotionFactory
from promotions.tests.test_upload_api import device_bundle, device_ticket, upload

pytestmark = pytest.mark.django_db
ABSENT = object()


@pytest.fixture
def a(django_capture_on_commit_callbacks):
    tenant = build_tenant("a")
    with django_capture_on_commit_callbacks(execute=True):
        promotion_save(
            promotion=PromotionFactory(
                brand=tenant.brand,
                name="Ten off",
                status=Promotion.Status.ACTIVE,
                params={"percent": "10"},
            ),
            relations={"stores": [tenant.store.pk]},
            actor=tenant.staff,
        )
    return tenant


def priced_by_the_device(tenant, line_ids: list, bundle) -> dict:
    """A ticket whose lines carry these ids (ABSENT: no `line_id` key), priced as a device
    prices it: the engine gets the same ids and echoes them in its result."""
    promotions, bundle_hash = bundle
    ticket = device_ticket(tenant, "t-1", bundle=bundle)
    products = {tenant.product.pk: tenant.product, tenant.cheap_product.pk: tenant.cheap_product}
    basket_lines = []
    for line, line_id in zip(ticket["lines"], line_ids, strict=True):
        line.pop("line_id")
        if line_id is not ABSENT:
            line["line_id"] = line_id
        product = products[line["product"]]
        basket_lines.append(
            {
                **({} if line_id is ABSENT else {"line_id": line_id}),
                "product_id": product.pk,
                "category_id": product.category_id,
                "label_ids": [],
                "quantity": line["quantity"],
                "unit_price": to_minor(Decimal(line["unit_price"]), "EUR"),
            }
        )
    context = engine_context(
        at=datetime.fromisoformat(ticket["local_time"]),
        time_zone=tenant.store.time_zone,
        channel="pos",
        store_id=tenant.store.pk,
        customer_id=None,
        signed_in=False,
    )
    ticket["result"] = calculate(
        basket={"lines": basket_lines},
        context=context,
        promotions=promotions,
        bundle_hash=bundle_hash,
    )
    return ticket


@pytest.mark.parametrize(
    "line_ids",
    [
        [101, 102],
        ["a1", "a2"],
        [None, None],
        [ABSENT, ABSENT],
        [0, "x"],
        [-(2**53 - 1), 2**53 - 1],
    ],
    ids=["integers", "strings", "nulls", "absent", "mixed", "safe-integer-bounds"],
)
def test_tickets_priced_with_any_kind_of_line_id_are_accepted(a, line_ids):
    # Given a ticket the device priced with these line ids
    ticket = priced_by_the_device(a, line_ids, device_bundle(a.device_key))
    echoed = [line["line_id"] for line in ticket["result"]["lines"]]
    assert echoed == [None if i is ABSENT else i for i in line_ids]
    assert ticket["result"]["applied"]

    # When it is uploaded
    response = upload(a.device_key, [ticket])

    # Then the server's result is the device's: accepted, no mismatch
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["counts"]["accepted"] == 1, body
    assert body["counts"]["mismatched"] == 0
    stored = PosTicket.objects.get(ticket_id="t-1")
    assert stored.status == PosTicket.Status.ACCEPTED
    assert [line.get("line_id") for line in stored.basket["lines"]] == echoed


@pytest.mark.parametrize(
    "line_id",
    [True, 1.5, [1], {"id": 1}, "x" * 65, 2**53, -(2**53)],
    ids=["bool", "float", "list", "object", "too-long", "unsafe-int", "unsafe-negative"],
)
def test_a_line_id_the_engine_cannot_echo_rejects_the_ticket_naming_it(a, line_id):
    ticket = device_ticket(a, "t-bad")
    ticket["lines"][0]["line_id"] = line_id

    body = upload(a.device_key, [ticket]).json()

    assert body["counts"]["rejected"] == 1
    assert list(body["results"][0]["error"]["fields"]) == ["lines.0.line_id"]
    assert not PosTicket.objects.exists()
