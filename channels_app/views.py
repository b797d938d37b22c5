"""Staff pages. Views parse the request, call a selector or service, and render."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from practices.selectors import practice_list_for_user

from .selectors import InboxFilters, channel_list_for_user

INBOX_PAGE_SIZE = 50


def home(request: HttpRequest) -> HttpResponse:
    return redirect("inbox")


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    filters = InboxFilters.from_query(request.GET.dict())
    channels = channel_list_for_user(user=request.user, filters=filters)
    page = Paginator(channels, INBOX_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "channels_app/inbox.html",
        {
            "page": page,
            "filters": filters,
            "status_choices": [("open", "Open"), ("closed", "Closed"), ("all", "All")],
            "practices": practice_list_for_user(user=request.user),
        },
    )
