"""The API's JSON parser: strict JSON, bounded nesting, and only text the database can store."""

from django.conf import settings
from rest_framework import exceptions, parsers

from core.text import json_depth, unstorable_text


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser (NaN and Infinity refused) that also refuses, with a 400:

    - objects and arrays nested deeper than `JSON_MAX_DEPTH` (a `parse_error`), including
      nesting so deep that the standard library's decoder runs out of recursion;
    - a NUL character or an unpaired surrogate in any key or string (a `validation_error`
      naming the field), which PostgreSQL cannot store and UTF-8 cannot encode.
    """

    refuse_unstorable_text = True

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.JSON_MAX_DEPTH
        too_deep = f"JSON nested deeper than {limit} levels."
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(too_deep) from None
        if json_depth(data) > limit:
            raise exceptions.ParseError(too_deep)
        problem = unstorable_text(data) if self.refuse_unstorable_text else None
        if problem:
            path, message = problem
            raise exceptions.ValidationError({path or "non_field_errors": [message]})
        return data


class ItemwiseJSONParser(JSONParser):
    """For batches whose items are accepted or refused one by one: nesting is bounded, and the
    view checks each item's text with `core.text.unstorable_text` instead of refusing the
    whole batch."""

    refuse_unstorable_text = False
