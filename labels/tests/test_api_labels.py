"""Labels API: staff list and create labels, and assign them within their brands."""

import pytest

from brands.roles import MARKETING_MANAGER, STORE_MANAGER, SUPPORT_AGENT
from core.tests.api_world import (
    assert_error,
    device_client,
    ids,
    staff_user,
    token_client,
)
from customers.services import customer_link_brand
from labels.models import CustomerLabel, Label, ProductLabel
from labels.services import label_assign_customer
from labels.tests.factories import LabelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def labels(a, b):
    return {
        "global": LabelFactory(name="Customer_VIP", brand=None),
        "a": LabelFactory(name="Regular", brand=a.brand),
        "b": LabelFactory(name="Secret", brand=b.brand),
        "vegan": LabelFactory(name="Vegan", brand=None, type=Label.Type.PRODUCT),
        "organic_a": LabelFactory(name="Organic", brand=a.brand, type=Label.Type.PRODUCT),
        "organic_b": LabelFactory(name="Organic", brand=b.brand, type=Label.Type.PRODUCT),
    }


def assign_url(label, verb="assign") -> str:
    return f"/api/v1/labels/{label.pk}/{verb}/"


# --- reading ----------------------------------------------------------------------------------


def test_staff_see_global_labels_and_their_brands(a, labels):
    response = token_client(a.staff).get("/api/v1/labels/")

    assert ids(response) == {labels[name].pk for name in ("global", "a", "vegan", "organic_a")}


def test_staff_cannot_read_another_brands_label(a, labels):
    assert_error(token_client(a.staff).get(f"/api/v1/labels/{labels['b'].pk}/"), 404)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("type=product", {"vegan", "organic_a"}),
        ("is_global=true", {"global", "vegan"}),
        ("is_global=false", {"a", "organic_a"}),
        ("brand=brand-a", {"a", "organic_a"}),
        ("brand=brand-b", set()),
        ("name=organic", {"organic_a"}),
        ("search=VI", {"global"}),
    ],
)
def test_label_filters(a, labels, query, expected):
    response = token_client(a.staff).get(f"/api/v1/labels/?{query}")

    assert ids(response) == {labels[name].pk for name in expected}


def test_customers_and_devices_cannot_use_labels(a, labels):
    for client in (token_client(a.customer.user), device_client(a.device_key)):
        assert_error(client.get("/api/v1/labels/"), 403, "permission_denied")
        assert_error(
            client.post(assign_url(labels["a"]), {"customer": a.customer.pk}),
            403,
            "permission_denied",
        )
    assert not CustomerLabel.objects.exists()


# --- creating ---------------------------------------------------------------------------------


def test_staff_create_a_label_of_their_brand(a):
    response = token_client(a.staff).post(
        "/api/v1/labels/", {"name": "Family", "type": "customer", "brand": "brand-a"}
    )

    assert response.status_code == 201, response.json()
    label = Label.objects.get(pk=response.json()["id"])
    assert (label.name, label.type, label.brand) == ("Family", "customer", a.brand)
    assert response.json()["brand"] == "brand-a"


def test_staff_cannot_create_labels_for_another_brand_or_global_ones(a, b):
    client = token_client(a.staff)
    before = Label.objects.count()

    other = client.post("/api/v1/labels/", {"name": "X", "type": "customer", "brand": "brand-b"})
    global_ = client.post("/api/v1/labels/", {"name": "X", "type": "customer", "brand": None})

    assert_error(other, 400, "unknown_brand")
    assert_error(global_, 403, "global_label_forbidden")
    assert Label.objects.count() == before


def test_superusers_create_global_labels(a):
    client = token_client(staff_user("root", superuser=True))

    response = client.post(
        "/api/v1/labels/", {"name": "Gluten_free", "type": "product", "brand": None}
    )

    assert response.status_code == 201
    assert Label.objects.get(pk=response.json()["id"]).brand is None


def test_a_taken_name_is_a_conflict(a, labels):
    client = token_client(a.staff)

    same = client.post(
        "/api/v1/labels/", {"name": "Regular", "type": "customer", "brand": "brand-a"}
    )
    other_type = client.post(
        "/api/v1/labels/", {"name": "Regular", "type": "product", "brand": "brand-a"}
    )

    assert_error(same, 409, "label_exists")
    assert other_type.status_code == 201


def test_a_role_without_the_add_permission_cannot_create(a):
    client = token_client(staff_user("support", role=SUPPORT_AGENT, brands=[a.brand]))

    response = client.post("/api/v1/labels/", {"name": "X", "type": "customer", "brand": "brand-a"})

    assert_error(response, 403, "permission_denied")


# --- assigning --------------------------------------------------------------------------------


def test_assign_a_label_to_a_customer_then_again(a, labels):
    client = token_client(a.staff)

    first = client.post(assign_url(labels["a"]), {"customer": a.customer.pk})
    again = client.post(assign_url(labels["a"]), {"customer": a.customer.pk})

    assert first.status_code == 201
    assert first.json() == {
        "label": labels["a"].pk,
        "customer": a.customer.pk,
        "product": None,
        "assigned": True,
    }
    assert again.status_code == 200
    assert again.json()["assigned"] is False
    assignment = CustomerLabel.objects.get(label=labels["a"], customer=a.customer)
    assert assignment.assigned_by == a.staff


def test_assign_a_global_label(a, labels):
    response = token_client(a.staff).post(assign_url(labels["global"]), {"customer": a.customer.pk})

    assert response.status_code == 201
    assert CustomerLabel.objects.filter(label=labels["global"], customer=a.customer).exists()


def test_assign_a_product_label(a, labels):
    response = token_client(a.staff).post(
        assign_url(labels["organic_a"]), {"product": a.product.pk}
    )

    assert response.status_code == 201
    assert ProductLabel.objects.filter(label=labels["organic_a"], product=a.product).exists()


def test_staff_cannot_label_another_brands_customer_or_product(a, b, labels):
    client = token_client(a.staff)

    customer = client.post(assign_url(labels["global"]), {"customer": b.customer.pk})
    product = client.post(assign_url(labels["vegan"]), {"product": b.product.pk})
    their_label = client.post(assign_url(labels["b"]), {"customer": a.customer.pk})

    assert_error(customer, 400, "unknown_customer")
    assert_error(product, 400, "unknown_product")
    assert_error(their_label, 404, "not_found")
    assert not CustomerLabel.objects.exists()
    assert not ProductLabel.objects.exists()


def test_a_customer_known_to_both_brands_can_be_labelled_by_either(a, b, labels):
    customer_link_brand(customer=b.customer, brand=a.brand)

    response = token_client(a.staff).post(assign_url(labels["a"]), {"customer": b.customer.pk})

    assert response.status_code == 201


def test_label_type_must_fit_the_target(a, labels):
    client = token_client(a.staff)

    on_product = client.post(assign_url(labels["a"]), {"product": a.product.pk})
    on_customer = client.post(assign_url(labels["vegan"]), {"customer": a.customer.pk})
    remove = client.post(assign_url(labels["vegan"], "unassign"), {"customer": a.customer.pk})

    assert_error(on_product, 400, "label_type_mismatch")
    assert_error(on_customer, 400, "label_type_mismatch")
    assert_error(remove, 400, "label_type_mismatch")
    assert not ProductLabel.objects.exists()
    assert not CustomerLabel.objects.exists()


def test_unassign(a, labels):
    label_assign_customer(label=labels["a"], customer=a.customer)
    client = token_client(a.staff)

    removed = client.post(assign_url(labels["a"], "unassign"), {"customer": a.customer.pk})
    again = client.post(assign_url(labels["a"], "unassign"), {"customer": a.customer.pk})

    assert removed.status_code == 200
    assert removed.json()["removed"] is True
    assert again.json()["removed"] is False
    assert not CustomerLabel.objects.exists()


def test_staff_cannot_unassign_on_another_brands_customer(a, b, labels):
    label_assign_customer(label=labels["global"], customer=b.customer)

    response = token_client(a.staff).post(
        assign_url(labels["global"], "unassign"), {"customer": b.customer.pk}
    )

    assert_error(response, 400, "unknown_customer")
    assert CustomerLabel.objects.filter(customer=b.customer).exists()


@pytest.mark.parametrize(
    ("role", "label", "target", "verb", "allowed"),
    [
        (MARKETING_MANAGER, "a", "customer", "assign", True),
        (MARKETING_MANAGER, "organic_a", "product", "unassign", True),
        (SUPPORT_AGENT, "a", "customer", "assign", False),
        (STORE_MANAGER, "organic_a", "product", "assign", False),
    ],
)
def test_roles_decide_who_assigns(a, labels, role, label, target, verb, allowed):
    client = token_client(staff_user("role-user", role=role, brands=[a.brand]))
    target_id = a.customer.pk if target == "customer" else a.product.pk

    response = client.post(assign_url(labels[label], verb), {target: target_id})

    if allowed:
        assert response.status_code in (200, 201), response.json()
    else:
        assert_error(response, 403, "permission_denied")
        assert not CustomerLabel.objects.exists()
        assert not ProductLabel.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"customer": 1, "product": 1},
        {"customer": "abc"},
        {"customer": -1},
        {"customer": 10**30},
        {"customer": 99999999},
        {"product": [1]},
        [{"customer": 1}],
    ],
)
def test_bad_assignment_bodies_are_400(a, labels, body):
    if body == {"customer": 1, "product": 1}:
        body = {"customer": a.customer.pk, "product": a.product.pk}

    response = token_client(a.staff).post(assign_url(labels["a"]), body, format="json")

    assert_error(response, 400)
    assert not CustomerLabel.objects.exists()
