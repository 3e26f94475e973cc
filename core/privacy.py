"""Personal data shown to staff, by role: one policy and the masks it applies.

`PII_POLICY` says, for each role of `brands.roles`, how much of each personal field a staff
user of that role sees: in full, masked (enough to recognise a customer), or not at all. A user
in several roles sees the most any of their roles allows; a superuser sees everything; staff in
no role see nothing. Customers always see their own data in full (their serializers do not
mask). The API serializers, the admin and the staff basket page all ask `pii_level` and
`pii_value`; logs and error reports go through `mask_text`.
"""

import json
import logging
import re
from datetime import date
from enum import IntEnum

from brands.roles import ANALYST, BRAND_ADMIN, MARKETING_MANAGER, STORE_MANAGER, SUPPORT_AGENT


class Level(IntEnum):
    HIDDEN = 0
    MASKED = 1
    FULL = 2


EMAIL = "email"
PHONE = "phone"
BIRTH_DATE = "birth_date"
PII_FIELDS = (EMAIL, PHONE, BIRTH_DATE)
TEXT = "text"  # free text that may contain addresses and phone numbers

# Which role sees which field, and how much.
PII_POLICY: dict[str, dict[str, Level]] = {
    BRAND_ADMIN: {EMAIL: Level.FULL, PHONE: Level.FULL, BIRTH_DATE: Level.FULL},
    SUPPORT_AGENT: {EMAIL: Level.MASKED, PHONE: Level.MASKED, BIRTH_DATE: Level.MASKED},
    MARKETING_MANAGER: {EMAIL: Level.MASKED, PHONE: Level.MASKED, BIRTH_DATE: Level.MASKED},
    STORE_MANAGER: {EMAIL: Level.MASKED, PHONE: Level.MASKED, BIRTH_DATE: Level.HIDDEN},
    ANALYST: {EMAIL: Level.MASKED, PHONE: Level.HIDDEN, BIRTH_DATE: Level.HIDDEN},
}

_CACHE_ATTR = "_pii_levels"


def _levels(user) -> dict[str, Level]:
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    if user is not None and user.is_authenticated and user.is_active and user.is_superuser:
        levels = dict.fromkeys(PII_FIELDS, Level.FULL)
    elif user is not None and user.is_authenticated and user.is_active:
        levels = dict.fromkeys(PII_FIELDS, Level.HIDDEN)
        for role in user.groups.values_list("name", flat=True):
            for field, level in PII_POLICY.get(role, {}).items():
                levels[field] = max(levels[field], level)
    else:
        levels = dict.fromkeys(PII_FIELDS, Level.HIDDEN)
    if user is not None:
        setattr(user, _CACHE_ATTR, levels)
    return levels


def pii_level(user, field: str) -> Level:
    """How much of `field` (email, phone, birth_date, text) a staff user may see. Free text
    is shown in full only to who sees both emails and phones in full."""
    levels = _levels(user)
    if field == TEXT:
        return min(levels[EMAIL], levels[PHONE])
    return levels[field]


def mask_email(email: str | None) -> str | None:
    """`jane.doe@example.com` -> `j***@example.com`."""
    if not email:
        return email
    local, at, domain = email.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_phone(phone: str | None) -> str | None:
    """`+33 6 12 34 56 78` -> `+33 ••• •• 78`: the country code and the last two digits."""
    if not phone:
        return phone
    digits = re.sub(r"\D", "", phone)
    if len(digits) <= 4:
        return "•••"
    prefix = f"+{digits[:2]} " if phone.lstrip().startswith("+") else ""
    return f"{prefix}••• •• {digits[-2:]}"


def mask_birth_date(birth_date: date | str | None) -> str | None:
    """A birth date without its year, in ISO 8601 form: `1990-05-14` -> `--05-14`."""
    if not birth_date:
        return None
    if isinstance(birth_date, str):
        birth_date = date.fromisoformat(birth_date)
    return f"--{birth_date.month:02d}-{birth_date.day:02d}"


_MASKS = {EMAIL: mask_email, PHONE: mask_phone, BIRTH_DATE: mask_birth_date}


def shown_value(field: str, level: Level, value):
    """`value` of personal field `field` at `level`: itself, masked, or None. Free text (and
    JSON) below FULL has its addresses and phone numbers masked."""
    if level is Level.FULL or value in (None, ""):
        return value
    if field == TEXT:
        if isinstance(value, dict | list):
            value = json.dumps(value, default=str)
        return mask_text(str(value))
    if level is Level.MASKED:
        return _MASKS[field](value)
    return None


def pii_value(user, field: str, value):
    """`value` of personal field `field` as `user` may see it."""
    return shown_value(field, pii_level(user, field), value)


# An address, and a phone number: a + or a digit, then at least 8 more digits with the
# separators people type. What only looks like one is left alone: dates and times
# (2026-11-28 03:30), IPv4 addresses, decimal amounts, and digits inside words or UUIDs.
EMAIL_PATTERN = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A phone number in international (`+33 6 12 34 56 78`) or national (`06 12 34 56 78`) form. A
# bare run of digits not starting with 0 is an id (an order, a ticket), not a phone number.
PHONE_PATTERN = re.compile(
    r"(?<![\w+.:-])(?:\+\d(?:[ .()-]{0,2}\d){7,}|0(?:[ .()-]{0,2}\d){8,})(?![\w:-])"
)
_NOT_A_PHONE = re.compile(r"\d{4}-\d\d-\d\d|\d{1,3}(?:\.\d{1,3}){3}$|\d+\.\d+$")


def _mask_phone_match(match: re.Match) -> str:
    text = match.group(0)
    return text if _NOT_A_PHONE.match(text) else mask_phone(text)


def mask_text(text: str) -> str:
    """Free text with every email address and phone number in it masked."""
    if "@" in text:
        text = EMAIL_PATTERN.sub(lambda match: mask_email(match.group(0)), text)
    return PHONE_PATTERN.sub(_mask_phone_match, text)


class PiiLogFilter(logging.Filter):
    """Masks email addresses and phone numbers in log records (installed on the handlers).

    The message is formatted with its arguments first, so a value passed as an argument is
    masked as well as one written into the message.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        masked = mask_text(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        return True


def _scrub(value, depth: int = 0):
    if depth > 20:
        return value
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {key: _scrub(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item, depth + 1) for item in value]
    return value


def sentry_before_send(event: dict, hint: dict | None = None) -> dict:
    """Sentry's `before_send`: every string of the event with emails and phones masked.

    Covers the message, exception values, breadcrumbs, request data and local variables.
    """
    return _scrub(event)
