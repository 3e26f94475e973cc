"""Personal data stays out of logs, error reports and the production mail path."""

import io
import logging
import os
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager

import pytest

from brands.tests.factories import BrandFactory
from core.privacy import PiiLogFilter, mask_text, sentry_before_send
from customers.tests.factories import CustomerFactory
from notifications.models import NotificationDelivery
from notifications.services import NotificationService
from notifications.tests.factories import NotificationTemplateFactory

EMAIL = "ann.lee@example.com"


def _record(msg, args=()):
    return logging.LogRecord("x", logging.WARNING, __file__, 1, msg, args, None)


def test_the_log_filter_masks_an_email_and_a_phone_in_the_message_and_in_its_args():
    record = _record(
        "Mail to %s failed; customer ann@shop.example rang +33 6 12 34 56 78", (EMAIL,)
    )

    assert PiiLogFilter().filter(record) is True

    message = record.getMessage()
    assert EMAIL not in message and "ann@shop.example" not in message
    assert "a***@example.com" in message and "a***@shop.example" in message
    assert "12 34 56 78" not in message and "+33 ••• •• 78" in message


def test_the_log_filter_masks_a_traceback_and_leaves_ids_dates_and_amounts_alone():
    try:
        raise ValueError(f"refused {EMAIL}")
    except ValueError:
        record = logging.LogRecord(
            "x",
            logging.ERROR,
            __file__,
            1,
            "Order %s on %s: %s",
            (1234, "2026-11-28", "12.50"),
            sys.exc_info(),
        )
    PiiLogFilter().filter(record)

    assert record.getMessage() == "Order 1234 on 2026-11-28: 12.50"
    assert EMAIL not in record.exc_text and "a***@example.com" in record.exc_text


def test_sentry_events_are_scrubbed_everywhere():
    event = {
        "message": f"failed for {EMAIL}",
        "exception": {"values": [{"value": f"SMTPRecipientsRefused: {{'{EMAIL}': 550}}"}]},
        "breadcrumbs": {"values": [{"message": "phone +441234567890"}]},
        "request": {"data": {"email": EMAIL}},
        "level": "error",
    }

    scrubbed = sentry_before_send(event, {})

    assert EMAIL not in repr(scrubbed) and "441234567890" not in repr(scrubbed)
    assert scrubbed["request"]["data"]["email"] == "a***@example.com"
    assert scrubbed["level"] == "error"


def test_mask_text_keeps_text_without_personal_data():
    assert mask_text("Points 120 for order 88 at 2026-11-28T03:30") == (
        "Points 120 for order 88 at 2026-11-28T03:30"
    )


@contextmanager
def refusing_smtp_server():
    """A real SMTP peer on a free port that refuses every recipient (550)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(5)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as lines:
                conn.sendall(b"220 test ESMTP\r\n")
                for line in lines:
                    verb = line[:4].upper()
                    if verb == b"QUIT":
                        conn.sendall(b"221 bye\r\n")
                        break
                    if verb == b"RCPT":
                        conn.sendall(b"550 no such user here\r\n")
                    else:
                        conn.sendall(b"250 ok\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        server.close()
        thread.join(timeout=5)


@contextmanager
def root_log_output():
    """What the configured root handlers write, through their filters."""
    buffer = io.StringIO()
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    handlers = [h for h in handlers if any(isinstance(f, PiiLogFilter) for f in h.filters)]
    assert handlers, "the root logger has no handler with the PII filter"
    previous = [handler.setStream(buffer) for handler in handlers]
    try:
        yield buffer
    finally:
        for handler, stream in zip(handlers, previous, strict=True):
            handler.setStream(stream)


@pytest.mark.django_db
def test_a_refused_email_is_logged_without_the_address(
    settings, django_capture_on_commit_callbacks
):
    # Given a mail server that refuses the customer's address
    NotificationTemplateFactory(channel="email")
    customer = CustomerFactory(email=EMAIL)
    with refusing_smtp_server() as port:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
        # When a notification is sent, through the handlers the project configures
        with root_log_output() as output, django_capture_on_commit_callbacks(execute=True):
            notification = NotificationService.send_notification(
                event="loyalty.points.earned",
                payload={"points": 10},
                customer=customer,
                brand=BrandFactory(),
            )

    # Then the failure is logged, with the address masked
    delivery = notification.deliveries.get(channel="email")
    assert delivery.status == NotificationDelivery.Status.FAILED
    assert EMAIL in delivery.last_error  # the record itself keeps what the server said
    written = output.getvalue()
    assert "try 1 failed" in written
    assert EMAIL not in written and "a***@example.com" in written


def _settings_value(name: str, **env) -> str:
    environment = {k: v for k, v in os.environ.items() if k not in {"EMAIL_BACKEND", "DEBUG"}}
    environment.update(env, DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run(
        [sys.executable, "-c", f"from django.conf import settings; print(settings.{name})"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()


def test_production_sends_email_by_smtp_and_only_debug_prints_it():
    assert _settings_value("EMAIL_BACKEND", DEBUG="0") == (
        "django.core.mail.backends.smtp.EmailBackend"
    )
    assert _settings_value("EMAIL_BACKEND", DEBUG="1") == (
        "django.core.mail.backends.console.EmailBackend"
    )
    assert _settings_value(
        "EMAIL_BACKEND", DEBUG="0", EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"
    ) == ("django.core.mail.backends.dummy.EmailBackend")


def test_the_access_log_of_make_serve_holds_no_query_string(tmp_path):
    # Given gunicorn started with the access log format `make serve` uses
    import re
    import socket
    import time
    import urllib.request

    from django.conf import settings

    makefile = (settings.BASE_DIR / "Makefile").read_text()
    access_format = re.search(r"^ACCESS_LOG_FORMAT = '(.*)'$", makefile, re.M).group(1)
    assert "--access-logformat $(ACCESS_LOG_FORMAT)" in makefile
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "access.log"
    env = {**os.environ, "DATABASE_URL": "sqlite:///:memory:", "DEBUG": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", "1", "--access-logfile", str(log),
         "--access-logformat", access_format],
        cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                # When a request carries an email address in its query string and referer
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/healthz?email={EMAIL}",
                    headers={"Referer": f"http://shop.example/?q={EMAIL}"},
                )
                urllib.request.urlopen(request, timeout=5).read()  # noqa: S310 - http on loopback
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "no gunicorn"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)

    # Then the access log names the request without the query or the referer
    written = log.read_text()
    assert '"GET /healthz HTTP/1.1" 200' in written
    assert EMAIL not in written and "example.com" not in written
