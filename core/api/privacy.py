"""A serializer field that renders a customer's personal data as the requesting staff user
may see it (the policy is `core.privacy.PII_POLICY`)."""

from datetime import date

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.privacy import BIRTH_DATE, EMAIL, PHONE, pii_value

_HELP = {
    EMAIL: "In full, masked (j***@example.com) or null, by your role.",
    PHONE: "In full, masked (+33 ••• •• 12) or null, by your role.",
    BIRTH_DATE: "YYYY-MM-DD in full, --MM-DD masked (no year) or null, by your role.",
}


@extend_schema_field({"type": "string", "nullable": True})
class PersonalDataField(serializers.Field):
    """Read-only. Without a request in the context nothing is shown: the field fails closed."""

    def __init__(self, kind: str, **kwargs):
        if kind not in _HELP:
            raise ValueError(f"unknown personal data field {kind!r}")
        self.kind = kind
        kwargs["read_only"] = True
        kwargs.setdefault("help_text", _HELP[kind])
        super().__init__(**kwargs)

    def to_representation(self, value):
        request = self.context.get("request")
        shown = pii_value(getattr(request, "user", None), self.kind, value)
        if isinstance(shown, date):
            return shown.isoformat()
        return shown
