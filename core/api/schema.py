"""The OpenAPI schema generator: drf-spectacular's, plus the 429 of throttled operations and the
415 of operations that read a body."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse

from core.api.errors import ErrorSerializer

THROTTLED = OpenApiResponse(
    ErrorSerializer,
    description=(
        "Too many requests from this client (device, user or IP address) for this kind of "
        "request; the `Retry-After` header says how many seconds to wait."
    ),
)

UNSUPPORTED_MEDIA_TYPE = OpenApiResponse(
    ErrorSerializer,
    description="The body has no content type, or one this operation does not read.",
)


class AutoSchema(SpectacularAutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        if "429" not in responses and self.view.get_throttles():
            responses["429"] = self._get_response_for_code(THROTTLED, "429", direction=direction)
        if "415" not in responses and self._get_request_body() is not None:
            responses["415"] = self._get_response_for_code(
                UNSUPPORTED_MEDIA_TYPE, "415", direction=direction
            )
        return responses
