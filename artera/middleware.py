"""Middleware of the whole site.

`DatabaseUnavailableMiddleware`: while PostgreSQL is unreachable (a restart, a failover, a
maintenance window) every request that needs it fails with `OperationalError`. That is not a bug
to report as a 500: the answer is a 503 with `Retry-After`, the contract's JSON error under the
integrator-facing prefixes, a short page elsewhere. Django's own `close_old_connections` (run at
the start of every request, with `conn_health_checks`) reconnects as soon as the database is
back, so the next request succeeds without restarting anything. Nothing is half-written: the
failed statement never committed. `server_error` (the `handler500`) does the same for a database
failure inside another middleware (the session, loaded or saved around the view).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

from artera.api import (
    DATABASE_RETRY_AFTER_SECONDS,
    database_unavailable,
    service_unavailable_body,
)

logger = logging.getLogger("artera.availability")

# Paths whose callers are machines that expect the contract's JSON errors.
JSON_PREFIXES = ("/api/", "/oauth/", "/webhook/", "/webhooks/", "/simulator/api/")


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not database_unavailable(exception):
            return None
        logger.warning("Database unavailable (%s): answered 503", type(exception).__name__)
        return database_unavailable_response(request)


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    response: HttpResponse
    if request.path.startswith(JSON_PREFIXES):
        response = JsonResponse(service_unavailable_body(), status=503)
    else:
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """`handler500`: the database failing inside another middleware (a session loaded or saved
    around the view) is a 503 too; anything else is the plain 500 page."""
    exception = sys.exc_info()[1]
    if exception is not None and database_unavailable(exception):
        return database_unavailable_response(request)
    return defaults.server_error(request)
