"""Promotions API: staff CRUD scoped to their brands, status, validate and preview."""

from decimal import Decimal

import pytest

from brands.roles import ANALYST, BRAND_ADMIN, MARKETING_MANAGER, STORE_MANAGER, SUPPORT_AGENT
from catalog.tests.factories import ProductFactory
from core.tests.api_world import (
    assert_error,
    ids,
    staff_user,
    token_client,
)
from promotions.models import Promotion

pytestmark = pytest.mark.django_db


def _payload(tenant, **overrides):
    payload = {
        "brand": tenant.brand.slug,
        "name": "Ten percent",
        "type": "percent_discount",
        "params": {"percent": "10"},
        "products": [tenant.product.pk],
    }
    payload.update(overrides)
    return payload


def test_staff_create_a_draft_and_it_is_compiled(a):
    response = token_client(a.staff).post("/api/v1/promotions/", _payload(a), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "draft" and body["version"] == 1
    promotion = Promotion.objects.get(pk=body["id"])
    assert promotion.compiled["scope"]["product_ids"] == [a.product.pk]
    assert body["compiled_hash"] == promotion.compiled_hash


def test_a_draft_may_be_invalid_but_a_live_promotion_may_not(a):
    client = token_client(a.staff)

    draft = client.post(
        "/api/v1/promotions/", _payload(a, params={"percent": "150"}), format="json"
    )
    live = client.post(
        "/api/v1/promotions/",
        _payload(a, params={"percent": "150"}, status="active"),
        format="json",
    )

    assert draft.status_code == 201
    body = assert_error(live, 400, "promotion_invalid")
    assert "params.percent" in body["fields"]
    assert Promotion.objects.count() == 1


def test_activation_goes_through_the_status_endpoint(a):
    client = token_client(a.staff)
    created = client.post("/api/v1/promotions/", _payload(a), format="json").json()

    patched = client.patch(
        f"/api/v1/promotions/{created['id']}/", {"status": "active"}, format="json"
    )
    activated = client.post(
        f"/api/v1/promotions/{created['id']}/status/", {"status": "active"}, format="json"
    )

    assert_error(patched, 400, "status_not_editable")
    assert activated.status_code == 200
    assert activated.json()["status"] == "active"
    assert activated.json()["version"] == 2


def test_staff_cannot_see_or_use_another_brands_data(a, b):
    theirs = token_client(b.staff).post("/api/v1/promotions/", _payload(b), format="json").json()
    client = token_client(a.staff)

    assert ids(client.get("/api/v1/promotions/")) == set()
    assert_error(client.get(f"/api/v1/promotions/{theirs['id']}/"), 404, "not_found")
    assert_error(
        client.post("/api/v1/promotions/", _payload(b), format="json"), 400, "unknown_brand"
    )
    foreign_product = client.post(
        "/api/v1/promotions/", _payload(a, products=[b.product.pk]), format="json"
    )
    body = assert_error(foreign_product, 400, "promotion_invalid")
    assert "products" in body["fields"]
    assert Promotion.objects.filter(brand=a.brand).count() == 0


def test_customers_and_devices_cannot_manage_promotions(a):
    from core.tests.api_world import device_client

    customer = token_client(a.customer.user)

    assert_error(customer.get("/api/v1/promotions/"), 403, "permission_denied")
    assert_error(device_client(a.device_key).get("/api/v1/promotions/"), 403)


@pytest.mark.parametrize(
    ("role", "validate_status", "preview_status"),
    [
        (SUPPORT_AGENT, 403, 403),  # no promotion permission at all
        (STORE_MANAGER, 403, 200),  # sees promotions: may preview, not validate
        (ANALYST, 403, 200),
        (MARKETING_MANAGER, 200, 200),
        (BRAND_ADMIN, 200, 200),
    ],
)
def test_validate_and_preview_need_promotion_permissions(a, role, validate_status, preview_status):
    client = token_client(staff_user(f"user-{role}", role=role, brands=[a.brand]))

    validate = client.post("/api/v1/promotions/validate/", _payload(a), format="json")
    preview = client.post(
        "/api/v1/promotions/preview/",
        {"promotion": _payload(a), "lines": [{"product": a.product.pk, "quantity": 1}]},
        format="json",
    )

    assert validate.status_code == validate_status, validate.content
    assert preview.status_code == preview_status, preview.content
    for response in (validate, preview):
        if response.status_code == 403:
            assert_error(response, 403, "permission_denied")
    assert not Promotion.objects.exists()


def test_validate_lists_coded_issues_without_saving(a):
    response = token_client(a.staff).post(
        "/api/v1/promotions/validate/",
        _payload(a, type="threshold", params={"tiers": [{"min_subtotal": "50.00"}]}),
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False
    assert {"field": "params.tiers.0", "code": "choose_one"} in [
        {"field": i["field"], "code": i["code"]} for i in body["issues"]
    ]
    assert not Promotion.objects.exists()


def test_preview_prices_a_sample_basket_with_a_draft(a):
    product = ProductFactory(brand=a.brand, price=Decimal("2.99"))
    response = token_client(a.staff).post(
        "/api/v1/promotions/preview/",
        {
            "promotion": _payload(
                a,
                type="bogo",
                params={"buy_quantity": 2, "get_quantity": 1, "percent": "100"},
                products=[product.pk],
            ),
            "lines": [{"product": product.pk, "quantity": 3}],
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["issues"] == []
    assert body["result"]["discount_total"] == 299
    assert body["result"]["total"] == 598
    assert body["basket"]["lines"][0]["unit_price"] == 299
    assert not Promotion.objects.exists()


def test_preview_refuses_products_of_another_brand(a, b):
    response = token_client(a.staff).post(
        "/api/v1/promotions/preview/",
        {"promotion": _payload(a), "lines": [{"product": b.product.pk, "quantity": 1}]},
        format="json",
    )

    body = assert_error(response, 400, "invalid_lines")
    assert "lines.0.product" in body["fields"]


def test_preview_applies_unsaved_changes_to_a_saved_promotion_without_self_conflicts(a):
    client = token_client(a.staff)
    payload = _payload(a, code="SPRING", stacking="exclusive", status="active")
    saved = client.post("/api/v1/promotions/", payload, format="json").json()

    response = client.post(
        "/api/v1/promotions/preview/",
        {
            "promotion_id": saved["id"],
            "promotion": {**payload, "params": {"percent": "50"}},
            "lines": [{"product": a.product.pk, "quantity": 1}],
            "codes": ["spring"],
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["issues"] == []  # neither its own code nor its own exclusivity conflict
    assert body["compiled"]["id"] == saved["id"]
    assert body["result"]["discount_total"] == 625
    assert Promotion.objects.get(pk=saved["id"]).params == {"percent": "10"}


def test_only_a_draft_that_priced_no_order_can_be_deleted(a):
    client = token_client(a.staff)
    draft = client.post("/api/v1/promotions/", _payload(a), format="json").json()
    live = client.post("/api/v1/promotions/", _payload(a, status="active"), format="json").json()

    deleted = client.delete(f"/api/v1/promotions/{draft['id']}/")
    refused = client.delete(f"/api/v1/promotions/{live['id']}/")

    assert deleted.status_code == 204
    assert_error(refused, 409, "promotion_not_deletable")
    assert list(Promotion.objects.values_list("pk", flat=True)) == [live["id"]]
