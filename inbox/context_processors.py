"""Whether a page offers the live socket (`LIVE_SOCKET` in the settings; see static/js/live.js)."""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest


def live(request: HttpRequest) -> dict[str, str]:
    """`live_socket`: the socket's path, or "" when the page should poll only.

    `auto` offers it when the page came through the ASGI server (which also serves the socket);
    a page served by a WSGI server alone (gunicorn without the `/ws/` process, or a test's live
    server) would only get a failed handshake, so it polls."""
    if not settings.LIVE_PUSH_ENABLED or settings.LIVE_SOCKET == "off":
        return {"live_socket": ""}
    if settings.LIVE_SOCKET == "on" or isinstance(request, ASGIRequest):
        return {"live_socket": settings.LIVE_SOCKET_PATH}
    return {"live_socket": ""}
