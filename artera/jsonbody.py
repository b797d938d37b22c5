"""JSON from outside (API bodies, call-to-text, the simulator's API), read so that no document
can turn into a server error later.

`json.loads` recurses once per nested array or object, and so does every encoder the value
meets afterwards (the idempotency fingerprint, a JSONField, a webhook body), each from deeper in
the stack: a 2 KB document of a few hundred brackets parses, and then a `RecursionError` surfaces
wherever it is encoded next. So documents are refused past `JSON_MAX_DEPTH` levels of arrays and
objects, a limit far below Python's and far above any real request (MAPI's deepest documented
field, `patient`, is level 2). Refused too: NaN/Infinity and numbers too large for a float (no
database stores them in JSON), and strings with NUL characters or unpaired surrogates (PostgreSQL
stores neither).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from artera.errors import InvalidInput

JSON_MAX_DEPTH = 32


@dataclass(frozen=True)
class JsonProblem:
    """Why a parsed document is refused: `code` as the API shows it; for a document nested too
    deep, `field` is the top-level key under which it is (None when it is the whole document)."""

    code: str
    message: str
    field: str | None = None


TOO_DEEP = f"JSON may nest arrays and objects at most {JSON_MAX_DEPTH} levels deep."
BAD_CHARACTERS = "Text may not contain NUL characters or unpaired surrogates."


def json_text_loads(raw: bytes | str, *, malformed_code: str = "malformed_json") -> Any:
    """Parse a document, or raise `InvalidInput` (`malformed_code`, `json_too_deep`,
    `invalid_characters`) with a message for people."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise InvalidInput("The body is not valid UTF-8.", code=malformed_code) from exc
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError as exc:
        # Deeper than Python can parse: certainly deeper than the limit.
        raise InvalidInput(TOO_DEEP, code="json_too_deep") from exc
    except ValueError as exc:
        raise InvalidInput(f"The body is not valid JSON: {exc}", code=malformed_code) from exc
    problem = json_problem(data)
    if problem is not None:
        raise InvalidInput(problem.message, code=problem.code, field=problem.field)
    return data


def json_problem(value: Any, *, max_depth: int = JSON_MAX_DEPTH) -> JsonProblem | None:
    """The first reason to refuse a parsed document, or None. Walks it without recursion."""
    stack: list[tuple[Any, int, str | None]] = [(value, 1, None)]
    while stack:
        item, depth, field = stack.pop()
        if isinstance(item, str):
            if not text_is_storable(item):
                return JsonProblem("invalid_characters", BAD_CHARACTERS)
        elif isinstance(item, (dict, list)):
            if depth > max_depth:
                return JsonProblem("json_too_deep", TOO_DEEP, field)
            top = depth == 1
            if isinstance(item, dict):
                for key, child in item.items():
                    under = str(key) if top else field
                    stack.append((key, depth + 1, under))
                    stack.append((child, depth + 1, under))
            else:
                stack.extend((child, depth + 1, field) for child in item)
    return None


def json_depth(value: Any) -> int:
    """How many levels of arrays and objects `value` nests (0 for a scalar)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
    return deepest


def text_is_storable(text: str) -> bool:
    """False for text PostgreSQL cannot store: a NUL character, or an unpaired surrogate
    (which no UTF-8 encoder accepts)."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is too large")
    return value
