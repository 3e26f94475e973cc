"""Flower through `make flower`, the command the compose stack runs: a login is required, it
listens on the loopback unless told otherwise, and the port is configurable; the compose file
publishes it on the host's loopback only and never seeds the demo on the production path."""

import base64
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import yaml
from django.conf import settings

STARTUP_TIMEOUT_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _make(*args: str, env: dict[str, str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        ["make", "--no-print-directory", *args, f"BIN={settings.BASE_DIR / '.venv' / 'bin'}"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


def _get(url: str, credentials: str | None = None) -> int:
    request = urllib.request.Request(url)  # noqa: S310 - a local URL
    if credentials:
        token = base64.b64encode(credentials.encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_flower_asks_for_the_login_and_accepts_it():
    port = _free_port()
    process = _make(
        "flower",
        f"FLOWER_PORT={port}",
        env={"FLOWER_BASIC_AUTH": "ops:a-long-flower-password"},
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while True:
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "Flower did not start in time"
            try:
                anonymous = _get(url)
                break
            except (ConnectionError, urllib.error.URLError):
                time.sleep(0.3)
        wrong = _get(url, "ops:wrong")
        logged_in = _get(url, "ops:a-long-flower-password")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)

    assert anonymous == 401
    assert wrong == 401
    assert logged_in == 200


def test_flower_refuses_to_listen_beyond_the_loopback_without_a_login():
    process = _make("flower", "HOST=0.0.0.0", f"FLOWER_PORT={_free_port()}", env={})
    output, _ = process.communicate(timeout=60)

    assert process.returncode != 0
    assert "Flower on 0.0.0.0 needs a login: set FLOWER_BASIC_AUTH=user:password." in output


def test_flower_binds_the_loopback_by_default_and_honours_the_port():
    def command(*args: str, env: dict[str, str] | None = None) -> str:
        process = _make("-n", "flower", *args, env=env or {})
        return process.communicate(timeout=30)[0]

    assert "--address=127.0.0.1 --port=5555" in command()
    assert "--port=5600" in command("PORT=5600")
    assert "--port=5700" in command(env={"FLOWER_PORT": "5700"})


def test_compose_publishes_flower_on_the_loopback_and_never_seeds():
    compose = yaml.safe_load((settings.BASE_DIR / "docker-compose.yml").read_text())
    services = compose["services"]

    assert services["flower"]["ports"] == ["127.0.0.1:5555:5555"]
    assert services["flower"]["environment"]["FLOWER_BASIC_AUTH"] == "${FLOWER_BASIC_AUTH:-}"
    for name in ("web", "worker", "beat", "flower"):
        assert "seed" not in services[name]["command"], name
    assert services["web"]["command"].startswith("make migrate serve")
    # No public fallback key: the app refuses to start without one.
    assert services["web"]["environment"]["SECRET_KEY"] == "${SECRET_KEY:-}"
