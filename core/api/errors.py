"""The one error format: `{"code": str, "message": str, "fields": {path: [messages]}}`."""

import functools
import re
from typing import Any

from django.apps import apps
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import BaseConstraint, CheckConstraint, UniqueConstraint
from django.http import Http404, JsonResponse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.errors import ApplicationError, ConflictError

_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "parse_error",
    exceptions.ValidationError: "validation_error",
}


class ErrorSerializer(serializers.Serializer):
    """Documents the error body in the OpenAPI schema."""

    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


PAGE_NOT_FOUND = OpenApiResponse(
    ErrorSerializer, description="No such page: `page` is past the last page or not a number."
)
"""The 404 of every paginated list, documented with `responses={..., 404: PAGE_NOT_FOUND}`."""


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    return {"code": code, "message": message, "fields": fields or {}}


def flatten_fields(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error detail into `{"lines.0.quantity": ["..."]}`."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            flat.update(flatten_fields(value, path))
        return flat
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or "non_field_errors": [str(item) for item in detail]}
        flat = {}
        for index, item in enumerate(detail):
            if item:
                flat.update(flatten_fields(item, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    return {prefix or "non_field_errors": [str(detail)]}


def _validation_message(fields: dict[str, list[str]]) -> str:
    if list(fields) == ["non_field_errors"]:
        return fields["non_field_errors"][0]
    return "Invalid input: " + ", ".join(sorted(fields)) + "."


@functools.cache
def _model_constraints() -> dict[str, tuple[BaseConstraint, Any]]:
    """Every constraint of the project's models by name, with its model."""
    return {
        constraint.name: (constraint, model)
        for model in apps.get_models()
        for constraint in model._meta.constraints
    }


# SQLite names the failed constraint only in its message.
_SQLITE_CONSTRAINT = re.compile(r"CHECK constraint failed: (\w+)")


def constraint_error(exc: IntegrityError) -> ApplicationError | None:
    """The error of the model constraint `exc` violates, in words for people; None if it is not
    one of the project's constraints.

    A backstop: services validate before the database does, so reaching it means a check is
    missing. The constraint's name stays in the log, never in the response.
    """
    name = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
    if name is None:
        match = _SQLITE_CONSTRAINT.search(str(exc))
        name = match and match.group(1)
    constraint, model = _model_constraints().get(name, (None, None))
    if isinstance(constraint, UniqueConstraint) and constraint.fields:
        message = "Already in use."
        return ConflictError(
            f"Another {model._meta.verbose_name} has the same {', '.join(constraint.fields)}.",
            code="conflict",
            fields={field: [message] for field in constraint.fields},
        )
    if isinstance(constraint, CheckConstraint):
        if constraint.violation_error_message != constraint.default_violation_error_message:
            message = str(constraint.violation_error_message)
        else:
            message = "These values do not fit together."
        fields = sorted(constraint.condition.referenced_base_fields)
        return ApplicationError(
            message, code="invalid", fields={field: [message] for field in fields}
        )
    return None


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, IntegrityError):
        exc = constraint_error(exc) or exc
    if isinstance(exc, ApplicationError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, SuspiciousOperation):
        # Django refuses the body while DRF parses it (too many fields, too large).
        set_rollback()
        return Response(
            error_body("request_rejected", "The request is too large or malformed."),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if not isinstance(exc, exceptions.APIException):
        return None

    set_rollback()
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_fields(exc.detail)
        body = error_body(code, _validation_message(fields), fields)
    else:
        detail = exc.detail
        if isinstance(detail, dict | list):
            body = error_body(code, "Request failed.", flatten_fields(detail))
        else:
            body = error_body(code, str(detail))
    return Response(body, status=exc.status_code, headers=headers)


def json_not_found(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("not_found", "Not found."), status=status.HTTP_404_NOT_FOUND)


def json_server_error(request) -> JsonResponse:
    return JsonResponse(error_body("server_error", "Internal server error."), status=500)
