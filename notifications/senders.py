"""What leaves the process: one email through Django's email backend, one signed HTTP POST.

Each sender returns a `SendResult` and never raises; `transient` tells whether trying again later
can help (a timeout, a 503) or not (a 404, a refused address).
"""

import ipaddress
import smtplib
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import BadHeaderError, EmailMessage, get_connection

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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other non-2xx: the endpoint's URL needs fixing."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _excerpt(raw: bytes) -> str:
    return raw[:EXCERPT_LENGTH].decode("utf-8", errors="replace")


def refused_address(url: str) -> str | None:
    """Why `url` may not be called, or None: its host must resolve to public addresses only
    (unless settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS). Checked at each delivery, so a DNS change
    after the endpoint was saved is caught too."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return f"Unsupported URL {url!r}."
    if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        return f"Cannot resolve {parts.hostname!r}: {exc}"
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global or address.is_multicast:
            return f"{parts.hostname!r} resolves to a non-public address ({address})."
    return None


def webhook_post(*, url: str, secret: str, body: bytes, event: str, delivery_id: int) -> SendResult:
    refusal = refused_address(url)
    if refusal is not None:
        return SendResult(ok=False, error=refusal)
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: signature_header(secret, body),
            EVENT_HEADER: event,
            DELIVERY_ID_HEADER: str(delivery_id),
        },
    )
    try:
        with _opener.open(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            status = response.status
            excerpt = _excerpt(response.read(EXCERPT_LENGTH))
    except urllib.error.HTTPError as exc:
        status = exc.code
        try:
            excerpt = _excerpt(exc.read(EXCERPT_LENGTH))
        except OSError:
            excerpt = ""
        finally:
            exc.close()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return SendResult(ok=False, transient=True, error=f"{type(exc).__name__}: {reason}")
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
