from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny

from core.api.errors import ErrorSerializer
from core.api.parsers import JSONParser


class ObtainTokenView(ObtainAuthToken):
    """Exchange a username (a customer's email) and password for an API token."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    # DRF's view names its own parsers; the project's JSON parser bounds nesting here too.
    parser_classes = [FormParser, MultiPartParser, JSONParser]

    @extend_schema(
        tags=["auth"],
        responses={
            200: inline_serializer("TokenResponse", {"token": serializers.CharField()}),
            400: ErrorSerializer,
        },
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
