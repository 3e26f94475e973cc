"""One error family. Every error the product raises on purpose carries a stable `code`.

The API turns each into `{"code", "message", "fields"}` (see `core.api.errors`).
"""

from typing import Any


class ApplicationError(Exception):
    status_code = 400
    default_code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.fields = fields or {}
        self.extra = extra or {}


class NotFoundError(ApplicationError):
    status_code = 404
    default_code = "not_found"


class ConflictError(ApplicationError):
    status_code = 409
    default_code = "conflict"


class PermissionDeniedError(ApplicationError):
    status_code = 403
    default_code = "permission_denied"


class PayloadTooLargeError(ApplicationError):
    status_code = 413
    default_code = "payload_too_large"
