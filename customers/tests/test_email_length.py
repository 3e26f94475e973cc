"""An email is up to 254 characters, a login (username) up to 150: a customer who signs in
with their email gets a 400 naming `email` for a longer one, never a database error (a 500)."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from brands.tests.factories import StaffUserFactory
from core.errors import ApplicationError
from core.tests.api_world import assert_error, token_client
from customers.models import Customer
from customers.services import customer_create

pytestmark = pytest.mark.django_db
PASSWORD = "pass-word-123"  # build_tenant's customer's

LONG = "x" * 140 + "@example.com"  # 152 characters: a valid email, too long for a login
FITS = "y" * 138 + "@example.com"  # 150 characters


def test_a_customer_changing_to_a_long_email_gets_a_400_and_keeps_the_old_one(a):
    # Given a customer with a storefront login
    before = (a.customer.email, a.customer.user.username)

    # When they, then staff, set an email longer than a login can hold
    mine = token_client(a.customer.user).patch(
        "/api/v1/me/", {"email": LONG, "current_password": PASSWORD}, format="json"
    )
    staff = token_client(a.staff).patch(
        f"/api/v1/customers/{a.customer.pk}/", {"email": LONG.upper()}, format="json"
    )

    # Then each is a 400 naming email, and nothing changed
    for response in (mine, staff):
        body = assert_error(response, 400, "email_too_long_for_login")
        assert list(body["fields"]) == ["email"]
    a.customer.refresh_from_db()
    a.customer.user.refresh_from_db()
    assert (a.customer.email, a.customer.user.username) == before


def test_an_email_of_exactly_150_characters_moves_the_login(a):
    response = token_client(a.customer.user).patch(
        "/api/v1/me/", {"email": FITS, "current_password": PASSWORD}, format="json"
    )

    assert response.status_code == 200, response.content
    a.customer.user.refresh_from_db()
    assert a.customer.user.username == FITS


def test_a_customer_without_a_login_may_have_any_valid_email(a):
    response = token_client(a.staff).post(
        "/api/v1/customers/", {"brand": "brand-a", "email": LONG}, format="json"
    )

    assert response.status_code == 201, response.content
    assert Customer.objects.get(pk=response.json()["id"]).email == LONG


def test_creating_a_login_with_a_long_email_is_refused_before_anything_is_written():
    users = get_user_model().objects.count()

    with pytest.raises(ApplicationError) as error:
        customer_create(brand=None, email=LONG, password="pass-word-123")

    assert error.value.fields == {"email": ["At most 150 characters for a customer who signs in."]}
    assert get_user_model().objects.count() == users
    assert not Customer.objects.exists()


def test_the_admin_shows_the_limit_on_the_email_field(client, a):
    client.force_login(StaffUserFactory(username="root", is_superuser=True))

    response = client.post(
        reverse("admin:customers_customer_change", args=[a.customer.pk]),
        {
            "first_name": "Ann",
            "last_name": "Lee",
            "email": LONG,
            "phone": "",
            "birth_date": "",
            "external_id": "",
            "brand_links-TOTAL_FORMS": "0",
            "brand_links-INITIAL_FORMS": "0",
            "label_assignments-TOTAL_FORMS": "0",
            "label_assignments-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == [
        "A customer who signs in with their email needs one of at most 150 characters."
    ]
    a.customer.refresh_from_db()
    assert a.customer.email == "customer-a@example.com"
