"""When a staff session runs out, as the server sees it.

A session ends `SESSION_COOKIE_AGE` seconds (`SESSION_IDLE_SECONDS`, 15 minutes) after the last
request that counted as activity: `SESSION_SAVE_EVERY_REQUEST` saves it, and so pushes its
expiry, on every request except the passive ones (polls, presence heartbeats; see
`inbox.views.passive`). The session store keeps its expiry date to itself, so the
middleware below stamps the time of each save that counts into the session: from it, any tab can
ask the server how long the session has left (`session_seconds_left`) and see that a colleague's
click in another tab, or in the admin, kept it alive.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import SESSION_KEY as AUTH_SESSION_KEY
from django.http import HttpRequest, HttpResponse

ACTIVITY_KEY = "_activity_at"
_PASSIVE_ATTRIBUTE = "_session_passive"


def session_mark_passive(request: HttpRequest) -> None:
    """This request does not extend the session (its save is skipped): do not stamp it."""
    setattr(request, _PASSIVE_ATTRIBUTE, True)


def session_seconds_left(request: HttpRequest) -> int:
    """Seconds until the signed-in session of this request ends if nothing else happens; 0 for
    a request with no signed-in session. A session saved before the stamp existed counts from
    now (its real expiry is no earlier than the last save, and the next check corrects it)."""
    session = getattr(request, "session", None)
    if session is None or AUTH_SESSION_KEY not in session:
        return 0
    stamped = session.get(ACTIVITY_KEY)
    last = float(stamped) if isinstance(stamped, int | float) else time.time()
    return max(0, int(last + settings.SESSION_COOKIE_AGE - time.time()))


class SessionActivityMiddleware:
    """Stamps a signed-in session with the time of every request that extends it. Sits after
    `SessionMiddleware` and `AuthenticationMiddleware`, so it runs before the session is saved."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if (
            session is not None
            and not getattr(request, _PASSIVE_ATTRIBUTE, False)
            and AUTH_SESSION_KEY in session
            and response.status_code != 500  # SessionMiddleware does not save those
        ):
            session[ACTIVITY_KEY] = round(time.time(), 3)
        return response
