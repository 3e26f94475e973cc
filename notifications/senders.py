"""What leaves the process: one email through Django's email backend, one signed HTTP POST.

Each sender returns a `SendResult` and never raises; `transient` tells whether trying again later
can help (a timeout, a 503) or not (a 404, a refused address).
"""

import http.client
import smtplib
import socket
import ssl
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import BadHeaderError, EmailMessage, get_connection

from notifications.addresses import WebhookAddressRefused, WebhookTarget, webhook_target
from notifications.signing import (
    DELIVERY_ID_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    signature_header,
)

WEBHOOK_TIMEOUT_SECONDS = 10
# Used when settings.EMAIL_TIMEOUT is not set, so a silent mail server cannot hold a worker.
EMAIL_TIMEOUT_SECONDS = 30
USER_AGENT = "promo-platform-webhooks/1"
EXCERPT_LENGTH = 500
# Statuses worth another try: the receiver is busy, rate-limits us, or failed on its side.
TRANSIENT_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True)
class SendResult:
    ok: bool
    transient: bool = False
    status_code: int | None = None
    error: str = ""
    response_excerpt: str = ""


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to a checked address; the Host header names the URL's host."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address; TLS sends and verifies the URL's host name (SNI and the
    certificate), as a connection by name would."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _excerpt(raw: bytes) -> str:
    return raw[:EXCERPT_LENGTH].decode("utf-8", errors="replace")


def _post(target: WebhookTarget, address: str, body: bytes, headers: dict) -> tuple[int, str]:
    """One POST to `address`; redirects are answers like any other (never followed)."""
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(
        target.host, target.port, address=address, timeout=WEBHOOK_TIMEOUT_SECONDS
    )
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, _excerpt(response.read(EXCERPT_LENGTH))
    finally:
        connection.close()


def webhook_post(*, url: str, secret: str, body: bytes, event: str, delivery_id: int) -> SendResult:
    """POST `body` to `url`: its host is resolved once and checked (`addresses.webhook_target`),
    and the connection goes to an address that was checked, never to a second DNS answer."""
    try:
        target = webhook_target(url)
    except WebhookAddressRefused as refusal:
        return SendResult(ok=False, error=str(refusal))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature_header(secret, body),
        EVENT_HEADER: event,
        DELIVERY_ID_HEADER: str(delivery_id),
    }
    error: Exception | None = None
    for address in target.addresses:
        try:
            status, excerpt = _post(target, address, body, headers)
            break
        except (OSError, http.client.HTTPException, ValueError) as exc:
            error = exc
    else:
        return SendResult(ok=False, transient=True, error=f"{type(error).__name__}: {error}")
    if 200 <= status < 300:
        return SendResult(ok=True, status_code=status, response_excerpt=excerpt)
    return SendResult(
        ok=False,
        transient=status >= 500 or status in TRANSIENT_STATUSES,
        status_code=status,
        error=f"HTTP {status}",
        response_excerpt=excerpt,
    )


def email_send(*, to: str, subject: str, body: str) -> SendResult:
    try:
        connection = get_connection(timeout=settings.EMAIL_TIMEOUT or EMAIL_TIMEOUT_SECONDS)
        message = EmailMessage(subject=subject, body=body, to=[to], connection=connection)
        sent = message.send()
    except (smtplib.SMTPRecipientsRefused, BadHeaderError, ValueError) as exc:
        return SendResult(ok=False, error=f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # the mail server is down or slow: try again later
        return SendResult(ok=False, transient=True, error=f"{type(exc).__name__}: {exc}")
    if not sent:
        return SendResult(ok=False, error="The email backend sent nothing.")
    return SendResult(ok=True)
