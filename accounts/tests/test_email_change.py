"""A customer's email is their login: changing it themself needs their current password."""

import pytest
from rest_framework.test import APIClient

from accounts.tests.conftest import PASSWORD
from core.tests.api_world import assert_error, token_client

pytestmark = pytest.mark.django_db


def login(username, password=PASSWORD):
    return APIClient().post("/api/v1/auth/token/", {"username": username, "password": password})


def test_a_new_email_without_the_current_password_is_refused(a):
    response = token_client(a.customer.user).patch("/api/v1/me/", {"email": "new@example.com"})

    body = assert_error(response, 400, "current_password_required")
    assert list(body["fields"]) == ["current_password"]
    a.customer.refresh_from_db()
    a.customer.user.refresh_from_db()
    assert a.customer.email == a.customer.user.username == "customer-a@example.com"


def test_a_new_email_with_a_wrong_password_is_refused(a):
    response = token_client(a.customer.user).patch(
        "/api/v1/me/", {"email": "new@example.com", "current_password": "not-it"}
    )

    assert_error(response, 400, "current_password_invalid")
    a.customer.refresh_from_db()
    assert a.customer.email == "customer-a@example.com"
    assert login("new@example.com").status_code == 400


def test_a_new_email_with_the_current_password_moves_the_login(a):
    response = token_client(a.customer.user).patch(
        "/api/v1/me/", {"email": "New@Example.com", "current_password": PASSWORD}
    )

    assert response.status_code == 200, response.content
    assert response.json()["email"] == "new@example.com"
    assert login("new@example.com").status_code == 200


def test_other_changes_and_the_same_email_need_no_password(a):
    response = token_client(a.customer.user).patch(
        "/api/v1/me/", {"email": "CUSTOMER-A@example.com", "first_name": "Annie"}
    )

    assert response.status_code == 200, response.content
    assert response.json()["first_name"] == "Annie"


def test_wrong_passwords_on_an_email_change_count_towards_the_lockout(a, small_lockout):
    client = token_client(a.customer.user)
    answers = [
        client.patch(
            "/api/v1/me/", {"email": "new@example.com", "current_password": f"guess-{n}"}
        ).status_code
        for n in range(3)
    ]

    assert answers == [400, 400, 429]
    assert_error(login("customer-a@example.com"), 429, "locked_out")


def test_staff_change_a_customers_email_by_their_role_without_the_customers_password(a):
    response = token_client(a.staff).patch(
        f"/api/v1/customers/{a.customer.pk}/", {"email": "moved@example.com"}
    )

    assert response.status_code == 200, response.content
    assert login("moved@example.com").status_code == 200
