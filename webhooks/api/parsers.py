"""The API's only body format: a JSON document, in UTF-8, of bounded size.

Stricter than DRF's `JSONParser` where laxness would later cost a 500: the body's size is
capped before it is read (413), NaN/Infinity and numbers too large for a float are refused (no
database stores them in JSON), and so are strings with NUL characters or unpaired surrogates
(PostgreSQL cannot store either).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.parsers import BaseParser


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "request_too_large"
    default_detail = "The request body is too large."


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is too large")
    return value


def _has_bad_characters(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item or (not item.isascii() and not _encodable(item)):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class ApiJSONParser(BaseParser):
    media_type = "application/json"

    def parse(
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = int(settings.API_MAX_BODY_BYTES)
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
            text = raw.decode("utf-8")
            data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError("The body is not valid UTF-8.") from exc
        except (ValueError, RecursionError) as exc:
            raise exceptions.ParseError(f"The body is not valid JSON: {exc}") from exc
        if _has_bad_characters(data):
            raise exceptions.ParseError(
                "Text may not contain NUL characters or unpaired surrogates.",
                code="invalid_characters",
            )
        return data
