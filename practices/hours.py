"""When a practice is open: its weekly hours in its own timezone, and holidays at three levels.

A holiday on a date overrides the weekly hours for that date. The most specific holiday wins:
line level, then practice level, then enterprise level — so a line can stay open on an
enterprise-wide holiday, or close on a day its practice is open. A holiday is either closed all
day or open with special hours. A holiday that repeats yearly also falls on its day and month of
every later year; at one level, a holiday dated that very day wins over a yearly one (this
year's Christmas can have its own hours).

A practice with no weekly hours at all is treated as always open (outside holidays): a practice
that never said when it works should not answer every text with an after-hours message.
"""

from __future__ import annotations

import bisect
import datetime
from collections.abc import Callable
from typing import Any

from django.db.models import Q

from .models import Holiday, Line, Practice, PracticeHours

_LEVEL_ORDER = {"line": 0, "practice": 1, "enterprise": 2}


def _on_days(days: list[datetime.date]) -> Q:
    """Holidays that fall on one of `days` (dated then, or yearly on that day and month)."""
    yearly = Q()
    for day in days:
        yearly |= Q(date__month=day.month, date__day=day.day)
    return Q(date__in=days) | (Q(repeats_yearly=True, date__lt=max(days)) & yearly)


def _governing(holidays: Any) -> Holiday | None:
    """The most specific level first; at one level, the one dated that day over a yearly one."""
    return min(holidays, key=lambda h: (_LEVEL_ORDER[h.level], h.repeats_yearly), default=None)


def holiday_for(
    *, practice: Practice, day: datetime.date, line: Line | None = None
) -> Holiday | None:
    """The holiday that governs `day` for this practice (and line), the most specific first."""
    levels = Q(practice__isnull=True) | Q(practice=practice, line__isnull=True)
    if line is not None:
        levels |= Q(line=line)
    holidays = Holiday.objects.filter(levels, _on_days([day]), enterprise_id=practice.enterprise_id)
    return _governing(h for h in holidays if h.falls_on(day))


def _governing_holidays(
    *, practice: Practice, line: Line | None, start: datetime.date, end: datetime.date
) -> dict[datetime.date, Holiday]:
    """The holiday that governs each date from `start` to `end` that has one, in one query."""
    levels = Q(practice__isnull=True) | Q(practice=practice, line__isnull=True)
    if line is not None:
        levels |= Q(line=line)
    governing: dict[datetime.date, Holiday] = {}
    for holiday in Holiday.objects.filter(
        levels, enterprise_id=practice.enterprise_id, date__range=(start, end)
    ):
        known = governing.get(holiday.date)
        if known is None or _LEVEL_ORDER[holiday.level] < _LEVEL_ORDER[known.level]:
            governing[holiday.date] = holiday
    return governing


def closed_days_between(
    *, practice: Practice, start: datetime.date, end: datetime.date, line: Line | None = None
) -> set[datetime.date]:
    """The dates from `start` to `end` (inclusive) on which the governing holiday closes the
    practice (and line) all day, read with one query (quiet hours skip them)."""
    governing = _governing_holidays(practice=practice, line=line, start=start, end=end)
    return {
        day
        for day, holiday in governing.items()
        if holiday.is_closed or holiday.opens_at is None or holiday.closes_at is None
    }


def practice_next_opening(
    *, practice: Practice, after: datetime.datetime, line: Line | None = None, days: int = 14
) -> datetime.datetime | None:
    """The next moment after `after` at which the practice opens (its weekly hours, holidays
    with special hours, closed holidays skipped), within `days`; None for a practice with no
    weekly hours (always open) or none within the window. For "send at the next opening"."""
    intervals = list(practice.hours.all())
    if not intervals:
        return None
    local = after.astimezone(practice.tz)
    start, end = local.date(), local.date() + datetime.timedelta(days=days)
    governing = _governing_holidays(practice=practice, line=line, start=start, end=end)
    day = start
    while day <= end:
        special = governing.get(day)
        if special is not None:
            opens = [] if special.is_closed or special.opens_at is None else [special.opens_at]
        else:
            opens = sorted(h.opens_at for h in intervals if h.weekday == day.weekday())
        for opens_at in opens:
            moment = datetime.datetime.combine(day, opens_at, tzinfo=practice.tz)
            if moment > after:
                return moment
        day += datetime.timedelta(days=1)
    return None


def practice_is_open(
    *, practice: Practice, at: datetime.datetime, line: Line | None = None
) -> bool:
    """Whether the practice (answering on `line`, if given) is open at the instant `at`."""
    local = at.astimezone(practice.tz)
    holiday = holiday_for(practice=practice, day=local.date(), line=line)
    return _is_open(local=local, holiday=holiday, intervals=list(practice.hours.all()))


def practices_open_at(*, practices: list[Practice], at: datetime.datetime) -> dict[Any, bool]:
    """`practice_is_open` for many practices (no line) with one query for their holidays; their
    `hours` should be prefetched."""
    if not practices:
        return {}
    # Each practice's local date is within a day of the UTC date.
    utc_day = at.astimezone(datetime.UTC).date()
    days = [utc_day - datetime.timedelta(days=1), utc_day, utc_day + datetime.timedelta(days=1)]
    holidays = list(
        Holiday.objects.filter(
            Q(practice__isnull=True) | Q(practice__in=practices, line__isnull=True),
            _on_days(days),
            enterprise_id__in={p.enterprise_id for p in practices},
        )
    )
    result = {}
    for practice in practices:
        local = at.astimezone(practice.tz)
        governing = _governing(
            h
            for h in holidays
            if h.falls_on(local.date())
            and h.enterprise_id == practice.enterprise_id
            and h.practice_id in (None, practice.pk)
        )
        result[practice.pk] = _is_open(
            local=local, holiday=governing, intervals=list(practice.hours.all())
        )
    return result


def _is_open(
    *, local: datetime.datetime, holiday: Holiday | None, intervals: list[PracticeHours]
) -> bool:
    now = local.time()
    if holiday is not None:
        if holiday.is_closed or holiday.opens_at is None or holiday.closes_at is None:
            return False
        return holiday.opens_at <= now < holiday.closes_at
    if not intervals:
        return True
    return any(h.weekday == local.weekday() and h.opens_at <= now < h.closes_at for h in intervals)


def closed_message_for(
    *,
    practice: Practice,
    at: datetime.datetime,
    line: Line | None = None,
    language: str = "en",
) -> str | None:
    """The text to answer with at `at`, or None when the practice is open or has nothing to say.

    On a closed holiday with its own out-of-office message, that message; otherwise the
    practice's after-hours message (when switched on) in `language` if a translation exists.
    The text may contain smart phrases: the send path fills them in.
    """
    if practice_is_open(practice=practice, at=at, line=line):
        return None
    local_day = at.astimezone(practice.tz).date()
    holiday = holiday_for(practice=practice, day=local_day, line=line)
    if holiday is not None and holiday.message.strip():
        return holiday.message
    if not practice.after_hours_enabled or not practice.after_hours_message.strip():
        return None
    if language and language != "en":
        translation = practice.after_hours_translations.filter(language=language).first()
        if translation is not None:
            return translation.message
    return practice.after_hours_message


# --- Business time: open seconds between two instants -----------------------------------------


class BusinessCalendar:
    """When a practice (answering on one line, or on none) is open over a span of local dates,
    as sorted open intervals with running totals, so that `open_seconds(a, b)` — the seconds
    the practice was open between two instants — costs two binary searches.

    The same rules as `practice_is_open`: weekly hours in the practice's timezone, the most
    specific holiday of a date overriding them (closed all day, or open with special hours; a
    yearly one on its day and month of every later year), and
    a practice with no weekly hours open all day outside holidays. Instants outside the span are
    clamped to it. Build it with `business_calendars` (two queries for many practices).
    """

    def __init__(
        self,
        *,
        practice: Practice,
        first_day: datetime.date,
        last_day: datetime.date,
        intervals: list[PracticeHours],
        holidays: list[Holiday],
        line_id: Any = None,
    ) -> None:
        tz = practice.tz
        mine = [
            h
            for h in holidays
            if h.enterprise_id == practice.enterprise_id
            and h.practice_id in (None, practice.pk)
            and (h.line_id is None or h.line_id == line_id)
        ]
        governing: dict[datetime.date, Holiday] = {}
        day = first_day
        while day <= last_day:
            found = _governing(h for h in mine if h.falls_on(day))
            if found is not None:
                governing[day] = found
            day += datetime.timedelta(days=1)
        by_weekday: dict[int, list[tuple[datetime.time, datetime.time]]] = {}
        for interval in intervals:
            by_weekday.setdefault(interval.weekday, []).append(
                (interval.opens_at, interval.closes_at)
            )
        spans: list[tuple[float, float]] = []
        day = first_day
        while day <= last_day:
            special = governing.get(day)
            if special is not None:
                if special.is_closed or special.opens_at is None or special.closes_at is None:
                    times: list[tuple[datetime.time, datetime.time]] = []
                else:
                    times = [(special.opens_at, special.closes_at)]
            elif not intervals:
                times = [(datetime.time(0), datetime.time(0))]  # all day (to next midnight)
            else:
                times = sorted(by_weekday.get(day.weekday(), []))
            for opens, closes in times:
                start = datetime.datetime.combine(day, opens, tzinfo=tz)
                end_day = day + datetime.timedelta(days=1) if closes <= opens else day
                end = datetime.datetime.combine(end_day, closes, tzinfo=tz)
                spans.append((start.timestamp(), end.timestamp()))
            day += datetime.timedelta(days=1)
        spans.sort()
        merged: list[tuple[float, float]] = []
        for start_ts, end_ts in spans:
            if merged and start_ts <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end_ts))
            else:
                merged.append((start_ts, end_ts))
        self._starts = [s for s, _ in merged]
        self._ends = [e for _, e in merged]
        self._before: list[float] = []  # open seconds before each interval
        total = 0.0
        for start_ts, end_ts in merged:
            self._before.append(total)
            total += end_ts - start_ts
        self._total = total
        open_days = {interval.weekday for interval in intervals}
        weekly = sum(
            (
                datetime.datetime.combine(day, i.closes_at)
                - datetime.datetime.combine(day, i.opens_at)
            ).total_seconds()
            for i in intervals
        )
        # "One business day" of this practice: its average open day (24 h when always open).
        self.business_day_seconds = weekly / len(open_days) if open_days else 86400.0

    def _clock(self, ts: float) -> float:
        """Open seconds from the start of the span to `ts`."""
        index = bisect.bisect_right(self._starts, ts) - 1
        if index < 0:
            return 0.0
        return self._before[index] + min(ts, self._ends[index]) - self._starts[index]

    def open_seconds(self, start: datetime.datetime, end: datetime.datetime) -> float:
        """Seconds the practice was open from `start` to `end` (0 when `end` is not later)."""
        return self.open_seconds_between(start.timestamp(), end.timestamp())

    def open_seconds_between(self, start: float, end: float) -> float:
        """`open_seconds` for Unix times."""
        if end <= start:
            return 0.0
        return self._clock(end) - self._clock(start)


def business_calendars(
    *,
    practices: list[Practice],
    first_day: datetime.date,
    last_day: datetime.date,
) -> Callable[[Practice, Any], BusinessCalendar]:
    """A factory of `BusinessCalendar`s for these practices over the local dates
    `first_day`..`last_day`: call it with a practice and a line id (or None). Two queries (weekly
    hours and holidays), made here; calendars are built on first use and kept."""
    if not practices:
        return lambda practice, line_id: BusinessCalendar(
            practice=practice, first_day=first_day, last_day=last_day, intervals=[], holidays=[]
        )
    hours: dict[Any, list[PracticeHours]] = {}
    for interval in PracticeHours.objects.filter(practice__in=practices):
        hours.setdefault(interval.practice_id, []).append(interval)
    holidays = list(
        Holiday.objects.filter(
            Q(practice__isnull=True) | Q(practice__in=practices),
            Q(date__gte=first_day) | Q(repeats_yearly=True),
            enterprise_id__in={p.enterprise_id for p in practices},
            date__lte=last_day,
        )
    )
    built: dict[tuple[Any, Any], BusinessCalendar] = {}

    def calendar(practice: Practice, line_id: Any) -> BusinessCalendar:
        key = (practice.pk, line_id)
        found = built.get(key)
        if found is None:
            found = built[key] = BusinessCalendar(
                practice=practice,
                first_day=first_day,
                last_day=last_day,
                intervals=hours.get(practice.pk, []),
                holidays=holidays,
                line_id=line_id,
            )
        return found

    return calendar
