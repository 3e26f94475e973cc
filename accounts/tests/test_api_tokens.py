"""API tokens: a new hashed, expiring token per login; logout and logout everywhere."""

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.tests.conftest import PASSWORD
from core.tests.api_world import assert_error

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/token/"


def login(username="jane@example.com", password=PASSWORD, **extra):
    return APIClient().post(LOGIN, {"username": username, "password": password}, **extra)


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_a_login_answers_a_token_that_opens_the_api(customer):
    response = login()

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"token", "expiry"}
    me = client_with(body["token"]).get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["email"] == "jane@example.com"


def test_each_login_issues_a_new_token_and_the_old_one_keeps_working(customer):
    first, second = login().json()["token"], login().json()["token"]

    assert first != second
    assert client_with(first).get("/api/v1/me/").status_code == 200
    assert client_with(second).get("/api/v1/me/").status_code == 200


def test_only_a_hash_of_the_token_is_stored(customer):
    token = login().json()["token"]

    stored = AuthToken.objects.get(user=customer.user)
    assert stored.digest == hashlib.sha512(token.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT digest, token_key FROM knox_authtoken")
        rows = cursor.fetchall()
    assert rows and all(token not in column for row in rows for column in row)


def test_a_token_expires_after_the_configured_time(customer, settings):
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_TTL": timedelta(hours=2)}
    before = timezone.now()

    response = login()

    expiry = AuthToken.objects.get(user=customer.user).expiry
    assert before + timedelta(hours=2) <= expiry <= timezone.now() + timedelta(hours=2)
    client = client_with(response.json()["token"])
    assert client.get("/api/v1/me/").status_code == 200
    # When the two hours have passed
    AuthToken.objects.filter(user=customer.user).update(expiry=timezone.now())
    assert_error(client.get("/api/v1/me/"), 401, "authentication_failed")
    assert not AuthToken.objects.filter(user=customer.user).exists()


def test_logout_revokes_this_token_only(customer):
    kept, revoked = login().json()["token"], login().json()["token"]

    response = client_with(revoked).post("/api/v1/auth/logout/")

    assert response.status_code == 204
    assert_error(client_with(revoked).get("/api/v1/me/"), 401, "authentication_failed")
    assert client_with(kept).get("/api/v1/me/").status_code == 200


def test_logout_everywhere_revokes_every_token_of_the_user(customer, staff):
    tokens = [login().json()["token"] for _ in range(3)]
    other_user = login(username="clerk").json()["token"]

    response = client_with(tokens[0]).post("/api/v1/auth/logout-all/")

    assert response.status_code == 204
    for token in tokens:
        assert_error(client_with(token).get("/api/v1/me/"), 401, "authentication_failed")
    assert AuthToken.objects.filter(user=staff).count() == 1
    assert client_with(other_user).get("/api/v1/customers/").status_code != 401


def test_logout_needs_a_token(customer):
    assert_error(APIClient().post("/api/v1/auth/logout/"), 401, "not_authenticated")
    assert_error(APIClient().post("/api/v1/auth/logout-all/"), 401, "not_authenticated")


def test_a_user_keeps_at_most_the_configured_number_of_tokens(customer, settings):
    settings.AUTH_TOKEN_LIMIT_PER_USER = 3
    tokens = [login().json()["token"] for _ in range(5)]

    assert AuthToken.objects.filter(user=customer.user).count() == 3
    assert [client_with(t).get("/api/v1/me/").status_code for t in tokens] == [
        401,
        401,
        200,
        200,
        200,
    ]


def test_a_login_removes_the_users_expired_tokens(customer):
    login()
    AuthToken.objects.filter(user=customer.user).update(expiry=timezone.now())

    login()

    assert AuthToken.objects.filter(user=customer.user).count() == 1


def test_a_token_header_that_is_not_utf8_is_a_401_not_a_500():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token \xff\xfe-not-utf8")

    assert_error(client.get("/api/v1/me/"), 401, "authentication_failed")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"username": "jane@example.com"}, "password"),
        ({"password": PASSWORD}, "username"),
        ({"username": "jane\x00@example.com", "password": PASSWORD}, "username"),
        ('{"username": "jane@example.com", "password": "p\\ud800"}', "password"),
        ({"username": "x" * 255, "password": PASSWORD}, "username"),
    ],
)
def test_bad_login_input_is_a_400_naming_the_field(customer, body, field):
    if isinstance(body, str):  # a lone surrogate, escaped in raw JSON
        response = APIClient().post(LOGIN, body, content_type="application/json")
    else:
        response = APIClient().post(LOGIN, body, format="json")

    body = assert_error(response, 400, "validation_error")

    assert field in body["fields"]
    assert not AuthToken.objects.exists()


def test_an_inactive_user_gets_no_token(customer):
    customer.user.is_active = False
    customer.user.save(update_fields=["is_active"])

    assert_error(login(), 400, "invalid_credentials")
    assert not AuthToken.objects.exists()
