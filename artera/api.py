"""Shared plumbing of the JSON APIs: every error leaves as the contract's error object.

DESIGN.md's contract: ``{"error": {"code", "message", "field"}}`` with the right status, never an
HTML page and never a 500 for bad input. `exception_handler` is DRF's ``EXCEPTION_HANDLER``: it
renders `ApplicationError`s raised by services, DRF's own exceptions (authentication, parsing,
validation, throttling) and, as a last resort, an unexpected exception as a JSON 500 (which is
still reported through Django's ``got_request_exception`` signal, so it is logged and a test
client re-raises it). `api_not_found` answers every unknown URL under the API prefixes, and
Django's error handlers (`bad_request`, `permission_denied`, `page_not_found`, `server_error`,
installed in `artera.urls`) answer JSON there too, for errors no view got to handle (a body
Django cannot parse, an exception in a middleware).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any, Literal

from django.core import signals
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.template.loader import render_to_string
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import set_rollback

from artera.errors import ApplicationError

logger = logging.getLogger("artera.api")

ErrorBody = dict[str, dict[str, str | None]]

# Where every error is the contract's JSON: the integrator API, OAuth, call-to-text.
API_PATH_PREFIXES = ("/api/", "/oauth/", "/webhook/")
# The token endpoint answers errors in OAuth 2.0's own shape (RFC 6749 §5.2).
OAUTH_TOKEN_PATHS = ("/oauth/token/", "/oauth/token")

# DRF's built-in validation codes, renamed to the ones the API documents.
_VALIDATION_CODES = {
    "required": "missing_field",
    "null": "invalid_type",
    "not_a_dict": "invalid_type",
    "not_a_list": "invalid_type",
    "blank": "missing_field",
    "invalid": "invalid_value",
    "invalid_choice": "invalid_value",
    "max_length": "too_long",
    "min_length": "too_short",
    "max_string_length": "too_long",
}

# What DRF's own exceptions become: status comes from the exception, the code from here unless
# the raise named its own (`AuthenticationFailed("…", code="invalid_token")`).
_DRF_DEFAULTS: dict[type[exceptions.APIException], tuple[str, str]] = {
    exceptions.NotAuthenticated: (
        "not_authenticated",
        "Send an access token in the Authorization header: `Bearer <token>`.",
    ),
    exceptions.AuthenticationFailed: ("invalid_token", "The access token is not valid."),
    exceptions.PermissionDenied: ("forbidden", "This client may not do this."),
    exceptions.NotFound: ("not_found", "Not found."),
    exceptions.MethodNotAllowed: ("method_not_allowed", ""),
    exceptions.NotAcceptable: ("not_acceptable", "This API only answers application/json."),
    exceptions.UnsupportedMediaType: (
        "unsupported_media_type",
        "Send the body as JSON, with Content-Type: application/json.",
    ),
    exceptions.ParseError: ("malformed_json", "The body is not valid JSON."),
    exceptions.Throttled: ("rate_limited", "Too many requests; retry after Retry-After seconds."),
}


# While the database is unreachable, clients are told to come back this much later.
DATABASE_RETRY_AFTER_SECONDS = 5


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot be reached right now (not a bug in the request)."""
    return isinstance(exc, OperationalError | InterfaceError)


def service_unavailable_body() -> ErrorBody:
    return error_body(
        "service_unavailable",
        "The service is briefly unavailable; retry after Retry-After seconds.",
    )


def error_body(code: str, message: str, field: str | None = None) -> ErrorBody:
    return {"error": {"code": code, "message": message, "field": field}}


def error_response(
    code: str, message: str, *, status_code: int, field: str | None = None
) -> JsonResponse:
    """The contract's error as a plain Django response (for code outside DRF views)."""
    return JsonResponse(error_body(code, message, field), status=status_code)


def oauth_error_response(error: str, description: str, *, status: int) -> JsonResponse:
    """An OAuth 2.0 error (RFC 6749 §5.2), as the token endpoint answers them."""
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def api_error_kind(path: str) -> Literal["api", "oauth_token"] | None:
    """How errors on `path` are written: the contract's JSON ("api"), OAuth's JSON
    ("oauth_token") or, for pages, not JSON (None)."""
    if path in OAUTH_TOKEN_PATHS:
        return "oauth_token"
    if path.startswith(API_PATH_PREFIXES):
        return "api"
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: any exception raised in an API view becomes the contract's error."""
    headers: dict[str, str] = {}
    if isinstance(exc, ApplicationError | exceptions.ValidationError):
        status_code, body = refusal_status_and_body(exc)
    elif isinstance(exc, exceptions.APIException):
        status_code, body = exc.status_code, _api_exception_body(exc)
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        wait = getattr(exc, "wait", None)
        if wait is not None:
            headers["Retry-After"] = str(max(1, int(wait)))
    elif isinstance(exc, Http404):
        status_code, body = status.HTTP_404_NOT_FOUND, error_body("not_found", "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        status_code = status.HTTP_403_FORBIDDEN
        body = error_body("forbidden", "This client may not do this.")
    elif isinstance(exc, RequestDataTooBig):
        status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        body = error_body("request_too_large", "The request body is too large.")
    elif database_unavailable(exc):
        logger.warning("Database unavailable (%s): answered 503", type(exc).__name__)
        status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        body = service_unavailable_body()
        headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    else:
        request = context.get("request")
        logger.error("Unhandled exception in an API view", exc_info=exc)
        # Report it the way Django reports a 500 (error emails, the test client re-raising it).
        signals.got_request_exception.send(
            sender=None, request=getattr(request, "_request", request)
        )
        status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
        body = error_body("internal_error", "Something went wrong on our side; please retry.")
    set_rollback()
    return Response(body, status=status_code, headers=headers)


def refusal_status_and_body(
    exc: ApplicationError | exceptions.ValidationError,
) -> tuple[int, ErrorBody]:
    """The status and contract error of a refusal: what a service or a serializer raised (the
    batch endpoint renders each item's this way, as a single send would answer it)."""
    if isinstance(exc, ApplicationError):
        return exc.http_status, exc.as_dict()
    return status.HTTP_400_BAD_REQUEST, _validation_error_body(exc.detail)


class JsonOnlyNegotiation(DefaultContentNegotiation):
    """The API answers JSON whatever the Accept header says (never a 406 or an HTML page)."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class JsonErrorsMixin:
    """For API views whose success is not JSON (the OpenAPI document, the docs page): their
    errors are still the contract's JSON, never YAML or an HTML page."""

    request: Any

    def handle_exception(self, exc: Exception) -> Response:
        response: Response = super().handle_exception(exc)  # type: ignore[misc]
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response


@csrf_exempt  # CSRF runs before the view: a POST must meet this 404, not an HTML 403
def api_not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    """Every unknown URL under /api/ and /oauth/, whatever the method: a JSON 404, never
    Django's HTML page."""
    return error_response("not_found", "No such endpoint.", status_code=404)


def _api_exception_body(exc: exceptions.APIException) -> ErrorBody:
    detail = exc.detail
    code = str(getattr(detail, "code", None) or exc.default_code)
    message = str(detail)
    field = getattr(exc, "field", None)  # e.g. the parser's, for a field nested too deep
    default = next((value for cls, value in _DRF_DEFAULTS.items() if isinstance(exc, cls)), None)
    if default is None:
        return error_body(code, message, field)
    # DRF's own exceptions: our code instead of DRF's generic one, our sentence instead of
    # DRF's generic one (a message of our own, or DRF's specific one, is kept).
    default_code, default_message = default
    if code == exc.default_code:
        code = default_code
    if message == str(exc.default_detail):
        message = default_message
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        message = f"{message} {default_message}"
    return error_body(code, message, field)


def _validation_error_body(detail: Any) -> ErrorBody:
    """A serializer's errors, reduced to the first one (fields in declaration order)."""
    path: list[str] = []
    while True:
        if isinstance(detail, dict) and detail:
            key, detail = next(iter(detail.items()))
            if key != "non_field_errors":
                path.append(str(key))
        elif isinstance(detail, list) and detail:
            # A list of errors for one field, or (for a list field) errors per item.
            first = next((item for item in detail if item), detail[0])
            if isinstance(first, (dict, list)):
                index = detail.index(first)
                path.append(str(index))
            detail = first
        else:
            break
    field = ".".join(path) or None
    raw_code = getattr(detail, "code", None) or "invalid_value"
    code = _VALIDATION_CODES.get(raw_code, raw_code)
    message = str(detail) or "Invalid value."
    if raw_code in ("required", "blank") and field:
        message = f"`{field}` is required."
    elif raw_code == "null" and field:
        message = f"`{field}` may not be null."
    return error_body(code, message, field)


# --- Django's error handlers (`handler400` … `handler500` in artera.urls) -----------------------


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponseBase:
    if api_error_kind(request.path) is None:
        return defaults.bad_request(request, exception)
    return error_response("bad_request", "The request could not be read.", status_code=400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponseBase:
    if api_error_kind(request.path) is None:
        return defaults.permission_denied(request, exception)
    return error_response("forbidden", "This client may not do this.", status_code=403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponseBase:
    if api_error_kind(request.path) is None:
        return defaults.page_not_found(request, exception)
    return error_response("not_found", "Not found.", status_code=404)


def database_unavailable_response(request: HttpRequest) -> HttpResponseBase:
    """503 with Retry-After while the database cannot be reached: the contract's JSON for
    machines (the API prefixes and the simulator's API), a short page for people."""
    response: HttpResponseBase
    if api_error_kind(request.path) is not None or request.path.startswith("/simulator/api/"):
        response = JsonResponse(service_unavailable_body(), status=503)
    else:
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def server_error(request: HttpRequest) -> HttpResponseBase:
    """`handler500`. A database failing inside a middleware (the session, loaded or saved around
    the view) is a 503 like one failing in a view (`DatabaseUnavailableMiddleware`)."""
    exception = sys.exc_info()[1]
    if exception is not None and database_unavailable(exception):
        return database_unavailable_response(request)
    if api_error_kind(request.path) is None:
        return defaults.server_error(request)
    return error_response(
        "internal_error", "Something went wrong on our side; please retry.", status_code=500
    )
