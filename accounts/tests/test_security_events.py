"""The `security` log: one line per authentication event, never a password or a token."""

import logging

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from accounts.tests.conftest import PASSWORD
from core.tests.api_world import token_client

pytestmark = pytest.mark.django_db

SECRET_GUESS = "hunter2-secret-guess"


@pytest.fixture
def security_log(caplog):
    caplog.set_level(logging.INFO, logger="security")

    def lines(event: str) -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.name == "security" and r.security_event["security_event"] == event
        ]

    lines.text = lambda: "\n".join(r.getMessage() for r in caplog.records)
    return lines


def login(username="jane@example.com", password=PASSWORD):
    return APIClient().post(
        "/api/v1/auth/token/",
        {"username": username, "password": password},
        REMOTE_ADDR="203.0.113.9",
    )


def test_a_failed_login_is_logged_with_a_masked_username_and_no_password(customer, security_log):
    login(password=SECRET_GUESS)

    assert security_log("login_failed") == [
        "security_event=login_failed user=j***@example.com ip=203.0.113.9 path=/api/v1/auth/token/"
    ]
    assert SECRET_GUESS not in security_log.text()
    assert "jane@" not in security_log.text()


def test_a_lockout_is_logged(customer, small_lockout, security_log):
    for _ in range(3):
        login(password=SECRET_GUESS)

    assert security_log("locked_out") == [
        "security_event=locked_out user=j***@example.com ip=203.0.113.9 path=/api/v1/auth/token/"
    ]
    assert len(security_log("login_failed")) == 3


def test_issued_and_revoked_tokens_are_logged_without_the_token(customer, security_log):
    tokens = [login().json()["token"] for _ in range(2)]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {tokens[0]}")
    client.post("/api/v1/auth/logout/")
    client.credentials(HTTP_AUTHORIZATION=f"Token {tokens[1]}")
    client.post("/api/v1/auth/logout-all/")

    user_id = customer.user_id
    issued = security_log("token_issued")
    assert len(issued) == 2
    assert all(
        line.startswith(f"security_event=token_issued user_id={user_id} ") for line in issued
    )
    revoked = security_log("token_revoked")
    assert [line.split(" scope=")[1] for line in revoked] == ["this count=1", "all count=1"]
    assert all(token not in security_log.text() for token in tokens)
    assert PASSWORD not in security_log.text()


def test_a_password_change_is_logged_without_the_password(customer, security_log):
    token_client(customer.user).post(
        "/api/v1/auth/password/",
        {"current_password": PASSWORD, "new_password": "a-long-pass-phrase"},
    )

    assert security_log("password_changed") == [
        f"security_event=password_changed user_id={customer.user_id}"
    ]
    assert "a-long-pass-phrase" not in security_log.text()
    assert PASSWORD not in security_log.text()


def test_an_email_change_is_logged(customer, security_log):
    token_client(customer.user).patch(
        "/api/v1/me/", {"email": "june@example.com", "current_password": PASSWORD}
    )

    assert security_log("email_changed") == [
        f"security_event=email_changed user_id={customer.user_id} customer_id={customer.pk} "
        "changed_by=customer"
    ]
    assert "june@" not in security_log.text()


def test_an_email_change_by_staff_names_the_staff_user(customer, security_log):
    from customers.services import customer_update

    staff = get_user_model().objects.create_user("support-1", password="not-used-here-1")
    customer_update(customer=customer, actor=staff, email="june@example.com")

    [line] = security_log("email_changed")
    assert line.endswith(f"customer_id={customer.pk} changed_by={staff.pk}")


def test_a_forged_username_cannot_write_a_second_log_line(security_log):
    login(username="x@evil.example\nsecurity_event=logged_in user_id=1", password=SECRET_GUESS)

    [line] = security_log("login_failed")
    assert "\n" not in line
    assert line.startswith(
        'security_event=login_failed user="x***@evil.example\\nsecurity_event=logged_in '
    )
