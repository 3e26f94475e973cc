"""The API's JSON parser: strict JSON, bounded nesting, only values the database can store."""

import io

from django.conf import settings
from rest_framework import exceptions, parsers

from core.errors import PayloadTooLargeError
from core.text import json_depth, unstorable_value


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser (NaN and Infinity refused) that also refuses, with a 400:

    - objects and arrays nested deeper than `JSON_MAX_DEPTH` (a `parse_error`), including
      nesting so deep that the standard library's decoder runs out of recursion;
    - a body larger than `JSON_MAX_BODY_BYTES` (a 413 `payload_too_large`; Django's own upload
      limit does not apply to bodies DRF reads from the stream);
    - a NUL character or an unpaired surrogate in any key or string, or a number too large to
      be finite (`1e400`): a `validation_error` naming the field (PostgreSQL cannot store them,
      UTF-8 cannot encode a lone surrogate).
    """

    refuse_unstorable_values = True

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.JSON_MAX_DEPTH
        too_deep = f"JSON nested deeper than {limit} levels."
        max_bytes = settings.JSON_MAX_BODY_BYTES
        body = stream.read(max_bytes + 1) if stream is not None else b""
        if len(body) > max_bytes:
            raise PayloadTooLargeError(f"The request body is larger than {max_bytes} bytes.")
        try:
            data = super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(too_deep) from None
        if json_depth(data) > limit:
            raise exceptions.ParseError(too_deep)
        problem = unstorable_value(data) if self.refuse_unstorable_values else None
        if problem:
            path, message = problem
            raise exceptions.ValidationError({path or "non_field_errors": [message]})
        return data


class ItemwiseJSONParser(JSONParser):
    """For batches whose items are accepted or refused one by one: nesting is bounded, and the
    view checks each item with `core.text.unstorable_value` instead of refusing the
    whole batch."""

    refuse_unstorable_values = False
