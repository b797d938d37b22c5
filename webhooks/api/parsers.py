"""The API's only body format: a JSON document, in UTF-8, of bounded size.

Stricter than DRF's `JSONParser` where laxness would later cost a 500: the body's size is
capped before it is read (413), and the document must pass `artera.jsonbody`'s rules (at most
`JSON_MAX_DEPTH` levels of nesting, no NaN/Infinity or numbers too large for a float, no NUL
characters or unpaired surrogates).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.parsers import BaseParser

from artera.errors import InvalidInput
from artera.jsonbody import json_text_loads


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "request_too_large"
    default_detail = "The request body is too large."


class BadJson(exceptions.ParseError):
    """A body refused by `artera.jsonbody`, with the top-level field at fault (if one is)."""

    def __init__(self, refusal: InvalidInput) -> None:
        super().__init__(refusal.message, code=refusal.code)
        self.field = refusal.field


class ApiJSONParser(BaseParser):
    media_type = "application/json"
    # The setting that bounds the body's size, in bytes.
    max_bytes_setting = "API_MAX_BODY_BYTES"

    def parse(
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = int(getattr(settings, self.max_bytes_setting))
        request = (parser_context or {}).get("request")
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0) if request else 0
        except ValueError:
            declared = 0
        if declared > limit:
            raise RequestTooLarge(f"The request body may be at most {limit} bytes.")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(f"The request body may be at most {limit} bytes.")
        try:
            return json_text_loads(raw)
        except InvalidInput as exc:
            raise BadJson(exc) from exc


class ApiBatchJSONParser(ApiJSONParser):
    """The batch endpoint's bodies: many messages, so a larger bound of their own."""

    max_bytes_setting = "API_BATCH_MAX_BODY_BYTES"
