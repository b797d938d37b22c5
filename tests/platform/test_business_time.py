"""Open seconds between two instants (`practices.hours.BusinessCalendar`): weekly hours in the
practice's timezone, holidays overriding them, always-open practices, DST."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest

from practices.hours import business_calendars
from practices.models import Holiday, PracticeHours
from tests.factories import LineFactory, PracticeFactory

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=CHICAGO)


@pytest.fixture
def clinic(db: None):  # type: ignore[no-untyped-def]
    practice = PracticeFactory(timezone="America/Chicago")
    for weekday in range(5):
        PracticeHours.objects.create(
            practice=practice,
            weekday=weekday,
            opens_at=datetime.time(9),
            closes_at=datetime.time(17),
        )
    return practice


def calendar(practice, line_id=None):  # type: ignore[no-untyped-def]
    factory = business_calendars(
        practices=[practice],
        first_day=datetime.date(2026, 10, 1),
        last_day=datetime.date(2026, 12, 31),
    )
    return factory(practice, line_id)


def test_only_open_hours_count_across_nights_and_weekends(clinic) -> None:  # type: ignore[no-untyped-def]
    cal = calendar(clinic)
    assert cal.open_seconds(at(11, 23, 10), at(11, 23, 11)) == 3600  # Monday
    assert cal.open_seconds(at(11, 23, 16), at(11, 24, 10)) == 2 * 3600  # over the night
    assert cal.open_seconds(at(11, 27, 16), at(11, 30, 9, 30)) == 3600 + 1800  # over a weekend
    assert cal.open_seconds(at(11, 28, 8), at(11, 28, 20)) == 0  # Saturday
    assert cal.open_seconds(at(11, 24, 10), at(11, 23, 10)) == 0  # backwards
    assert cal.business_day_seconds == 8 * 3600


def test_holidays_close_or_shorten_a_day_and_the_most_specific_wins(clinic) -> None:  # type: ignore[no-untyped-def]
    line = LineFactory(practice=clinic)
    enterprise = clinic.enterprise
    Holiday.objects.create(enterprise=enterprise, date=datetime.date(2026, 11, 26), name="Thanks")
    Holiday.objects.create(
        enterprise=enterprise,
        practice=clinic,
        date=datetime.date(2026, 11, 27),
        name="Short day",
        is_closed=False,
        opens_at=datetime.time(10),
        closes_at=datetime.time(12),
    )
    Holiday.objects.create(
        enterprise=enterprise,
        practice=clinic,
        line=line,
        date=datetime.date(2026, 11, 26),
        name="Line open",
        is_closed=False,
        opens_at=datetime.time(9),
        closes_at=datetime.time(10),
    )
    practice_cal = calendar(clinic)
    assert practice_cal.open_seconds(at(11, 26, 0), at(11, 27, 23)) == 2 * 3600
    line_cal = calendar(clinic, line.pk)
    assert line_cal.open_seconds(at(11, 26, 0), at(11, 27, 23)) == 3 * 3600


def test_a_practice_without_hours_is_always_open_also_over_dst(db: None) -> None:
    practice = PracticeFactory(timezone="America/Chicago")
    cal = calendar(practice)
    # 2026-11-01 02:00 CDT falls back to 01:00 CST: that local day has 25 hours.
    start = datetime.datetime(2026, 11, 1, 0, 0, tzinfo=CHICAGO)
    end = datetime.datetime(2026, 11, 2, 0, 0, tzinfo=CHICAGO)
    assert cal.open_seconds(start, end) == 25 * 3600
    assert cal.business_day_seconds == 24 * 3600


def test_a_yearly_holiday_closes_its_day_in_later_years(clinic) -> None:  # type: ignore[no-untyped-def]
    Holiday.objects.create(
        enterprise=clinic.enterprise,
        practice=clinic,
        date=datetime.date(2020, 11, 24),
        name="Founders' day",
        repeats_yearly=True,
    )
    cal = calendar(clinic)
    assert cal.open_seconds(at(11, 24, 0), at(11, 25, 0)) == 0  # a Tuesday, closed
    assert cal.open_seconds(at(11, 23, 0), at(11, 24, 0)) == 8 * 3600
