"""The password policy on every path that sets a password; Argon2 first, older hashes upgraded."""

import importlib

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from rest_framework.test import APIClient

from accounts.tests.conftest import PASSWORD
from core.errors import ApplicationError
from core.tests.api_world import assert_error, build_tenant, token_client
from customers.models import Customer
from customers.services import customer_create

pytestmark = pytest.mark.django_db

PROJECT_SETTINGS = importlib.import_module("config.settings")
WEAK = ["12345678", "password", "short1", "jane@example.com"]


def test_argon2_hashes_new_passwords_and_the_older_hashers_follow():
    hashers = PROJECT_SETTINGS.PASSWORD_HASHERS

    assert hashers[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert "django.contrib.auth.hashers.PBKDF2PasswordHasher" in hashers[1:]


def test_a_pbkdf2_password_is_rehashed_with_argon2_at_the_next_api_login(settings, customer):
    settings.PASSWORD_HASHERS = PROJECT_SETTINGS.PASSWORD_HASHERS
    user = customer.user
    user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])

    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "jane@example.com", "password": PASSWORD}
    )

    assert response.status_code == 200, response.content
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password(PASSWORD)


@pytest.mark.parametrize("weak", WEAK)
def test_customer_create_refuses_a_weak_password(weak):
    with pytest.raises(ApplicationError) as refused:
        customer_create(brand=None, email="jane@example.com", password=weak)

    assert refused.value.code == "password_invalid"
    assert refused.value.fields["password"]
    assert not Customer.objects.exists()
    assert not get_user_model().objects.filter(username="jane@example.com").exists()


def test_staff_create_a_customer_login_through_the_api_within_the_policy():
    a = build_tenant("a")
    client = token_client(a.staff)

    weak = client.post(
        "/api/v1/customers/",
        {"brand": "brand-a", "email": "new@example.com", "password": "12345678"},
    )
    body = assert_error(weak, 400, "password_invalid")
    assert "This password is entirely numeric." in body["fields"]["password"]
    assert not Customer.objects.filter(email="new@example.com").exists()

    created = client.post(
        "/api/v1/customers/",
        {"brand": "brand-a", "email": "new@example.com", "password": "a-long-pass-phrase"},
    )
    assert created.status_code == 201, created.content
    assert "password" not in created.json()
    login = APIClient().post(
        "/api/v1/auth/token/", {"username": "new@example.com", "password": "a-long-pass-phrase"}
    )
    assert login.status_code == 200


@pytest.mark.parametrize("weak", WEAK)
def test_changing_ones_password_applies_the_policy(customer, weak):
    client = token_client(customer.user)

    response = client.post(
        "/api/v1/auth/password/", {"current_password": PASSWORD, "new_password": weak}
    )

    body = assert_error(response, 400, "password_invalid")
    assert list(body["fields"]) == ["new_password"]
    customer.user.refresh_from_db()
    assert customer.user.check_password(PASSWORD)


def test_changing_ones_password_needs_the_current_one(customer):
    client = token_client(customer.user)

    missing = client.post("/api/v1/auth/password/", {"new_password": "a-long-pass-phrase"})
    wrong = client.post(
        "/api/v1/auth/password/",
        {"current_password": "not-it", "new_password": "a-long-pass-phrase"},
    )

    assert "current_password" in assert_error(missing, 400)["fields"]
    assert "current_password" in assert_error(wrong, 400, "current_password_invalid")["fields"]
    customer.user.refresh_from_db()
    assert customer.user.check_password(PASSWORD)


def test_a_password_change_revokes_the_other_tokens_and_keeps_this_one(customer):
    this, other = token_client(customer.user), token_client(customer.user)

    response = this.post(
        "/api/v1/auth/password/",
        {"current_password": PASSWORD, "new_password": "a-long-pass-phrase"},
    )

    assert response.status_code == 204, response.content
    assert this.get("/api/v1/me/").status_code == 200
    assert_error(other.get("/api/v1/me/"), 401, "authentication_failed")
    customer.user.refresh_from_db()
    assert customer.user.check_password("a-long-pass-phrase")


def test_wrong_current_passwords_count_towards_the_lockout(customer, small_lockout):
    client = token_client(customer.user)
    answers = [
        client.post(
            "/api/v1/auth/password/",
            {"current_password": f"guess-{n}", "new_password": "a-long-pass-phrase"},
        ).status_code
        for n in range(3)
    ]

    assert answers == [400, 400, 429]
    login = APIClient().post(
        "/api/v1/auth/token/", {"username": "jane@example.com", "password": PASSWORD}
    )
    assert_error(login, 429, "locked_out")


def test_a_session_user_stays_signed_in_after_changing_their_password(staff):
    client = APIClient(enforce_csrf_checks=False)
    client.force_login(staff)

    response = client.post(
        "/api/v1/auth/password/",
        {"current_password": PASSWORD, "new_password": "a-long-pass-phrase"},
    )

    assert response.status_code == 204, response.content
    assert client.get("/api/v1/me/").status_code == 403  # still signed in: staff, not customer


def test_the_admin_refuses_a_weak_password_for_a_new_user():
    root = get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    client = Client()
    client.force_login(root)

    page = client.post(
        "/admin/auth/user/add/",
        {"username": "newbie", "password1": "12345678", "password2": "12345678"},
    )

    assert page.status_code == 200
    assert "This password is entirely numeric." in page.content.decode()
    assert not get_user_model().objects.filter(username="newbie").exists()


def test_createsuperuser_without_a_prompt_refuses_a_weak_password(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "12345678")

    with pytest.raises(CommandError, match="entirely numeric"):
        call_command("createsuperuser", interactive=False, username="ops", email="ops@example.com")

    assert not get_user_model().objects.filter(username="ops").exists()


def test_createsuperuser_without_a_prompt_accepts_a_strong_password(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-pass-phrase")

    call_command(
        "createsuperuser", interactive=False, username="ops", email="ops@example.com", verbosity=0
    )

    assert get_user_model().objects.get(username="ops").check_password("a-long-pass-phrase")
