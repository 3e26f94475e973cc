"""Authentication signals into the security log (receivers only hand over)."""

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.security_events import (
    LOCKED_OUT,
    LOGGED_IN,
    LOGIN_FAILED,
    PASSWORD_CHANGED,
    security_event_log,
)


@receiver(user_login_failed, dispatch_uid="security_log_login_failed")
def _login_failed(sender, credentials: dict, request=None, **kwargs) -> None:
    # Django has already masked the password in `credentials`; only the username is kept.
    security_event_log(LOGIN_FAILED, request=request, username=credentials.get("username"))


@receiver(user_locked_out, dispatch_uid="security_log_locked_out")
def _locked_out(sender, request=None, username=None, **kwargs) -> None:
    security_event_log(LOCKED_OUT, request=request, username=username)


@receiver(user_logged_in, dispatch_uid="security_log_logged_in")
def _logged_in(sender, request=None, user=None, **kwargs) -> None:
    security_event_log(LOGGED_IN, request=request, user=user)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="security_log_password")
def _password_changed(sender, instance, created: bool, **kwargs) -> None:
    # `AbstractBaseUser.set_password()` keeps the new raw password in `_password` until the
    # save that stores it, and a rehash at login clears it first: so this is a real change, by
    # any path (API, admin, `changepassword`, a shell).
    if not created and getattr(instance, "_password", None) is not None:
        security_event_log(PASSWORD_CHANGED, user=instance)
