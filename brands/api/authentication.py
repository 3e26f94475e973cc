"""POS devices authenticate with their key in the `X-Device-Key` header."""

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from brands.services import pos_device_authenticate

DEVICE_KEY_HEADER = "HTTP_X_DEVICE_KEY"


class DevicePrincipal(AnonymousUser):
    """`request.user` for a device call: authenticated, but neither staff nor a customer."""

    def __init__(self, device) -> None:
        self.device = device

    @property
    def is_authenticated(self) -> bool:
        return True

    def __str__(self) -> str:
        return f"device:{self.device.pk}"


class DeviceKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        raw_key = request.META.get(DEVICE_KEY_HEADER)
        if raw_key is None:
            return None
        device = pos_device_authenticate(raw_key=raw_key.strip())
        if device is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked device key.")
        return DevicePrincipal(device), device

    def authenticate_header(self, request) -> str:
        return "X-Device-Key"


class DeviceKeyScheme(OpenApiAuthenticationExtension):
    target_class = "brands.api.authentication.DeviceKeyAuthentication"
    name = "deviceKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-Device-Key"}
