"""The production settings: the app refuses to start without a secret key while DEBUG is off,
and `manage.py check --deploy` is clean with the production environment the README documents.

Settings are read once per process, so each case runs `manage.py` in a subprocess with exactly
the environment it describes."""

import json
import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

BASE_ENV = {
    "PATH": os.environ.get("PATH", ""),
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DATABASE_URL": "sqlite:///:memory:",
}


# The production environment of the README ("Security and operations"), behind a proxy that
# terminates TLS and sets X-Forwarded-Proto.
PRODUCTION_ENV = {
    "DEBUG": "0",
    "ALLOWED_HOSTS": "promo.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://promo.example.com",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
    "SECURE_COOKIES": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
}


def _production_env() -> dict[str, str]:
    return {**PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(50)}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**BASE_ENV, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_a_secret_key_and_debug_off_the_app_refuses_to_start():
    result = _manage("check", env={"DEBUG": "0"})

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set." in result.stderr


def test_an_empty_secret_key_is_refused_too():
    result = _manage("check", env={"DEBUG": "0", "SECRET_KEY": ""})

    assert result.returncode != 0
    assert "SECRET_KEY is not set." in result.stderr


def test_with_debug_on_the_local_development_key_is_used():
    result = _manage("check", env={"DEBUG": "1"})

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_is_clean_with_the_documented_production_environment():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_flags_the_production_settings_when_they_are_left_out():
    env = {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "promo.example.com",
    }

    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode != 0
    for code in ("W004", "W008", "W012", "W016"):  # HSTS, SSL redirect, both secure cookies
        assert f"security.{code}" in result.stderr


def test_the_proxy_header_and_hsts_come_from_the_environment():
    shown = _manage(
        "shell",
        "-c",
        "import json; from django.conf import settings as s; print(json.dumps(["
        "s.SECURE_PROXY_SSL_HEADER, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
        "s.SECURE_HSTS_PRELOAD, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE]))",
        env=_production_env(),
    )

    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout.strip().splitlines()[-1]) == [
        ["HTTP_X_FORWARDED_PROTO", "https"],
        31536000,
        True,
        True,
        True,
        True,
    ]


@pytest.mark.django_db
def test_behind_the_proxy_plain_http_is_redirected_and_https_is_served(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000

    plain = client.get("/admin/login/")
    secure = client.get("/admin/login/", headers={"x-forwarded-proto": "https"})
    health = client.get("/healthz")

    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/admin/login/"
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")
    assert secure["X-Content-Type-Options"] == "nosniff"
    assert secure["Referrer-Policy"] == "same-origin"
    assert secure["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in secure["Content-Security-Policy"]
    # The load balancer's health check may use plain HTTP.
    assert health.status_code != 301


def test_the_policy_can_be_rolled_out_in_report_only_mode():
    script = (
        "from django.test import Client; r = Client().get('/api/docs/'); "
        "print(r.status_code, r.has_header('Content-Security-Policy'), "
        "r.get('Content-Security-Policy-Report-Only', ''))"
    )
    shown = _manage("shell", "-c", script, env={"DEBUG": "1", "CSP_REPORT_ONLY": "1"})

    assert shown.returncode == 0, shown.stderr
    status, enforced, report_only = shown.stdout.strip().splitlines()[-1].split(" ", 2)
    assert (status, enforced) == ("200", "False")
    assert "script-src 'self'" in report_only
