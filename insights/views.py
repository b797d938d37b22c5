"""The Insights pages: the dashboard and one CSV per figure. Each parses the query string,
asks the selectors who may see what, builds the figures, and renders."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from artera.errors import NotFound

from .figures import Dashboard, dashboard_build, default_period
from .forms import RangeForm
from .selectors import InsightsScope, insights_scope_for_user, scope_narrow

# The order the page shows them in.
FIGURES = (
    "summary",
    "volume",
    "delivery",
    "failures",
    "optouts",
    "optout_lines",
    "response",
    "response_staff",
    "funnel",
    "api",
    "webhooks",
)


def _scope(request: HttpRequest) -> InsightsScope:
    try:
        return insights_scope_for_user(user=request.user)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _build(request: HttpRequest) -> tuple[InsightsScope, RangeForm, Dashboard | None, Any]:
    scope = _scope(request)
    now = timezone.now()
    try:
        practices, line_ids = scope_narrow(
            scope=scope,
            practice_ids=request.GET.getlist("practice"),
            line_ids=request.GET.getlist("line"),
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if "start" in request.GET or "end" in request.GET:
        form = RangeForm(request.GET)
    else:
        default = default_period(practice=practices[0], now=now)
        form = RangeForm({"start": default.start, "end": default.end})
    if not form.is_valid():
        return scope, form, None, line_ids
    board = dashboard_build(practices=practices, line_ids=line_ids, period=form.period(), now=now)
    return scope, form, board, line_ids


@never_cache
@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    if connection.vendor != "postgresql":
        _scope(request)  # the same 404 for those who may not see it
        return render(request, "insights/unavailable.html", status=503)
    scope, form, board, _line_ids = _build(request)
    picked = {str(p.pk) for p in board.practices} if board else set()
    context = {
        "scope": scope,
        "form": form,
        "board": board,
        "figures": [board.figures[slug] for slug in FIGURES if slug != "summary"] if board else [],
        "picked_practices": set(request.GET.getlist("practice")) & picked,
        "picked_lines": set(request.GET.getlist("line")),
        "query": _query(request, board),
    }
    return render(request, "insights/dashboard.html", context, status=200 if board else 400)


def _query(request: HttpRequest, board: Dashboard | None) -> str:
    """The CSV links' query: the same picks, and the range as dates (not "the default"), so a
    download shows exactly the numbers of the page it came from."""
    params: list[tuple[str, str]] = [("practice", v) for v in request.GET.getlist("practice")]
    params += [("line", v) for v in request.GET.getlist("line")]
    if board is not None:
        params += [("start", board.period.start.isoformat()), ("end", board.period.end.isoformat())]
    return urlencode(params)


@never_cache
@login_required
@require_GET
def figure_csv(request: HttpRequest, figure: str) -> HttpResponse:
    if figure not in FIGURES:
        raise Http404("No such figure.")
    if connection.vendor != "postgresql":
        _scope(request)
        return HttpResponse("Insights needs PostgreSQL.", status=503, content_type="text/plain")
    _unused, form, board, _lines = _build(request)
    if board is None:
        errors = "; ".join(
            f"{field}: {' '.join(str(m) for m in msgs)}" for field, msgs in form.errors.items()
        )
        return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    chosen = board.figure(figure)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(chosen.columns)
    for row in chosen.rows:
        writer.writerow(["" if value is None else value for value in row])
    name = f"insights-{figure}-{board.period.start}-{board.period.end}.csv"
    return HttpResponse(
        buffer.getvalue(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
