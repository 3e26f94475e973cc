from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny

from core.api.errors import ErrorSerializer
from core.api.throttling import ClientRateThrottle


class ObtainTokenView(ObtainAuthToken):
    """Exchange a username (a customer's email) and password for an API token."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ClientRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        tags=["auth"],
        responses={
            200: inline_serializer("TokenResponse", {"token": serializers.CharField()}),
            400: ErrorSerializer,
        },
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
