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

import datetime
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
