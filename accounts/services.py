"""Logins, API tokens and passwords. Every outcome is written to the security log."""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model, user_logged_in
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from knox.models import AuthToken

from accounts.lockout import lockout_message
from accounts.security_events import TOKEN_ISSUED, TOKEN_REVOKED, security_event_log
from core.errors import ApplicationError
from core.retention import purge_in_batches

INVALID_CREDENTIALS = "Unable to sign in with this username and password."


class LockedOutError(ApplicationError):
    """Too many failed logins for the username or the address (django-axes); the answer gets
    `Retry-After` from `accounts.lockout.lockout_response`."""

    status_code = 429
    default_code = "locked_out"


def _http_request(request):
    """`authenticate()` must get Django's request: django-axes marks a lockout on it, and its
    middleware reads the mark from there (a DRF request is a wrapper around it)."""
    return getattr(request, "_request", request)


def _authenticate(*, request, username: str, password: str):
    http_request = _http_request(request)
    user = authenticate(http_request, username=username, password=password)
    if getattr(http_request, "axes_locked_out", False):
        raise LockedOutError(lockout_message(http_request))
    return user


def credentials_authenticate(*, request, username: str, password: str):
    """The active user with these credentials. A wrong password and an unknown username get the
    same answer after the same work (Django hashes the password for unknown users too)."""
    user = _authenticate(request=request, username=username, password=password)
    if user is None:
        raise ApplicationError(INVALID_CREDENTIALS, code="invalid_credentials")
    return user


def password_confirm(*, request, user, password: str | None, reason: str) -> None:
    """Refuse unless `password` is `user`'s current one. Failures count towards the lockout, so
    call it outside a transaction: a rollback would take the failure's record with it."""
    if not password:
        raise ApplicationError(
            f"Enter your current password {reason}.",
            code="current_password_required",
            fields={"current_password": [f"Required {reason}."]},
        )
    confirmed = _authenticate(request=request, username=user.get_username(), password=password)
    if confirmed is None or confirmed.pk != user.pk:
        raise ApplicationError(
            "The current password is not correct.",
            code="current_password_invalid",
            fields={"current_password": ["This is not your current password."]},
        )


def password_validate(*, password: str, user, field: str = "password") -> None:
    """Apply the password policy (`AUTH_PASSWORD_VALIDATORS`); `user` may be unsaved."""
    try:
        validate_password(password, user=user)
    except DjangoValidationError as error:
        raise ApplicationError(
            " ".join(error.messages), code="password_invalid", fields={field: error.messages}
        ) from error


@transaction.atomic
def auth_token_issue(*, user, request) -> tuple[AuthToken, str]:
    """A new token for `user` (the raw token is returned once; only its hash is stored).
    Expired tokens are removed, and the oldest beyond `AUTH_TOKEN_LIMIT_PER_USER`."""
    tokens = AuthToken.objects.select_for_update().filter(user=user)
    tokens.filter(expiry__lte=timezone.now()).delete()
    keep = max(settings.AUTH_TOKEN_LIMIT_PER_USER - 1, 0)
    surplus = list(tokens.order_by("-created").values_list("digest", flat=True)[keep:])
    if surplus:
        AuthToken.objects.filter(digest__in=surplus).delete()
        security_event_log(
            TOKEN_REVOKED, request=request, user=user, scope="oldest", count=len(surplus)
        )
    instance, raw_token = AuthToken.objects.create(user=user)
    user_logged_in.send(sender=user.__class__, request=_http_request(request), user=user)
    security_event_log(TOKEN_ISSUED, request=request, user=user, expiry=instance.expiry.isoformat())
    return instance, raw_token


@transaction.atomic
def auth_token_revoke(*, token: AuthToken, request) -> None:
    AuthToken.objects.filter(digest=token.digest).delete()
    security_event_log(TOKEN_REVOKED, request=request, user=token.user, scope="this", count=1)


@transaction.atomic
def auth_token_revoke_all(*, user, request, keep: AuthToken | None = None) -> int:
    """Revoke every token of `user` (but `keep`, when given)."""
    tokens = AuthToken.objects.filter(user=user)
    if keep is not None:
        tokens = tokens.exclude(digest=keep.digest)
    count, _ = tokens.delete()
    security_event_log(
        TOKEN_REVOKED, request=request, user=user, scope="others" if keep else "all", count=count
    )
    return count


def user_password_change(*, request, user, current_password: str | None, new_password: str) -> None:
    """Change one's own password: the current one is required, the new one meets the policy,
    and every other API token of the user is revoked (the one in use, if any, is kept).

    The current password is checked outside any transaction, so that a wrong one is counted
    towards the lockout even though the change is refused."""
    password_confirm(
        request=request, user=user, password=current_password, reason="to change your password"
    )
    password_validate(password=new_password, user=user, field="new_password")
    current = getattr(request, "auth", None)
    with transaction.atomic():
        user = get_user_model().objects.select_for_update().get(pk=user.pk)
        user.set_password(new_password)
        user.save(update_fields=["password"])
        auth_token_revoke_all(
            user=user, request=request, keep=current if isinstance(current, AuthToken) else None
        )


def login_attempts_purge(*, now: datetime | None = None) -> int:
    """Delete failed login attempts older than `LOGIN_ATTEMPT_RETENTION_DAYS`, in batches.
    Returns how many. Safe to run again."""
    from axes.models import AccessAttempt

    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.LOGIN_ATTEMPT_RETENTION_DAYS)
    return purge_in_batches(
        AccessAttempt.objects.filter(attempt_time__lt=cutoff),
        batch_size=settings.RETENTION_BATCH_SIZE,
    )
