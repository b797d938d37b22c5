"""Holidays that repeat yearly: every "is it open?" answer (the inbound after-hours reply, the
admin's "Open now?", call-to-text's after-hours text all ask practices/hours.py) treats them as
falling on their day and month of every later year."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest

from messaging.models import Message
from messaging.services import message_receive_inbound
from practices.hours import closed_message_for, holiday_for, practice_is_open, practices_open_at
from practices.models import Holiday, Line, Practice
from tests.factories import HolidayFactory, PracticeFactory, PracticeHoursFactory

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
# Christmas 2026 is a Friday, 2027 a Saturday, 2028 a Monday; the practice opens every day.
FIRST = datetime.date(2026, 12, 25)
NEXT_YEAR = datetime.date(2027, 12, 25)


def la(day: datetime.date, hour: int) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=LA)


@pytest.fixture
def practice() -> Practice:
    practice = PracticeFactory(
        timezone="America/Los_Angeles",
        after_hours_enabled=True,
        after_hours_message="We're closed.",
    )
    for weekday in range(7):
        PracticeHoursFactory(
            practice=practice,
            weekday=weekday,
            opens_at=datetime.time(9),
            closes_at=datetime.time(17),
        )
    return practice


def christmas(practice: Practice, *, yearly: bool = True, **kwargs: object) -> Holiday:
    holiday: Holiday = HolidayFactory(
        enterprise=practice.enterprise,
        date=FIRST,
        name="Christmas",
        repeats_yearly=yearly,
        message="Merry Christmas! We're closed today.",
        **kwargs,
    )
    return holiday


def test_a_yearly_holiday_closes_the_practice_on_dec_25_next_year(practice: Practice) -> None:
    holiday = christmas(practice)
    for day in (FIRST, NEXT_YEAR, datetime.date(2028, 12, 25)):
        assert holiday_for(practice=practice, day=day) == holiday
        assert not practice_is_open(practice=practice, at=la(day, 12))
        assert closed_message_for(practice=practice, at=la(day, 12)) == holiday.message
    assert practice_is_open(practice=practice, at=la(NEXT_YEAR - datetime.timedelta(days=1), 12))
    # Not before the year it was made for.
    assert holiday_for(practice=practice, day=datetime.date(2025, 12, 25)) is None


def test_a_one_off_holiday_stays_in_its_year(practice: Practice) -> None:
    christmas(practice, yearly=False)
    assert not practice_is_open(practice=practice, at=la(FIRST, 12))
    assert practice_is_open(practice=practice, at=la(NEXT_YEAR, 12))


def test_this_years_dated_holiday_wins_over_the_yearly_one(practice: Practice) -> None:
    christmas(practice)
    short_day = HolidayFactory(
        enterprise=practice.enterprise,
        date=NEXT_YEAR,
        name="Christmas, short day",
        is_closed=False,
        opens_at=datetime.time(10),
        closes_at=datetime.time(12),
    )
    assert holiday_for(practice=practice, day=NEXT_YEAR) == short_day
    assert practice_is_open(practice=practice, at=la(NEXT_YEAR, 11))
    assert not practice_is_open(practice=practice, at=la(NEXT_YEAR, 13))


def test_a_more_specific_level_still_wins(practice: Practice) -> None:
    christmas(practice)  # the enterprise's, yearly
    open_practice = HolidayFactory(
        enterprise=practice.enterprise,
        practice=practice,
        date=FIRST,
        name="We stay open",
        repeats_yearly=True,
        is_closed=False,
        opens_at=datetime.time(9),
        closes_at=datetime.time(17),
    )
    assert holiday_for(practice=practice, day=NEXT_YEAR) == open_practice
    assert practice_is_open(practice=practice, at=la(NEXT_YEAR, 12))


def test_the_admin_open_now_agrees(practice: Practice) -> None:
    christmas(practice)
    practices = list(Practice.objects.filter(pk=practice.pk).prefetch_related("hours"))
    for at in (la(NEXT_YEAR, 12), la(NEXT_YEAR - datetime.timedelta(days=1), 12)):
        assert practices_open_at(practices=practices, at=at) == {
            practice.pk: practice_is_open(practice=practice, at=at)
        }
    assert practices_open_at(practices=practices, at=la(NEXT_YEAR, 12)) == {practice.pk: False}


def test_a_patient_texting_on_christmas_next_year_gets_the_holiday_message(
    practice: Practice, make_line: Callable[..., Line]
) -> None:
    line = make_line(practice=practice)
    christmas(practice)
    message_receive_inbound(
        to=line.phone_number.as_e164,
        from_="+18185550101",
        body="Are you open?",
        provider_message_id="SM-yearly-1",
        received_at=la(NEXT_YEAR, 12),
    )
    replies = Message.objects.filter(line=line, sender_kind="automation")
    assert list(replies.values_list("body", flat=True)) == ["Merry Christmas! We're closed today."]
