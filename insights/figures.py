"""The dashboard's figures for some practices (and lines) and a date range: every number the page
and the CSV downloads show, computed once here. docs/insights.md defines each one.

Past days come from the rollup rows (`insights.models`); each practice's today (in its own
timezone) comes from the raw rows through the same SQL the rollup stores (`insights.rollup`).
The number of queries does not depend on the data or the range.
"""

from __future__ import annotations

import datetime
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, Sum
from django.utils.safestring import SafeString

from practices.models import Practice
from webhooks.models import ApiClient

from . import rollup
from .charts import bar_chart
from .models import CallDay, MessageDay, WebhookDay

MAX_RANGE_DAYS = 366
SOURCES = (
    ("api", "MAPI"),
    ("smapi", "SMAPI"),
    ("call_to_text", "Call-to-text"),
    ("staff", "Staff"),
    ("automation", "Automation"),
)
STATUSES = (
    ("delivered", "Delivered"),
    ("undelivered", "Undelivered"),
    ("failed", "Failed"),
    ("sent", "Sent, no report yet"),
    ("received", "Not sent yet"),
)
Cell = str | int | float | None


@dataclass
class Figure:
    slug: str
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    chart: SafeString | None = None
    note: str = ""


@dataclass
class Period:
    start: datetime.date
    end: datetime.date

    @property
    def days(self) -> list[datetime.date]:
        count = (self.end - self.start).days + 1
        return [self.start + datetime.timedelta(days=i) for i in range(count)]

    def previous(self) -> Period:
        end = self.start - datetime.timedelta(days=1)
        return Period(end - (self.end - self.start), end)


@dataclass
class Dashboard:
    period: Period
    previous: Period
    practices: list[Practice]
    figures: dict[str, Figure] = field(default_factory=dict)

    def figure(self, slug: str) -> Figure:
        return self.figures[slug]


def default_period(*, practice: Practice, now: datetime.datetime) -> Period:
    """The last 30 days, today included, in the practice's timezone."""
    today = now.astimezone(practice.tz).date()
    return Period(today - datetime.timedelta(days=29), today)


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60.0, 1)


def dashboard_build(
    *,
    practices: list[Practice],
    line_ids: set[uuid.UUID] | None,
    period: Period,
    now: datetime.datetime,
) -> Dashboard:
    """Every figure of the dashboard. `practices` must already be the viewer's (see
    `insights.selectors`): nothing here checks who is asking."""
    previous = period.previous()
    board = Dashboard(period=period, previous=previous, practices=practices)
    pids = [p.pk for p in practices]
    today = {p.pk: rollup.local_day(p, now) for p in practices}
    live = [
        rollup.DayBounds(p, today[p.pk])
        for p in practices
        if period.start <= today[p.pk] <= period.end
    ]

    def line_ok(line_id: Any) -> bool:
        return line_ids is None or line_id in line_ids

    # --- Message counts: rollups for past days, raw rows for today ------------------------------
    past = Q()
    for p in practices:
        past |= Q(practice_id=p.pk, day__lt=today[p.pk])
    rows = MessageDay.objects.filter(past, day__gte=previous.start, day__lte=period.end)
    if line_ids is not None:
        rows = rows.filter(line_id__in=line_ids)
    counted: list[tuple[Any, ...]] = list(
        rows.values_list(
            "practice_id",
            "line_id",
            "day",
            "direction",
            "sender_kind",
            "status",
            "error_code",
            "keyword",
            "api_client_id",
        )
        .annotate(total=Sum("count"))
        .order_by()
    )
    counted += [row for row in rollup.message_counts(live) if line_ok(row[1])]

    current_days = set(period.days)
    volume: dict[datetime.date, dict[str, int]] = {d: defaultdict(int) for d in period.days}
    totals: dict[str, dict[str, int]] = {"current": defaultdict(int), "previous": defaultdict(int)}
    statuses: dict[str, int] = defaultdict(int)
    errors: dict[str, int] = defaultdict(int)
    opt_daily: dict[datetime.date, dict[str, int]] = {d: defaultdict(int) for d in period.days}
    opt_lines: dict[Any, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    api_messages: dict[Any, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for _pid, line_id, day, direction, kind, status, error, keyword, client_id, n in counted:
        which = "current" if day in current_days else "previous"
        bucket = totals[which]
        if direction == "outbound":
            bucket["sent"] += n
            bucket[f"status:{status}"] += n
            if error == "landline":
                bucket["landline"] += n
            if client_id is not None:
                api_messages[client_id][which] += n
        else:
            bucket["received"] += n
            if keyword:
                bucket[keyword] += n
        if which == "previous":
            continue
        if direction == "outbound":
            volume[day][kind] += n
            statuses[status] += n
            if error and status in ("failed", "undelivered"):
                errors[error] += n
        else:
            volume[day]["received"] += n
            if keyword:
                opt_daily[day][keyword] += n
                opt_lines[line_id][keyword] += n

    labels = [d.isoformat() for d in period.days]
    volume_rows: list[list[Cell]] = [
        [d.isoformat(), *[volume[d][kind] for kind, _ in SOURCES], volume[d]["received"]]
        for d in period.days
    ]
    board.figures["volume"] = Figure(
        "volume",
        "Texts sent and received per day",
        ["Date", *[f"Sent: {name}" for _, name in SOURCES], "Received"],
        volume_rows,
        bar_chart(
            title="Texts sent by source and texts received, per day",
            categories=labels,
            series=[
                *[
                    (name, [float(r[i + 1] or 0) for r in volume_rows])
                    for i, (_, name) in enumerate(SOURCES)
                ],
                ("Received", [float(r[-1] or 0) for r in volume_rows]),
            ],
            stacked=True,
        ),
    )
    outbound = sum(statuses.values())
    delivery_rows: list[list[Cell]] = [
        [name, statuses[status], _pct(statuses[status], outbound)] for status, name in STATUSES
    ]
    board.figures["delivery"] = Figure(
        "delivery",
        "Delivery of texts sent",
        ["Status", "Texts", "Share of texts sent (%)"],
        delivery_rows,
        bar_chart(
            title="Texts sent by delivery status",
            categories=[str(r[0]) for r in delivery_rows],
            series=[("Texts", [r[1] or 0 for r in delivery_rows])],  # type: ignore[misc]
        ),
    )
    failure_rows: list[list[Cell]] = [
        [code, n] for code, n in sorted(errors.items(), key=lambda item: (-item[1], item[0]))
    ]
    board.figures["failures"] = Figure(
        "failures",
        "Undelivered and failed texts by error code",
        ["Error code", "Texts"],
        failure_rows,
        bar_chart(
            title="Undelivered and failed texts by error code",
            categories=[str(r[0]) for r in failure_rows],
            series=[("Texts", [int(r[1] or 0) for r in failure_rows])],
        ),
    )
    opt_rows: list[list[Cell]] = [
        [d.isoformat(), opt_daily[d]["opt_out"], opt_daily[d]["opt_in"]] for d in period.days
    ]
    board.figures["optouts"] = Figure(
        "optouts",
        "Opt-outs and opt-ins per day",
        ["Date", "Opt-outs", "Opt-ins"],
        opt_rows,
        bar_chart(
            title="Opt-outs and opt-ins per day",
            categories=labels,
            series=[
                ("Opt-outs", [int(r[1] or 0) for r in opt_rows]),
                ("Opt-ins", [int(r[2] or 0) for r in opt_rows]),
            ],
        ),
    )
    all_lines = [(line, p) for p in practices for line in p.lines.all() if line_ok(line.pk)]
    line_rows: list[list[Cell]] = [
        [
            f"{line.name} ({line.phone_number})",
            p.name,
            opt_lines[line.pk]["opt_out"],
            opt_lines[line.pk]["opt_in"],
        ]
        for line, p in all_lines
    ]
    board.figures["optout_lines"] = Figure(
        "optout_lines",
        "Opt-outs and opt-ins per line",
        ["Line", "Practice", "Opt-outs", "Opt-ins"],
        line_rows,
        bar_chart(
            title="Opt-outs and opt-ins per line",
            categories=[str(r[0]) for r in line_rows],
            series=[
                ("Opt-outs", [int(r[2] or 0) for r in line_rows]),
                ("Opt-ins", [int(r[3] or 0) for r in line_rows]),
            ],
        ),
    )

    # --- Response times -------------------------------------------------------------------------
    live_waits = [w for w in rollup.waits_compute(live, now=now) if line_ok(w.line_id)]
    response = _response_aggregate(
        practices=practices,
        today=today,
        line_ids=line_ids,
        period=period,
        previous=previous,
        live=live_waits,
    )
    response_rows: list[list[Cell]] = []
    for which, label in (("current", "This period"), ("previous", "Previous period")):
        agg = response.get((which, None), {})
        waits = agg.get("waits", 0)
        response_rows.append(
            [
                label,
                waits,
                agg.get("answered", 0),
                _minutes(agg.get("median")),
                _minutes(agg.get("p90")),
                _pct(agg.get("over_hour", 0), waits),
                _pct(agg.get("over_day", 0), waits),
            ]
        )
    board.figures["response"] = Figure(
        "response",
        "Response time to patients' texts (business hours)",
        [
            "Period",
            "Patient texts waiting",
            "Answered by staff",
            "Median (minutes)",
            "90th percentile (minutes)",
            "Waited over 1 hour (%)",
            "Waited over 1 business day (%)",
        ],
        response_rows,
        bar_chart(
            title="Median and 90th percentile response time, this period and the previous one",
            categories=["Median", "90th percentile"],
            series=[(str(r[0]), [float(r[3] or 0), float(r[4] or 0)]) for r in response_rows],
        ),
    )
    staff_ids = sorted({by for (which, by) in response if which == "current" and by is not None})
    names = {
        u.pk: (u.get_full_name() or u.get_username())
        for u in get_user_model().objects.filter(pk__in=staff_ids)
    }
    staff_rows: list[list[Cell]] = []
    for by in sorted(staff_ids, key=lambda pk: (names.get(pk, ""), pk)):
        agg = response[("current", by)]
        staff_rows.append(
            [
                names.get(by, "(removed user)"),
                agg["answered"],
                _minutes(agg.get("median")),
                _minutes(agg.get("p90")),
                _pct(agg.get("over_hour", 0), agg["answered"]),
            ]
        )
    board.figures["response_staff"] = Figure(
        "response_staff",
        "Response time per staff member (this period)",
        [
            "Staff member",
            "Texts answered",
            "Median (minutes)",
            "90th percentile (minutes)",
            "Answered after over 1 hour (%)",
        ],
        staff_rows,
        bar_chart(
            title="Median response time per staff member",
            categories=[str(r[0]) for r in staff_rows],
            series=[("Median (minutes)", [float(r[2] or 0) for r in staff_rows])],
        ),
    )

    # --- Call-to-text funnel ----------------------------------------------------------------------
    calls = CallDay.objects.filter(
        practice_id__in=pids, day__gte=previous.start, day__lte=period.end
    )
    if line_ids is not None:
        calls = calls.filter(line_id__in=line_ids)
    funnel: dict[str, dict[str, int]] = {"current": defaultdict(int), "previous": defaultdict(int)}
    for day, c, t, r, a in calls.values_list("day", "calls", "texted", "replied", "answered"):
        calls_bucket = funnel["current" if day >= period.start else "previous"]
        calls_bucket["calls"] += c
        calls_bucket["texted"] += t
        calls_bucket["replied"] += r
        calls_bucket["answered"] += a
    funnel_rows: list[list[Cell]] = [
        [label, funnel["current"][key], funnel["previous"][key]]
        for key, label in (
            ("calls", "Calls received"),
            ("texted", "Texts sent"),
            ("replied", "Callers replied"),
            ("answered", "Staff answered"),
        )
    ]
    board.figures["funnel"] = Figure(
        "funnel",
        "Call-to-text and abandoned calls",
        ["Step", "This period", "Previous period"],
        funnel_rows,
        bar_chart(
            title="Call-to-text funnel, this period and the previous one",
            categories=[str(r[0]) for r in funnel_rows],
            series=[
                ("This period", [int(r[1] or 0) for r in funnel_rows]),
                ("Previous period", [int(r[2] or 0) for r in funnel_rows]),
            ],
        ),
    )

    # --- API ------------------------------------------------------------------------------------
    hooks = WebhookDay.objects.filter(
        practice_id__in=pids, day__gte=period.start, day__lte=period.end
    )
    if line_ids is not None:
        hooks = hooks.filter(line_id__in=line_ids)
    hook_counts = {
        row["api_client_id"]: row
        for row in hooks.values("api_client_id")
        .annotate(
            delivered=Sum("delivered"),
            retried=Sum("retried"),
            failed=Sum("failed"),
            pending=Sum("pending"),
        )
        .order_by()
    }
    client_ids = set(api_messages) | set(hook_counts)
    clients = {
        c.pk: c.name
        for c in ApiClient.objects.filter(
            pk__in=client_ids, enterprise_id__in={p.enterprise_id for p in practices}
        )
    }
    ordered = sorted(clients, key=lambda pk: (clients[pk], str(pk)))
    api_rows: list[list[Cell]] = [
        [clients[pk], api_messages[pk]["current"], api_messages[pk]["previous"]] for pk in ordered
    ]
    board.figures["api"] = Figure(
        "api",
        "Messages sent per API client",
        ["API client", "This period", "Previous period"],
        api_rows,
        bar_chart(
            title="Messages sent per API client",
            categories=[str(r[0]) for r in api_rows],
            series=[
                ("This period", [int(r[1] or 0) for r in api_rows]),
                ("Previous period", [int(r[2] or 0) for r in api_rows]),
            ],
        ),
    )
    hook_rows: list[list[Cell]] = []
    for pk in ordered:
        h: Any = hook_counts.get(pk, {})
        hook_rows.append(
            [
                clients[pk],
                h.get("delivered", 0),
                h.get("retried", 0),
                h.get("failed", 0),
                h.get("pending", 0),
            ]
        )
    board.figures["webhooks"] = Figure(
        "webhooks",
        "Webhook deliveries per API client",
        ["API client", "Delivered at once", "Delivered after retries", "Failed", "Pending"],
        hook_rows,
        bar_chart(
            title="Webhook deliveries per API client",
            categories=[str(r[0]) for r in hook_rows],
            series=[
                (name, [int(r[i + 1] or 0) for r in hook_rows])
                for i, name in enumerate(
                    ("Delivered at once", "After retries", "Failed", "Pending")
                )
            ],
            stacked=True,
        ),
    )

    # --- The summary, this period beside the previous one -----------------------------------------
    def summary(which: str) -> list[Cell]:
        b = totals[which]
        agg = response.get((which, None), {})
        waits = agg.get("waits", 0)
        return [
            b["sent"],
            b["received"],
            _pct(b["status:delivered"], b["sent"]),
            _pct(b["status:undelivered"], b["sent"]),
            _pct(b["status:failed"], b["sent"]),
            b["landline"],
            b["opt_out"],
            b["opt_in"],
            _minutes(agg.get("median")),
            _minutes(agg.get("p90")),
            _pct(agg.get("over_hour", 0), waits),
            _pct(agg.get("over_day", 0), waits),
            funnel[which]["calls"],
        ]

    now_values, before_values = summary("current"), summary("previous")
    board.figures["summary"] = Figure(
        "summary",
        "At a glance",
        ["Figure", "This period", "Previous period"],
        [
            [label, now_values[i], before_values[i]]
            for i, label in enumerate(
                (
                    "Texts sent",
                    "Texts received",
                    "Delivered (%)",
                    "Undelivered (%)",
                    "Failed (%)",
                    "Landlines found",
                    "Opt-outs",
                    "Opt-ins",
                    "Median response (minutes)",
                    "90th percentile response (minutes)",
                    "Waited over 1 hour (%)",
                    "Waited over 1 business day (%)",
                    "Calls received",
                )
            )
        ],
    )
    return board


_RESPONSE_SQL = """
WITH w AS MATERIALIZED (
    SELECT r.day >= %(start)s AS is_current,
           r.business_seconds AS seconds, r.answered_at IS NOT NULL AS answered,
           r.answered_by_id AS answered_by, r.over_hour, r.over_business_day
      FROM insights_responsewait r
      JOIN unnest(%(practices)s::uuid[], %(todays)s::date[]) AS t(practice_id, today)
        ON t.practice_id = r.practice_id
     WHERE r.day >= %(previous_start)s AND r.day <= %(end)s AND r.day < t.today
       AND (%(all_lines)s OR r.line_id = ANY(%(lines)s::uuid[]))
    UNION ALL
    SELECT true, x.seconds, x.answered, x.answered_by, x.over_hour, x.over_business_day
      FROM unnest(%(l_seconds)s::int[], %(l_answered)s::bool[], %(l_by)s::int[],
                  %(l_hour)s::bool[], %(l_day)s::bool[])
           AS x(seconds, answered, answered_by, over_hour, over_business_day)
)
SELECT is_current, NULL::int, true, count(*), count(*) FILTER (WHERE answered),
       percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY seconds) FILTER (WHERE answered),
       count(*) FILTER (WHERE over_hour), count(*) FILTER (WHERE over_business_day)
  FROM w GROUP BY is_current
 UNION ALL
SELECT true, answered_by, false, count(*), count(*),
       percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY seconds),
       count(*) FILTER (WHERE over_hour), count(*) FILTER (WHERE over_business_day)
  FROM w WHERE is_current AND answered AND answered_by IS NOT NULL GROUP BY answered_by
"""


def _response_aggregate(
    *,
    practices: list[Practice],
    today: dict[Any, datetime.date],
    line_ids: set[uuid.UUID] | None,
    period: Period,
    previous: Period,
    live: list[rollup.Wait],
) -> dict[tuple[str, Any], dict[str, Any]]:
    """Waits, answered, percentiles and shares, per period (key `(period, None)`) and per
    period and staff member (`(period, user_id)`, answered waits only)."""
    with rollup.analytic_cursor() as cursor:
        cursor.execute(
            _RESPONSE_SQL,
            {
                "start": period.start,
                "end": period.end,
                "previous_start": previous.start,
                "practices": [p.pk for p in practices],
                "todays": [today[p.pk] for p in practices],
                "all_lines": line_ids is None,
                "lines": sorted(line_ids or []),
                "l_seconds": [w.business_seconds for w in live],
                "l_answered": [w.answered_ts is not None for w in live],
                "l_by": [w.answered_by_id for w in live],
                "l_hour": [w.over_hour for w in live],
                "l_day": [w.over_business_day for w in live],
            },
        )
        rows = cursor.fetchall()
    result: dict[tuple[str, Any], dict[str, Any]] = {}
    for is_current, by, whole_period, waits, answered, percentiles, over_hour, over_day in rows:
        median, p90 = percentiles or (None, None)
        which = "current" if is_current else "previous"
        result[(which, None if whole_period else by)] = {
            "waits": waits,
            "answered": answered,
            "median": median,
            "p90": p90,
            "over_hour": over_hour,
            "over_day": over_day,
        }
    return result
