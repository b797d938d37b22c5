"""The daily rollups: computed from the raw rows, one (practice, local day) at a time.

The SQL that counts a day's messages and finds its waits is written once, here, and serves
both the rollup run (which stores its result) and the dashboard's live figures for today
(which read it straight from the raw rows): the two cannot disagree.

**What makes a day stale, and how it is found again** (`rollup_run`, every
`INSIGHTS_ROLLUP_SECONDS` from beat):

- new messages: the run scans each practice's messages created since its last scan (minus
  `INSIGHTS_ROLLUP_LAG_SECONDS`, so a transaction that committed late is still seen);
- a staff reply closes a wait that may have started days earlier: the run finds the day that
  wait started on and rolls it up again;
- a status that arrives late (a `delivered` hours after the send, or callbacks out of order):
  `messaging.events` calls `status_changes_touch` inside the status changes' transaction, which
  appends a `Touch` row (no lock, no read of anything but the message); the run consumes them;
- open waits: their time so far grows while nobody answers; the run refreshes it until the wait
  is over a business day (after which nothing about it can change but its answer);
- call-to-text funnels and webhook deliveries change for days after their day (a caller replies
  tomorrow, a webhook is retried for a day): the run recomputes the trailing
  `INSIGHTS_TRAILING_DAYS` of those, in one statement each for all practices.
"""

from __future__ import annotations

import datetime
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from artera.locks import transaction_lock
from messaging.events import InboundMessageReceived, MessageStatusChanged
from messaging.keywords import KEYWORDS, Keyword
from practices.hours import BusinessCalendar, business_calendars
from practices.models import Practice

from .models import ResponseWait, RollupState, Touch

OPT_OUT_WORDS = sorted(word for word, kind in KEYWORDS.items() if kind is Keyword.OPT_OUT)
OPT_IN_WORDS = sorted(word for word, kind in KEYWORDS.items() if kind is Keyword.OPT_IN)
ALL_KEYWORDS = sorted(KEYWORDS)
HOUR_SECONDS = 3600

# A keyword text is a plain SMS (not a portal reply) that is exactly the word, ignoring case and
# surrounding whitespace: `messaging.keywords.keyword_parse`, in SQL.
_KEYWORD_OF = "upper(btrim({m}.body, E' \\t\\r\\n'))"


def _is_keyword(alias: str, words: str) -> str:
    return f"(NOT {alias}.is_secure AND {_KEYWORD_OF.format(m=alias)} = ANY({words}))"


# One row per (practice, line, day, direction, source, status, error, keyword, API client).
# (The f-strings here only splice in constant SQL fragments; every value is a parameter.)
MESSAGE_COUNTS_SQL = f"""
SELECT m.practice_id, m.line_id, d.day, m.direction, m.sender_kind, m.status, m.error_code,
       CASE WHEN m.direction = 'inbound' AND {_is_keyword("m", "%(opt_out)s")} THEN 'opt_out'
            WHEN m.direction = 'inbound' AND {_is_keyword("m", "%(opt_in)s")} THEN 'opt_in'
            ELSE '' END,
       m.sender_api_client_id, count(*)
  FROM unnest(%(practices)s::uuid[], %(days)s::date[], %(starts)s::timestamptz[],
              %(ends)s::timestamptz[]) AS d(practice_id, day, start_at, end_at)
  -- LATERAL: one index range scan (practice, created_at) per day, whatever the planner
  -- guesses about the unnest's size (a hash join would read every message of the table).
 CROSS JOIN LATERAL (
        SELECT * FROM messaging_message x
         WHERE x.practice_id = d.practice_id
           AND x.created_at >= d.start_at AND x.created_at < d.end_at) m
 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
"""

# The patient texts of the given days that start a wait, with the staff reply that ended it.
WAITS_SQL = f"""
SELECT m.id, m.practice_id, m.line_id, m.channel_id, d.day,
       extract(epoch FROM m.created_at)::float8, extract(epoch FROM reply.created_at)::float8,
       reply.sender_user_id
  FROM unnest(%(practices)s::uuid[], %(days)s::date[], %(starts)s::timestamptz[],
              %(ends)s::timestamptz[]) AS d(practice_id, day, start_at, end_at)
 CROSS JOIN LATERAL (
        SELECT * FROM messaging_message x
         WHERE x.practice_id = d.practice_id
           AND x.created_at >= d.start_at AND x.created_at < d.end_at
           AND x.direction = 'inbound' AND NOT {_is_keyword("x", "%(keywords)s")}) m
  LEFT JOIN LATERAL (
        SELECT p.direction FROM messaging_message p
         WHERE p.channel_id = m.channel_id AND p.created_at < m.created_at
           AND ((p.direction = 'inbound' AND NOT {_is_keyword("p", "%(keywords)s")})
                OR (p.direction = 'outbound' AND p.sender_kind = 'staff'))
         ORDER BY p.created_at DESC LIMIT 1) previous ON true
  LEFT JOIN LATERAL (
        SELECT r.created_at, r.sender_user_id FROM messaging_message r
         WHERE r.channel_id = m.channel_id AND r.created_at > m.created_at
           AND r.direction = 'outbound' AND r.sender_kind = 'staff'
         ORDER BY r.created_at LIMIT 1) reply ON true
 WHERE previous.direction IS DISTINCT FROM 'inbound'
"""


@dataclass(frozen=True)
class DayBounds:
    practice: Practice
    day: datetime.date

    @property
    def start(self) -> datetime.datetime:
        return datetime.datetime.combine(self.day, datetime.time(0), tzinfo=self.practice.tz)

    @property
    def end(self) -> datetime.datetime:
        next_day = self.day + datetime.timedelta(days=1)
        return datetime.datetime.combine(next_day, datetime.time(0), tzinfo=self.practice.tz)


@dataclass(frozen=True)
class Wait:
    message_id: uuid.UUID
    practice_id: uuid.UUID
    line_id: uuid.UUID
    channel_id: uuid.UUID
    day: datetime.date
    # Unix times: a page reads thousands of today's waits, and floats cost a tenth of
    # datetimes to load.
    started_ts: float
    answered_ts: float | None
    answered_by_id: int | None
    business_seconds: int
    over_hour: bool
    over_business_day: bool


def local_day(practice: Practice, at: datetime.datetime) -> datetime.date:
    return at.astimezone(practice.tz).date()


def _params(bounds: list[DayBounds]) -> dict[str, Any]:
    return {
        "practices": [b.practice.pk for b in bounds],
        "days": [b.day for b in bounds],
        "starts": [b.start for b in bounds],
        "ends": [b.end for b in bounds],
        "opt_out": OPT_OUT_WORDS,
        "opt_in": OPT_IN_WORDS,
        "keywords": ALL_KEYWORDS,
    }


@contextmanager
def analytic_cursor() -> Iterator[Any]:
    """A cursor in a transaction with PostgreSQL's JIT off and room to sort in memory. The
    cost estimates of these queries (the unnest's bounds are unknown when planning) pass the JIT
    threshold, and compiling then took ~650 ms for a query that runs in ~90 ms; sorting two
    months of waits for their percentiles spilled to disk at the default `work_mem`
    (bench/insights.py)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)"
        )
        yield cursor


def message_counts(bounds: list[DayBounds]) -> list[tuple[Any, ...]]:
    """The days' message counts from the raw rows (none for no days)."""
    if not bounds:
        return []
    with analytic_cursor() as cursor:
        cursor.execute(MESSAGE_COUNTS_SQL, _params(bounds))
        return list(cursor.fetchall())


def waits_compute(
    bounds: list[DayBounds],
    *,
    now: datetime.datetime,
    calendars: Callable[[Practice, Any], BusinessCalendar] | None = None,
) -> list[Wait]:
    """The waits that started on these days, their business time counted with each practice's
    calendar (an open wait: until `now`). Two queries, and two for the calendars unless given."""
    if not bounds:
        return []
    with analytic_cursor() as cursor:
        cursor.execute(WAITS_SQL, _params(bounds))
        rows = cursor.fetchall()
    practices = {b.practice.pk: b.practice for b in bounds}
    now_ts = now.timestamp()
    if calendars is None:
        calendars = calendars_for(list(practices.values()), min(b.day for b in bounds), now=now)
    waits = []
    for message_id, practice_id, line_id, channel_id, day, started, answered, user_id in rows:
        practice = practices[practice_id]
        calendar = calendars(practice, line_id)
        seconds = round(calendar.open_seconds_between(started, answered or now_ts))
        waits.append(
            Wait(
                message_id=message_id,
                practice_id=practice_id,
                line_id=line_id,
                channel_id=channel_id,
                day=day,
                started_ts=started,
                answered_ts=answered,
                answered_by_id=user_id,
                business_seconds=seconds,
                over_hour=seconds > HOUR_SECONDS,
                over_business_day=seconds > calendar.business_day_seconds,
            )
        )
    return waits


def _at(ts: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ts, tz=datetime.UTC)


def calendars_for(
    practices: list[Practice], first_day: datetime.date, *, now: datetime.datetime
) -> Callable[[Practice, Any], BusinessCalendar]:
    """Calendars from the day before `first_day` (a wait's instants are within a day of its
    local dates in any timezone) to the day after `now`."""
    last = max((now.astimezone(p.tz).date() for p in practices), default=now.date())
    return business_calendars(
        practices=practices,
        first_day=first_day - datetime.timedelta(days=1),
        last_day=last + datetime.timedelta(days=1),
    )


# --- Storing ------------------------------------------------------------------------------------


def days_recompute(
    practice_days: dict[uuid.UUID, set[datetime.date]], *, now: datetime.datetime
) -> int:
    """Rewrite the message counts and waits of these (practice, day)s from the raw rows, in one
    transaction; returns how many days. Days after the practice's today are skipped."""
    practices = {p.pk: p for p in Practice.objects.filter(pk__in=list(practice_days))}
    bounds = [
        DayBounds(practices[pid], day)
        for pid, days in practice_days.items()
        if pid in practices
        for day in sorted(days)
        if day <= local_day(practices[pid], now)
    ]
    if not bounds:
        return 0
    params = _params(bounds)
    waits = waits_compute(bounds, now=now)
    with analytic_cursor() as cursor:
        key = "(SELECT * FROM unnest(%(practices)s::uuid[], %(days)s::date[]) AS k(p, d))"
        cursor.execute(f"DELETE FROM insights_messageday WHERE (practice_id, day) IN {key}", params)
        cursor.execute(
            "INSERT INTO insights_messageday (practice_id, line_id, day, direction, sender_kind,"
            " status, error_code, keyword, api_client_id, count) " + MESSAGE_COUNTS_SQL,
            params,
        )
        cursor.execute(
            f"DELETE FROM insights_responsewait WHERE (practice_id, day) IN {key}", params
        )
        ResponseWait.objects.bulk_create(
            (
                ResponseWait(
                    message_id=w.message_id,
                    practice_id=w.practice_id,
                    line_id=w.line_id,
                    channel_id=w.channel_id,
                    day=w.day,
                    started_at=_at(w.started_ts),
                    answered_at=None if w.answered_ts is None else _at(w.answered_ts),
                    answered_by_id=w.answered_by_id,
                    business_seconds=w.business_seconds,
                    over_hour=w.over_hour,
                    over_business_day=w.over_business_day,
                )
                for w in waits
            ),
            batch_size=5000,
        )
    return len(bounds)


def open_waits_refresh(*, now: datetime.datetime) -> int:
    """Bring the time so far of waits nobody answered yet up to `now`, until they are over a
    business day (from then on nothing changes but their answer, which recomputes their day)."""
    open_waits = list(
        ResponseWait.objects.filter(answered_at__isnull=True, over_business_day=False)
    )
    if not open_waits:
        return 0
    practices = {
        p.pk: p for p in Practice.objects.filter(pk__in={w.practice_id for w in open_waits})
    }
    calendars = calendars_for(list(practices.values()), min(w.day for w in open_waits), now=now)
    for wait in open_waits:
        calendar = calendars(practices[wait.practice_id], wait.line_id)
        seconds = round(calendar.open_seconds(wait.started_at, now))
        wait.business_seconds = seconds
        wait.over_hour = seconds > HOUR_SECONDS
        wait.over_business_day = seconds > calendar.business_day_seconds
    ResponseWait.objects.bulk_update(
        open_waits, ["business_seconds", "over_hour", "over_business_day"], batch_size=2000
    )
    return len(open_waits)


def calls_recompute(*, since: datetime.datetime) -> None:
    """Rewrite the call-to-text funnel of every practice from the local day of `since` on."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            DELETE FROM insights_callday c USING practices_practice p
             WHERE c.practice_id = p.id AND c.day >= (%(since)s AT TIME ZONE p.timezone)::date
            """,
            {"since": since},
        )
        cursor.execute(
            """
            INSERT INTO insights_callday
                   (practice_id, line_id, day, kind, calls, texted, replied, answered)
            SELECT w.practice_id, w.line_id, (c.created_at AT TIME ZONE p.timezone)::date, w.kind,
                   count(*),
                   count(*) FILTER (WHERE m.id IS NOT NULL),
                   count(*) FILTER (WHERE replied.at IS NOT NULL),
                   count(*) FILTER (WHERE answered.at IS NOT NULL)
              FROM webhooks_calltotextcall c
              JOIN webhooks_calltotextworkflow w ON w.id = c.workflow_id
              JOIN practices_practice p ON p.id = w.practice_id
              LEFT JOIN messaging_message m ON m.id = c.message_id AND c.outcome = 'texted'
              LEFT JOIN LATERAL (
                    SELECT min(i.created_at) AS at FROM messaging_message i
                     WHERE i.channel_id = m.channel_id AND i.direction = 'inbound'
                       AND i.created_at > m.created_at
                       AND i.created_at < m.created_at + %(window)s) replied ON true
              LEFT JOIN LATERAL (
                    SELECT min(s.created_at) AS at FROM messaging_message s
                     WHERE s.channel_id = m.channel_id AND s.direction = 'outbound'
                       AND s.sender_kind = 'staff' AND s.created_at > replied.at
                       AND s.created_at < m.created_at + %(window)s) answered ON true
             WHERE c.created_at >= %(since)s - interval '1 day'
               AND (c.created_at AT TIME ZONE p.timezone)::date
                   >= (%(since)s AT TIME ZONE p.timezone)::date
             GROUP BY 1, 2, 3, 4
            """,
            {"since": since, "window": datetime.timedelta(days=settings.INSIGHTS_CALL_REPLY_DAYS)},  # type: ignore[dict-item]
        )


def webhooks_recompute(*, since: datetime.datetime) -> None:
    """Rewrite every practice's webhook delivery counts from the local day of `since` on."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            DELETE FROM insights_webhookday h USING practices_practice p
             WHERE h.practice_id = p.id AND h.day >= (%(since)s AT TIME ZONE p.timezone)::date
            """,
            {"since": since},
        )
        cursor.execute(
            """
            INSERT INTO insights_webhookday
                   (practice_id, line_id, api_client_id, day, delivered, retried, failed, pending)
            SELECT m.practice_id, m.line_id, d.api_client_id,
                   (d.created_at AT TIME ZONE p.timezone)::date,
                   count(*) FILTER (WHERE d.status = 'delivered' AND d.attempt_count <= 1),
                   count(*) FILTER (WHERE d.status = 'delivered' AND d.attempt_count > 1),
                   count(*) FILTER (WHERE d.status IN ('failed', 'disabled')),
                   count(*) FILTER (WHERE d.status = 'pending')
              FROM webhooks_apiclient a
              JOIN LATERAL (
                    SELECT * FROM webhooks_webhookdelivery x
                     WHERE x.api_client_id = a.id AND x.created_at >= %(since)s - interval '1 day'
                   ) d ON true
              JOIN messaging_message m ON m.id = d.message_id
              JOIN practices_practice p ON p.id = m.practice_id
             WHERE (d.created_at AT TIME ZONE p.timezone)::date
                   >= (%(since)s AT TIME ZONE p.timezone)::date
             GROUP BY 1, 2, 3, 4
            """,
            {"since": since},
        )


# --- The run ------------------------------------------------------------------------------------


def _stale_days_since(cursor: Any, since: datetime.datetime) -> Iterable[tuple[Any, Any]]:
    """(practice, local day) of each message created since `since`, and of the start of each
    wait a staff reply created since then ended."""
    cursor.execute(
        f"""
        WITH fresh AS (
            SELECT p.id AS practice_id, p.timezone, s.*
              FROM practices_practice p
              JOIN LATERAL (
                    SELECT m.id, m.channel_id, m.created_at, m.direction, m.sender_kind
                      FROM messaging_message m
                     WHERE m.practice_id = p.id AND m.created_at >= %(since)s) s ON true)
        SELECT DISTINCT practice_id, (created_at AT TIME ZONE timezone)::date FROM fresh
        UNION
        SELECT DISTINCT f.practice_id, (started.at AT TIME ZONE f.timezone)::date
          FROM fresh f
          JOIN LATERAL (
                SELECT max(p.created_at) AS at FROM messaging_message p
                 WHERE p.channel_id = f.channel_id AND p.created_at < f.created_at
                   AND p.direction = 'outbound' AND p.sender_kind = 'staff') previous ON true
          JOIN LATERAL (
                SELECT min(i.created_at) AS at FROM messaging_message i
                 WHERE i.channel_id = f.channel_id AND i.direction = 'inbound'
                   AND i.created_at < f.created_at
                   AND (previous.at IS NULL OR i.created_at > previous.at)
                   AND NOT {_is_keyword("i", "%(keywords)s")}) started ON started.at IS NOT NULL
         WHERE f.direction = 'outbound' AND f.sender_kind = 'staff'
        """,
        {"since": since, "keywords": ALL_KEYWORDS},
    )
    return cursor.fetchall()


def _touched_days(cursor: Any) -> Iterable[tuple[Any, Any]]:
    cursor.execute(
        """
        WITH taken AS (DELETE FROM insights_touch RETURNING practice_id, at)
        SELECT DISTINCT t.practice_id, (t.at AT TIME ZONE p.timezone)::date
          FROM taken t JOIN practices_practice p ON p.id = t.practice_id
        """
    )
    return cursor.fetchall()


def rollup_run(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """One pass of the beat task (see the module docstring). Runs one at a time: a second run
    started meanwhile waits for the first and then finds little to do."""
    now = now or timezone.now()
    lag = datetime.timedelta(seconds=settings.INSIGHTS_ROLLUP_LAG_SECONDS)
    with transaction.atomic():
        transaction_lock("insights-rollup")
        state, _ = RollupState.objects.select_for_update().get_or_create(pk=1)
        since = (state.scanned_until or now) - lag
        stale: dict[uuid.UUID, set[datetime.date]] = defaultdict(set)
        with connection.cursor() as cursor:
            for practice_id, day in [*_stale_days_since(cursor, since), *_touched_days(cursor)]:
                stale[practice_id].add(day)
        days = days_recompute(stale, now=now)
        refreshed = open_waits_refresh(now=now)
        trailing = now - datetime.timedelta(days=settings.INSIGHTS_TRAILING_DAYS)
        calls_recompute(since=trailing)
        webhooks_recompute(since=trailing)
        state.scanned_until = now
        state.save(update_fields=["scanned_until"])
    return {"days": days, "open_waits": refreshed}


def rollup_rebuild(
    *, first_day: datetime.date, now: datetime.datetime | None = None, chunk_days: int = 7
) -> int:
    """Recompute every practice's days from `first_day` (a backfill after installing, or after
    hours changed); returns how many (practice, day)s."""
    now = now or timezone.now()
    practices = list(Practice.objects.all())
    since = datetime.datetime.combine(first_day, datetime.time(0), tzinfo=datetime.UTC)
    # What the rebuild recomputes needs no touch; a touch that arrives meanwhile is newer.
    Touch.objects.filter(at__gte=since + datetime.timedelta(days=1)).delete()
    total = 0
    day = first_day
    last = max((local_day(p, now) for p in practices), default=now.date())
    while day <= last:
        chunk = {
            p.pk: {day + datetime.timedelta(days=i) for i in range(chunk_days)} for p in practices
        }
        total += days_recompute(chunk, now=now)
        day += datetime.timedelta(days=chunk_days)
    calls_recompute(since=since)
    webhooks_recompute(since=since)
    RollupState.objects.update_or_create(pk=1, defaults={"scanned_until": now})
    return total


# --- Hooks on the hot paths ---------------------------------------------------------------------


def status_changes_touch(events: Sequence[MessageStatusChanged]) -> None:
    """Messages' statuses changed: their days are stale. One INSERT for the whole batch, inside
    the status changes' transaction (so it commits with them, or not at all). Nothing is kept
    on SQLite, where no rollup runs."""
    if connection.vendor != "postgresql" or not events:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO insights_touch (practice_id, at)"
            " SELECT practice_id, created_at FROM messaging_message WHERE id = ANY(%s::uuid[])",
            [sorted({event.message_id for event in events})],
        )


def inbound_touch(event: InboundMessageReceived) -> None:
    """A patient's text joined a conversation (perhaps one held for the shared-phone prompt and
    routed later, into another channel): its day is stale."""
    if connection.vendor != "postgresql":
        return
    Touch.objects.create(practice_id=event.message.practice_id, at=event.message.created_at)
