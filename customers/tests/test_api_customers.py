"""Customers API for staff, and `me` for customers."""

import threading
from datetime import datetime

import pytest
from django.db import connection

from brands.roles import ANALYST, STORE_MANAGER, SUPPORT_AGENT
from core.tests.api_world import (
    assert_error,
    build_tenant,
    device_client,
    ids,
    staff_user,
    token_client,
)
from customers.models import Customer, CustomerBrand
from customers.services import customer_create, customer_link_brand
from labels.models import Label
from labels.services import label_assign_customer
from labels.tests.factories import LabelFactory

pytestmark = pytest.mark.django_db


# --- scoping ---------------------------------------------------------------------------------


def test_staff_list_only_customers_their_brands_know(a, b):
    # Given a customer of each brand
    # When staff of brand A list customers
    response = token_client(a.staff).get("/api/v1/customers/")

    # Then only brand A's customer is there
    assert ids(response) == {a.customer.pk}


def test_staff_cannot_read_a_customer_of_another_brand(a, b):
    response = token_client(a.staff).get(f"/api/v1/customers/{b.customer.pk}/")

    assert_error(response, 404, "not_found")


def test_superuser_sees_every_customer(a, b):
    root = staff_user("root", superuser=True)

    response = token_client(root).get("/api/v1/customers/")

    assert ids(response) == {a.customer.pk, b.customer.pk}


def test_detail_shows_only_the_brands_and_labels_the_staff_user_may_see(a, b):
    # Given a customer known to both brands, with a global label and a label of each brand
    customer_link_brand(customer=b.customer, brand=a.brand)
    vip = LabelFactory(name="Customer_VIP", brand=None)
    label_a = LabelFactory(name="Regular", brand=a.brand)
    label_b = LabelFactory(name="Secret", brand=b.brand)
    for label in (vip, label_a, label_b):
        label_assign_customer(label=label, customer=b.customer)

    # When staff of brand A read them
    body = token_client(a.staff).get(f"/api/v1/customers/{b.customer.pk}/").json()

    # Then brand B's link and label stay hidden
    assert body["brands"] == ["brand-a"]
    assert {label["name"] for label in body["labels"]} == {"Customer_VIP", "Regular"}
    assert body["email"] == "customer-b@example.com"


def test_customers_and_devices_cannot_use_the_staff_endpoint(a):
    customer_response = token_client(a.customer.user).get("/api/v1/customers/")
    device_response = device_client(a.device_key).get("/api/v1/customers/")

    assert_error(customer_response, 403, "permission_denied")
    assert_error(device_response, 403, "permission_denied")


# --- create and update ------------------------------------------------------------------------


def test_staff_create_a_customer_known_to_their_brand(a):
    response = token_client(a.staff).post(
        "/api/v1/customers/",
        {"brand": "brand-a", "email": " New@Example.com ", "first_name": "Nia", "phone": "+331"},
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    customer = Customer.objects.get(pk=body["id"])
    assert customer.email == "new@example.com"
    assert body["brands"] == ["brand-a"]
    assert body["labels"] == []
    assert CustomerBrand.objects.filter(customer=customer, brand=a.brand).exists()


def test_staff_cannot_create_a_customer_for_another_brand(a, b):
    before = Customer.objects.count()

    response = token_client(a.staff).post(
        "/api/v1/customers/", {"brand": "brand-b", "email": "x@example.com"}
    )

    body = assert_error(response, 400, "unknown_brand")
    assert "brand" in body["fields"]
    assert Customer.objects.count() == before


def test_an_email_the_brand_knows_already_is_a_conflict(a, b):
    before = Customer.objects.count()

    response = token_client(a.staff).post(
        "/api/v1/customers/", {"brand": "brand-a", "email": "CUSTOMER-A@example.com"}
    )

    body = assert_error(response, 409, "customer_email_taken")
    assert body["fields"] == {"email": ["Already in use."]}
    assert Customer.objects.count() == before


def test_an_email_known_only_to_another_brand_is_answered_as_a_new_customer(a, b):
    # Given brand B's customer, with brand B's label, and a new email for comparison
    label_b = LabelFactory(name="Secret", brand=b.brand)
    label_assign_customer(label=label_b, customer=b.customer)
    client = token_client(a.staff)
    before = Customer.objects.count()

    # When brand A's staff create a customer with brand B's customer's email, and a new one
    taken = client.post(
        "/api/v1/customers/",
        {"brand": "brand-a", "email": "CUSTOMER-B@example.com", "first_name": "Other"},
    )
    fresh = client.post("/api/v1/customers/", {"brand": "brand-a", "email": "new@example.com"})

    # Then both answer alike: 201, the same keys, what was sent and nothing of brand B's
    # profile (its name, phone, external id, global label or age)
    assert (taken.status_code, fresh.status_code) == (201, 201), taken.json()
    assert set(taken.json()) == set(fresh.json())
    for body in (taken.json(), fresh.json()):
        assert body["brands"] == ["brand-a"]
        assert body["labels"] == []
        assert (body["phone"], body["last_name"], body["external_id"]) == ("", "", None)
        assert body["birth_date"] is None
    assert (taken.json()["email"], taken.json()["first_name"]) == (
        "customer-b@example.com",
        "Other",
    )
    b_created = b.customer.created_at
    assert datetime.fromisoformat(taken.json()["created_at"].replace("Z", "+00:00")) > b_created
    # ... the person is one customer, now known to brand A; their details are not overwritten
    assert taken.json()["id"] == b.customer.pk
    assert Customer.objects.count() == before + 1
    b.customer.refresh_from_db()
    assert b.customer.first_name == "Annb"
    assert set(b.customer.brands.values_list("slug", flat=True)) == {"brand-a", "brand-b"}
    # ... and their login and password are untouched
    assert b.customer.user.check_password("pass-word-123")


def test_staff_cannot_move_the_login_of_a_customer_another_brand_knows(a, b):
    # Given brand B's customer (with a login) made known to brand A by A's staff
    client = token_client(a.staff)
    linked = client.post(
        "/api/v1/customers/", {"brand": "brand-a", "email": "customer-b@example.com"}
    )
    assert linked.status_code == 201

    # When A's staff try to move the email they sign in with, in the API and the admin
    response = client.patch(
        f"/api/v1/customers/{b.customer.pk}/", {"email": "attacker@example.com"}
    )

    # Then it is refused in plain words, and the login stays the customer's
    body = assert_error(response, 403, "customer_shared_with_other_brands")
    assert "email" in body["fields"]
    b.customer.refresh_from_db()
    b.customer.user.refresh_from_db()
    assert b.customer.email == b.customer.user.username == "customer-b@example.com"
    # ... while A's staff still change their own brand's customer's email
    own = client.patch(f"/api/v1/customers/{a.customer.pk}/", {"email": "ann.a@example.com"})
    assert own.status_code == 200, own.json()


def test_a_taken_external_id_is_a_conflict(a, b):
    response = token_client(a.staff).patch(
        f"/api/v1/customers/{a.customer.pk}/", {"external_id": "EXT-b"}
    )

    assert_error(response, 409, "customer_external_id_taken")
    a.customer.refresh_from_db()
    assert a.customer.external_id == "EXT-a"


def test_staff_update_a_customer_of_their_brand(a):
    response = token_client(a.staff).patch(
        f"/api/v1/customers/{a.customer.pk}/", {"first_name": "Anna", "birth_date": "1990-05-01"}
    )

    assert response.status_code == 200, response.json()
    a.customer.refresh_from_db()
    assert a.customer.first_name == "Anna"
    assert str(a.customer.birth_date) == "1990-05-01"
    assert a.customer.last_name == "Leea"  # untouched by a partial update


def test_staff_cannot_update_a_customer_of_another_brand(a, b):
    response = token_client(a.staff).patch(
        f"/api/v1/customers/{b.customer.pk}/", {"first_name": "Hacked"}
    )

    assert_error(response, 404, "not_found")
    b.customer.refresh_from_db()
    assert b.customer.first_name == "Annb"


def test_put_and_delete_are_not_offered(a):
    client = token_client(a.staff)

    assert_error(client.put(f"/api/v1/customers/{a.customer.pk}/", {}), 405)
    assert_error(client.delete(f"/api/v1/customers/{a.customer.pk}/"), 405, "method_not_allowed")
    assert Customer.objects.filter(pk=a.customer.pk).exists()


@pytest.mark.parametrize(
    ("role", "method", "allowed"),
    [
        (ANALYST, "get", True),
        (ANALYST, "patch", False),
        (SUPPORT_AGENT, "patch", True),
        (SUPPORT_AGENT, "post", False),
        (STORE_MANAGER, "post", True),
        (STORE_MANAGER, "patch", False),
    ],
)
def test_roles_decide_what_staff_may_do(a, role, method, allowed):
    user = staff_user(f"{role}-user".replace(" ", "-").lower(), role=role, brands=[a.brand])
    client = token_client(user)
    if method == "get":
        response = client.get("/api/v1/customers/")
    elif method == "patch":
        response = client.patch(f"/api/v1/customers/{a.customer.pk}/", {"first_name": "Z"})
    else:
        response = client.post("/api/v1/customers/", {"brand": "brand-a", "email": "r@e.com"})

    if allowed:
        assert response.status_code in (200, 201), response.json()
    else:
        assert_error(response, 403, "permission_denied")


def test_staff_without_a_role_are_refused(a):
    user = staff_user("no-role", brands=[a.brand])

    assert_error(token_client(user).get("/api/v1/customers/"), 403, "permission_denied")


# --- filters and pagination -------------------------------------------------------------------


@pytest.fixture
def many(a):
    customers = [
        customer_create(
            brand=a.brand,
            email=f"person{i}@example.com",
            first_name="Zed" if i % 2 else "Yan",
            last_name=f"Number{i}",
            phone=f"+4400{i}",
            external_id=f"X{i}",
        )
        for i in range(5)
    ]
    return customers


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("email=PERSON1@example.com", [1]),
        ("phone=%2B44002", [2]),
        ("external_id=X3", [3]),
        ("search=zed", [1, 3]),
        ("search=yan number4", [4]),
        ("search=person0@", [0]),
    ],
)
def test_filters(a, many, query, expected):
    response = token_client(a.staff).get(f"/api/v1/customers/?{query}")

    assert ids(response) == {many[i].pk for i in expected}


def test_brand_staff_filter_only_by_their_brands_and_labels(a, b, many):
    # Given a customer of brand A who also shops at brand B and has brand B's label
    customer_link_brand(customer=many[0], brand=b.brand)
    label_b = LabelFactory(name="Secret", brand=b.brand, type=Label.Type.CUSTOMER)
    label_assign_customer(label=label_b, customer=many[0])
    label_a = LabelFactory(name="Gold", brand=a.brand, type=Label.Type.CUSTOMER)
    label_assign_customer(label=label_a, customer=many[1])
    client = token_client(a.staff)

    # Then brand B's slug and label find nothing, like values that do not exist
    assert ids(client.get("/api/v1/customers/?brand=brand-b")) == set()
    assert ids(client.get("/api/v1/customers/?brand=no-such-brand")) == set()
    assert ids(client.get(f"/api/v1/customers/?label={label_b.pk}")) == set()
    assert ids(client.get("/api/v1/customers/?label=999999")) == set()
    # ... while their own brand's values work
    assert many[0].pk in ids(client.get("/api/v1/customers/?brand=brand-a"))
    assert ids(client.get(f"/api/v1/customers/?label={label_a.pk}")) == {many[1].pk}


def test_filter_by_brand_and_label(a, b, many):
    customer_link_brand(customer=many[0], brand=b.brand)
    label = LabelFactory(name="Gold", brand=a.brand, type=Label.Type.CUSTOMER)
    label_assign_customer(label=label, customer=many[2])
    root = token_client(staff_user("root", superuser=True))

    assert ids(root.get("/api/v1/customers/?brand=brand-b")) == {b.customer.pk, many[0].pk}
    assert ids(root.get(f"/api/v1/customers/?label={label.pk}")) == {many[2].pk}


def test_pagination(a, many):
    client = token_client(a.staff)

    first = client.get("/api/v1/customers/?page_size=4&ordering=id").json()
    second = client.get("/api/v1/customers/?page_size=4&ordering=id&page=2").json()

    assert first["count"] == 6
    assert len(first["results"]) == 4
    assert len(second["results"]) == 2
    assert first["next"] is not None
    assert second["next"] is None
    seen = [row["id"] for row in first["results"] + second["results"]]
    assert seen == sorted(seen)
    assert set(seen) == {a.customer.pk, *(c.pk for c in many)}


@pytest.mark.parametrize(
    "query",
    [
        "label=abc",
        "label=-1",
        "label=99999999999999999999999",
        "email=a%00b",
        "search=" + "x" * 101,
    ],
)
def test_bad_filters_are_400(a, query):
    response = token_client(a.staff).get(f"/api/v1/customers/?{query}")

    assert_error(response, 400, "validation_error")


def test_list_query_count_does_not_grow_with_rows(a, many, django_assert_max_num_queries):
    client = token_client(a.staff)
    client.get("/api/v1/customers/")  # warm the permission cache of the user

    # One of them reads the user's roles, which decide how personal data is shown.
    with django_assert_max_num_queries(9):
        response = client.get("/api/v1/customers/")

    assert len(response.json()["results"]) == 6


# --- me ---------------------------------------------------------------------------------------


def test_me_returns_the_customers_own_profile(a, b):
    response = token_client(a.customer.user).get("/api/v1/me/")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == a.customer.pk
    assert body["email"] == "customer-a@example.com"
    assert body["brands"] == ["brand-a"]
    assert "external_id" not in body


def test_me_patch_changes_only_the_own_profile(a, b):
    response = token_client(a.customer.user).patch(
        "/api/v1/me/", {"first_name": "Annie", "phone": "+339"}
    )

    assert response.status_code == 200, response.json()
    assert response.json()["first_name"] == "Annie"
    a.customer.refresh_from_db()
    b.customer.refresh_from_db()
    assert (a.customer.first_name, a.customer.phone) == ("Annie", "+339")
    assert b.customer.first_name == "Annb"


def test_me_cannot_change_the_external_id(a):
    token_client(a.customer.user).patch("/api/v1/me/", {"external_id": "MINE"})

    a.customer.refresh_from_db()
    assert a.customer.external_id == "EXT-a"


def test_a_new_email_moves_the_login(a, api_client):
    response = token_client(a.customer.user).patch(
        "/api/v1/me/", {"email": "Moved@Example.com", "current_password": "pass-word-123"}
    )

    assert response.status_code == 200, response.json()
    login = api_client.post(
        "/api/v1/auth/token/", {"username": "moved@example.com", "password": "pass-word-123"}
    )
    assert login.status_code == 200
    assert login.json()["token"]


def test_a_customer_with_a_login_keeps_an_email(a):
    response = token_client(a.customer.user).patch("/api/v1/me/", {"email": None})

    assert_error(response, 400, "email_required")
    a.customer.refresh_from_db()
    assert a.customer.email == "customer-a@example.com"


def test_me_is_for_customers_only(a, api_client):
    assert_error(token_client(a.staff).get("/api/v1/me/"), 403, "permission_denied")
    assert_error(device_client(a.device_key).get("/api/v1/me/"), 403, "permission_denied")
    assert_error(api_client.get("/api/v1/me/"), 401, "not_authenticated")


def test_an_empty_patch_writes_nothing(a):
    before = Customer.objects.values_list("updated_at", flat=True).get(pk=a.customer.pk)

    response = token_client(a.staff).patch(f"/api/v1/customers/{a.customer.pk}/", {})

    assert response.status_code == 200
    assert Customer.objects.values_list("updated_at", flat=True).get(pk=a.customer.pk) == before


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_with_one_email_make_one_customer_and_conflicts():
    # Given staff of brand A
    tenant = build_tenant("a")
    token_client(tenant.staff)
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    def create():
        try:
            client = token_client(tenant.staff)
            barrier.wait(timeout=10)
            response = client.post(
                "/api/v1/customers/", {"brand": "brand-a", "email": "same@example.com"}
            )
            statuses.append(response.status_code)
            if response.status_code != 201:
                assert response.json()["code"] == "customer_email_taken"
        finally:
            connection.close()

    # When six requests create the same customer at once
    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # Then one customer exists and every other request was a 409, never a 500
    assert sorted(statuses) == [201] + [409] * 5
    assert Customer.objects.filter(email="same@example.com").count() == 1
