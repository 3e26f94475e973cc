"""Brute force: django-axes locks a username, and an address, after N failed logins, on the
API token endpoint, the admin login and the basket login alike."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.conftest import PASSWORD
from core.tests.api_world import assert_error

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/token/"
WRONG = "not-the-password"


def api_login(username="jane@example.com", password=WRONG, ip="203.0.113.9"):
    return APIClient().post(
        LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip, format="json"
    )


def test_a_guessing_run_is_locked_out_after_the_limit(customer, small_lockout):
    statuses = [api_login().status_code for _ in range(60)]

    assert statuses[:2] == [400, 400]
    assert set(statuses[2:]) == {429}
    # The right password is refused too while the lockout lasts.
    response = api_login(password=PASSWORD)
    body = assert_error(response, 429, "locked_out")
    assert "try again in 15 minutes" in body["message"]
    assert response["Retry-After"] == str(15 * 60)


def test_a_username_is_locked_whatever_the_address(customer, small_lockout):
    for index in range(3):
        api_login(ip=f"198.51.100.{index}")

    assert_error(api_login(password=PASSWORD, ip="192.0.2.77"), 429, "locked_out")


def test_an_address_is_locked_whatever_the_username(customer, small_lockout):
    for index in range(3):
        api_login(username=f"guess-{index}@example.com")

    assert_error(api_login(password=PASSWORD), 429, "locked_out")
    assert api_login(password=PASSWORD, ip="192.0.2.77").status_code == 200


def test_known_and_unknown_usernames_get_the_same_answers(customer, small_lockout):
    def answers(username, ip):
        responses = [api_login(username=username, ip=ip) for _ in range(4)]
        return [(r.status_code, r.json()) for r in responses]

    assert answers("jane@example.com", "192.0.2.1") == answers("nobody@example.com", "192.0.2.2")


def test_the_lockout_ends_after_the_cool_off(customer, small_lockout):
    for _ in range(3):
        api_login()
    assert api_login(password=PASSWORD).status_code == 429

    # When the 15 minutes of cool-off have passed since the last failure
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    assert api_login(password=PASSWORD).status_code == 200


def test_failures_below_the_limit_do_not_stop_the_right_password(customer, small_lockout):
    api_login()
    api_login()

    assert api_login(password=PASSWORD).status_code == 200


def test_the_admin_login_page_says_so_in_a_plain_sentence(staff, small_lockout):
    client = Client()
    for _ in range(2):
        page = client.post("/admin/login/", {"username": "clerk", "password": WRONG})
        assert page.status_code == 200

    page = client.post("/admin/login/", {"username": "clerk", "password": WRONG})

    assert page.status_code == 429
    assert page["Retry-After"] == str(15 * 60)
    text = page.content.decode()
    assert "Too many failed sign-in attempts" in text
    assert 'name="password"' in text  # the login page itself, with the message on its form
    assert "axes" not in text.lower()
    right = client.post("/admin/login/", {"username": "clerk", "password": PASSWORD})
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_basket_login_page_says_so_in_a_plain_sentence(customer, small_lockout):
    client = Client()
    for _ in range(3):
        page = client.post("/basket/login/", {"username": "jane@example.com", "password": WRONG})

    assert page.status_code == 429
    text = page.content.decode()
    assert "Too many failed sign-in attempts" in text
    assert "Sign in" in text
    right = client.post("/basket/login/", {"username": "jane@example.com", "password": PASSWORD})
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session


def test_failures_on_every_login_path_add_up(customer, small_lockout):
    """One counter for the username across the API, the basket page and the admin."""
    api_login()
    Client().post("/basket/login/", {"username": "jane@example.com", "password": WRONG})
    Client().post("/admin/login/", {"username": "jane@example.com", "password": WRONG})

    assert_error(api_login(password=PASSWORD, ip="192.0.2.50"), 429, "locked_out")


def test_the_basket_login_still_signs_in_with_the_right_password(customer):
    response = Client().post(
        "/basket/login/", {"username": "jane@example.com", "password": PASSWORD}
    )

    assert response.status_code == 302


@pytest.fixture
def behind_one_proxy(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}


def proxied_login(forwarded_for: str, password=WRONG, username="jane@example.com"):
    return APIClient().post(
        LOGIN,
        {"username": username, "password": password},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR=forwarded_for,
        format="json",
    )


def test_behind_a_proxy_the_address_it_saw_is_locked_not_the_proxy(
    customer, small_lockout, behind_one_proxy
):
    # The client forges the left part of X-Forwarded-For; the proxy appends what it saw.
    for index in range(3):
        proxied_login(f"198.51.100.{index}, 203.0.113.5", username=f"guess-{index}@example.com")

    assert_error(proxied_login("192.0.2.1, 203.0.113.5", password=PASSWORD), 429, "locked_out")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.5"}
    assert proxied_login("203.0.113.6", password=PASSWORD).status_code == 200


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(customer, small_lockout):
    for index in range(3):
        proxied_login(f"198.51.100.{index}", username=f"guess-{index}@example.com")

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"10.0.0.2"}


def test_a_forwarded_for_that_is_not_an_address_is_no_500(customer, behind_one_proxy):
    response = proxied_login("not-an-address")

    assert_error(response, 400, "invalid_credentials")
    assert AccessAttempt.objects.get().ip_address == "10.0.0.2"
