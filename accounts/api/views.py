"""API logins: a new expiring token per login, logout, logout everywhere, password change."""

from django.contrib.auth import update_session_auth_hash
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.serializers import (
    LoginInputSerializer,
    PasswordChangeInputSerializer,
    TokenOutputSerializer,
)
from accounts.authentication import ExpiringTokenAuthentication
from accounts.services import (
    auth_token_issue,
    auth_token_revoke,
    auth_token_revoke_all,
    credentials_authenticate,
    user_password_change,
)
from core.api.errors import ErrorSerializer
from core.api.inputs import parse_input

LOCKED_OUT = OpenApiResponse(
    ErrorSerializer,
    description=(
        "Too many failed logins for this username or address (`locked_out`); "
        "`Retry-After` says when to try again."
    ),
)
NOT_AUTHENTICATED = OpenApiResponse(ErrorSerializer, description="No valid token.")


class LoginView(APIView):
    """Exchange a username (a customer's email) and password for a new API token."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_scope = "auth"

    @extend_schema(
        tags=["auth"],
        summary="Log in: a new API token",
        description=(
            "Each login issues a new token that expires after the configured time "
            "(`AUTH_TOKEN_TTL_HOURS`). Only a hash of it is stored: keep the token, it is shown "
            "once. A wrong password and an unknown username get the same answer."
        ),
        request=LoginInputSerializer,
        responses={
            200: TokenOutputSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description="Invalid input, or no active user with these credentials.",
            ),
            429: LOCKED_OUT,
        },
    )
    def post(self, request):
        data = parse_input(LoginInputSerializer, request.data)
        user = credentials_authenticate(request=request, **data)
        instance, token = auth_token_issue(user=user, request=request)
        return Response(TokenOutputSerializer({"token": token, "expiry": instance.expiry}).data)


class LogoutView(APIView):
    """Revoke the token of this request."""

    authentication_classes = [ExpiringTokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["auth"],
        summary="Log out: revoke this token",
        request=None,
        responses={204: None, 401: NOT_AUTHENTICATED},
    )
    def post(self, request):
        auth_token_revoke(token=request.auth, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    """Revoke every token of the user, this one included."""

    authentication_classes = [ExpiringTokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["auth"],
        summary="Log out everywhere: revoke all your tokens",
        request=None,
        responses={204: None, 401: NOT_AUTHENTICATED},
    )
    def post(self, request):
        auth_token_revoke_all(user=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeView(APIView):
    """Change your own password (customers and staff)."""

    authentication_classes = [ExpiringTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_scope = "auth"

    @extend_schema(
        tags=["auth"],
        summary="Change your password",
        description=(
            "Needs the current password; the new one must meet the password policy. Your other "
            "API tokens are revoked; the one used for this request keeps working."
        ),
        request=PasswordChangeInputSerializer,
        responses={
            204: None,
            400: ErrorSerializer,
            401: NOT_AUTHENTICATED,
            403: ErrorSerializer,
            429: LOCKED_OUT,
        },
    )
    def post(self, request):
        data = parse_input(PasswordChangeInputSerializer, request.data)
        user_password_change(request=request, user=request.user, **data)
        if isinstance(request.successful_authenticator, SessionAuthentication):
            request.user.refresh_from_db(fields=["password"])
            update_session_auth_hash(request._request, request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
