"""API tokens: django-rest-knox stores a hash of each token and an expiry."""

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication
from rest_framework import exceptions


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <token>`, as issued by `POST /api/v1/auth/token/`."""

    def authenticate_credentials(self, token: bytes):
        try:
            token.decode("utf-8")
        except UnicodeDecodeError as error:
            raise exceptions.AuthenticationFailed("Invalid token.") from error
        return super().authenticate_credentials(token)

    def _cleanup_token(self, auth_token) -> bool:
        """An expired token is refused and deleted. Unlike knox, the user's other tokens are
        not read on every request: their expired ones are deleted at the user's next login."""
        if auth_token.expiry is not None and auth_token.expiry <= timezone.now():
            auth_token.delete()
            return True
        return False


class ExpiringTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ExpiringTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix="Token",  # noqa: S106 (the header's scheme word)
        )
