"""The live inbox's own endpoint: the notification counts the page shows (tabs, Mentions, title).

Polled by static/js/live.js only when an event arrived (or every 30 s while the socket is
down); it is passive like the other polls, so it never extends the session.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from .counts import inbox_counts_for_user
from .views import login_required, passive


@passive
@login_required
@require_GET
def inbox_counts(request: HttpRequest) -> HttpResponse:
    return JsonResponse(inbox_counts_for_user(user=request.user).as_json())
