"""Parsing request bodies with plain input serializers."""

from rest_framework import serializers


def parse_input(serializer_class: type[serializers.Serializer], data, **kwargs) -> dict:
    """Validate `data` with `serializer_class` (a 400 in the error format if invalid)."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
