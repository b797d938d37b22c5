"""Requests refused before any view reads them.

`LengthRequiredMiddleware`: a body sent with `Transfer-Encoding: chunked` and no
`Content-Length`. Django's WSGI request reads exactly `Content-Length` bytes (none, when the
header is missing), so behind gunicorn or runserver such a body would silently read as empty: a
MAPI call would be refused as "no body", a form as empty, a call-to-text hit as "no caller".
The client is told 411 Length Required instead, and can resend with a length (every HTTP
client library does this for a body it has in memory). Under /api/, /oauth/ and /webhook/ the
answer is the contract's JSON error (the token endpoint's in RFC 6749's shape).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from artera.api import api_error_kind, error_response, oauth_error_response

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
