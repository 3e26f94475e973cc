"""The security log: one structured line per authentication event, to the `security` logger.

A line reads `security_event=login_failed user="j***@example.com" ip=203.0.113.9 path=...`.
Usernames are masked and passwords and tokens never reach it; a user is named by id where one
is known. The same fields travel as `record.security_event` for log handlers that want them.
"""

import json
import logging

from axes.helpers import get_client_ip_address

logger = logging.getLogger("security")

LOGIN_FAILED = "login_failed"
LOCKED_OUT = "locked_out"
LOGGED_IN = "logged_in"
# Event names, not secrets:
TOKEN_ISSUED = "token_issued"  # noqa: S105
TOKEN_REVOKED = "token_revoked"  # noqa: S105
PASSWORD_CHANGED = "password_changed"  # noqa: S105
EMAIL_CHANGED = "email_changed"


def mask_username(username: str) -> str:
    """`jane@example.com` -> `j***@example.com`, `brand-admin` -> `b***`."""
    local, at, domain = str(username).partition("@")
    return f"{local[:1]}***{at}{domain}"


def _value(value) -> str:
    text = str(value)
    if text and all(c.isalnum() or c in "-_.:/@*" for c in text):
        return text
    return json.dumps(text)  # quotes spaces, and escapes newlines a forged username could carry


def security_event_log(
    event: str, *, request=None, user=None, username: str | None = None, **details
) -> None:
    fields: dict = {"security_event": event}
    if user is not None:
        fields["user_id"] = user.pk
    if username:
        fields["user"] = mask_username(username)
    if request is not None:
        http_request = getattr(request, "_request", request)
        fields["ip"] = get_client_ip_address(http_request)
        fields["path"] = http_request.path
    fields.update(details)
    line = " ".join(f"{name}={_value(value)}" for name, value in fields.items())
    level = logging.WARNING if event in {LOGIN_FAILED, LOCKED_OUT} else logging.INFO
    logger.log(level, line, extra={"security_event": fields})
