"""Middleware of the whole site.

`LengthRequiredMiddleware` refuses a request before any view reads it: a body sent with
`Transfer-Encoding: chunked` and no `Content-Length`. Django's WSGI request reads exactly
`Content-Length` bytes (none, when the header is missing), so behind gunicorn or runserver such a
body would silently read as empty: a MAPI call would be refused as "no body", a form as empty, a
call-to-text hit as "no caller". The client is told 411 Length Required instead, and can resend
with a length (every HTTP client library does this for a body it has in memory). Under /api/,
/oauth/ and /webhook/ the answer is the contract's JSON error (the token endpoint's in RFC 6749's
shape).

`DatabaseUnavailableMiddleware`: while PostgreSQL is unreachable (a restart, a failover, a
maintenance window) every request that needs it fails with `OperationalError`. That is not a bug
to report as a 500: the answer is a 503 with `Retry-After`, the contract's JSON error under the
integrator-facing prefixes, a short page elsewhere (`artera.api.database_unavailable_response`;
the `handler500` does the same for a failure inside another middleware). Django's own
`close_old_connections` (run at the start of every request, with `conn_health_checks`)
reconnects as soon as the database is back, so the next request succeeds without restarting
anything. Nothing is half-written: the failed statement never committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from artera.api import (
    api_error_kind,
    database_unavailable,
    database_unavailable_response,
    error_response,
    oauth_error_response,
)

logger = logging.getLogger("artera.availability")

# Methods whose body a view reads.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_MESSAGE = "Send the request body with a Content-Length header; chunked bodies are not accepted."


class LengthRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.method in _BODY_METHODS
            and request.META.get("HTTP_TRANSFER_ENCODING")
            and not request.META.get("CONTENT_LENGTH")
        ):
            return length_required(request)
        return self.get_response(request)


def length_required(request: HttpRequest) -> HttpResponse:
    kind = api_error_kind(request.path)
    if kind == "oauth_token":
        return oauth_error_response("invalid_request", _MESSAGE, status=411)
    if kind == "api":
        return error_response("length_required", _MESSAGE, status_code=411)
    return HttpResponse(_MESSAGE, status=411, content_type="text/plain; charset=utf-8")


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        if not database_unavailable(exception):
            return None
        logger.warning("Database unavailable (%s): answered 503", type(exception).__name__)
        return database_unavailable_response(request)
