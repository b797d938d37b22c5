"""Practice hours: weekly schedule in the practice's timezone, and holidays at three levels."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from practices.hours import closed_message_for, holiday_for, practice_is_open
from practices.models import AfterHoursTranslation, Holiday, PracticeHours
from tests.factories import LineFactory

UTC = datetime.UTC
LA = ZoneInfo("America/Los_Angeles")
# 2026-11-23 is a Monday.
MONDAY = datetime.date(2026, 11, 23)


def at_local(
    day: datetime.date, hour: int, minute: int = 0, tz: ZoneInfo = LA
) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=tz)


@pytest.fixture
def practice(practice_a):  # type: ignore[no-untyped-def]
    """Open Monday-Friday 8:00-12:00 and 13:00-17:00 in Los Angeles."""
    practice_a.timezone = "America/Los_Angeles"
    practice_a.after_hours_enabled = True
    practice_a.after_hours_message = "We're closed. {practiceName} will reply tomorrow."
    practice_a.save()
    for day in range(5):
        PracticeHours.objects.create(
            practice=practice_a, weekday=day, opens_at=datetime.time(8), closes_at=datetime.time(12)
        )
        PracticeHours.objects.create(
            practice=practice_a,
            weekday=day,
            opens_at=datetime.time(13),
            closes_at=datetime.time(17),
        )
    return practice_a


@pytest.mark.parametrize(
    ("hour", "minute", "is_open"),
    [(7, 59, False), (8, 0, True), (11, 59, True), (12, 30, False), (16, 59, True), (17, 0, False)],
)
def test_weekly_hours_in_the_practice_timezone(
    practice, hour: int, minute: int, is_open: bool
) -> None:  # type: ignore[no-untyped-def]
    assert practice_is_open(practice=practice, at=at_local(MONDAY, hour, minute)) is is_open


def test_the_same_instant_in_utc_is_judged_in_local_time(practice) -> None:  # type: ignore[no-untyped-def]
    # 16:30 UTC on Monday is 08:30 in Los Angeles (PST, UTC-8): open, although UTC says 16:30.
    assert practice_is_open(
        practice=practice, at=datetime.datetime(2026, 11, 23, 16, 30, tzinfo=UTC)
    )
    # 02:00 UTC on Tuesday is still Monday 18:00 in Los Angeles: closed.
    assert not practice_is_open(
        practice=practice, at=datetime.datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    )


def test_weekend_is_closed(practice) -> None:  # type: ignore[no-untyped-def]
    saturday = MONDAY + datetime.timedelta(days=5)
    assert not practice_is_open(practice=practice, at=at_local(saturday, 10))


def test_practice_without_hours_is_always_open(practice_a) -> None:  # type: ignore[no-untyped-def]
    assert practice_is_open(practice=practice_a, at=at_local(MONDAY, 3))
    assert closed_message_for(practice=practice_a, at=at_local(MONDAY, 3)) is None


def test_enterprise_holiday_closes_every_practice(practice) -> None:  # type: ignore[no-untyped-def]
    Holiday.objects.create(enterprise=practice.enterprise, date=MONDAY, name="Founders' Day")

    assert not practice_is_open(practice=practice, at=at_local(MONDAY, 10))


def test_most_specific_holiday_wins(practice) -> None:  # type: ignore[no-untyped-def]
    line = practice.lines.get()
    other_line = LineFactory(practice=practice, is_default=False)
    Holiday.objects.create(enterprise=practice.enterprise, date=MONDAY, name="Closed everywhere")
    Holiday.objects.create(
        enterprise=practice.enterprise,
        practice=practice,
        line=line,
        date=MONDAY,
        name="Hotline stays open",
        is_closed=False,
        opens_at=datetime.time(9),
        closes_at=datetime.time(11),
    )

    assert practice_is_open(practice=practice, at=at_local(MONDAY, 10), line=line)
    assert not practice_is_open(practice=practice, at=at_local(MONDAY, 11, 30), line=line)
    assert not practice_is_open(practice=practice, at=at_local(MONDAY, 10), line=other_line)
    assert holiday_for(practice=practice, day=MONDAY, line=line).name == "Hotline stays open"
    assert holiday_for(practice=practice, day=MONDAY).name == "Closed everywhere"


def test_practice_holiday_does_not_touch_other_practices(practice, practice_b) -> None:  # type: ignore[no-untyped-def]
    Holiday.objects.create(
        enterprise=practice.enterprise, practice=practice, date=MONDAY, name="Staff training"
    )

    assert not practice_is_open(practice=practice, at=at_local(MONDAY, 10))
    assert holiday_for(practice=practice_b, day=MONDAY) is None


def test_closed_message_prefers_the_holiday_then_the_translation(practice) -> None:  # type: ignore[no-untyped-def]
    AfterHoursTranslation.objects.create(practice=practice, language="es", message="Cerrado.")
    evening = at_local(MONDAY, 20)

    assert closed_message_for(practice=practice, at=at_local(MONDAY, 10)) is None
    assert closed_message_for(practice=practice, at=evening).startswith("We're closed.")
    assert closed_message_for(practice=practice, at=evening, language="es") == "Cerrado."
    assert closed_message_for(practice=practice, at=evening, language="vi").startswith("We're")

    Holiday.objects.create(
        enterprise=practice.enterprise, date=MONDAY, name="Holiday", message="Happy holidays!"
    )
    assert closed_message_for(practice=practice, at=at_local(MONDAY, 10)) == "Happy holidays!"


def test_no_message_when_after_hours_is_off(practice) -> None:  # type: ignore[no-untyped-def]
    practice.after_hours_enabled = False
    practice.save()

    assert closed_message_for(practice=practice, at=at_local(MONDAY, 20)) is None
