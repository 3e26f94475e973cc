"""Login forms of the pages (admin, basket) that say so when django-axes refused a login."""

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from accounts.lockout import lockout_message


class LockoutAwareAuthenticationForm(AuthenticationForm):
    """A refused login reads "too many attempts" rather than "wrong password" during a lockout;
    `accounts.lockout.lockout_response` then answers the page with 429 and `Retry-After`."""

    def get_invalid_login_error(self) -> ValidationError:
        if getattr(self.request, "axes_locked_out", False):
            return ValidationError(lockout_message(self.request), code="locked_out")
        return super().get_invalid_login_error()


class AdminLoginForm(LockoutAwareAuthenticationForm, AdminAuthenticationForm):
    pass
