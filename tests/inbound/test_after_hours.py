"""The after-hours auto-response, judged at a fixed instant (`received_at`): weekly hours in the
practice's own timezone, holidays at enterprise, practice and line level (a holiday's own message
wins), the patient's language, and at most one per channel per 12 hours."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest

from messaging.models import AfterHoursReply, Message
from messaging.services import message_receive_inbound
from practices.models import Line, Practice
from tests.factories import (
    AfterHoursTranslationFactory,
    HolidayFactory,
    PatientChannelFactory,
    PatientFactory,
    PracticeFactory,
    PracticeHoursFactory,
)

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
PHONE = "+18185550101"
CLOSED = "{practiceName} is closed. We'll answer when we open at 9am."
# 2030-01-07 is a Monday.
MONDAY = datetime.date(2030, 1, 7)


def la(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=LA)


@pytest.fixture
def practice() -> Practice:
    """Open Monday to Friday, 9 to 5, in Los Angeles (UTC-8 in January)."""
    practice = PracticeFactory(
        name="Westside Clinic",
        timezone="America/Los_Angeles",
        after_hours_enabled=True,
        after_hours_message=CLOSED,
    )
    for weekday in range(5):
        PracticeHoursFactory(
            practice=practice,
            weekday=weekday,
            opens_at=datetime.time(9),
            closes_at=datetime.time(17),
        )
    return practice


@pytest.fixture
def clinic_line(practice: Practice, make_line: Callable[..., Line]) -> Line:
    return make_line(practice=practice)


class Phone:
    def __init__(self, line: Line, number: str = PHONE):
        self.line, self.number, self.sid = line, number, 0

    def texts(self, at: datetime.datetime, body: str = "Hello?") -> Message:
        self.sid += 1
        return message_receive_inbound(
            to=self.line.phone_number.as_e164,
            from_=self.number,
            body=body,
            provider_message_id=f"SM{self.number}-{self.sid}",
            received_at=at,
        )

    def auto_replies(self) -> list[str]:
        return list(
            Message.objects.filter(line=self.line, to_number=self.number, sender_kind="automation")
            .order_by("created_at")
            .values_list("body", flat=True)
        )


def test_open_hours_are_the_practices_local_hours(clinic_line: Line) -> None:
    phone = Phone(clinic_line)
    # 10:00 in Los Angeles is 18:00 UTC: open there, although 18:00 is after closing in UTC.
    phone.texts(la(MONDAY, 10))
    phone.texts(la(MONDAY, 16, 59))
    assert phone.auto_replies() == []


def test_outside_hours_the_auto_response_goes_out(clinic_line: Line) -> None:
    phone = Phone(clinic_line)
    # 20:00 on Monday in Los Angeles is already Tuesday 04:00 UTC.
    message = phone.texts(la(MONDAY, 20))

    assert phone.auto_replies() == ["Westside Clinic is closed. We'll answer when we open at 9am."]
    reply = AfterHoursReply.objects.get()
    assert reply.channel == message.channel
    assert reply.message.sender_kind == "automation"
    assert reply.sent_at == la(MONDAY, 20)
    message.channel.refresh_from_db()
    assert message.channel.needs_action, "staff still answer it when they open"


def test_at_most_once_per_channel_per_12_hours(clinic_line: Line) -> None:
    phone = Phone(clinic_line)
    saturday = MONDAY + datetime.timedelta(days=5)
    phone.texts(la(saturday, 8))
    phone.texts(la(saturday, 8, 5))
    phone.texts(la(saturday, 19, 59))
    assert len(phone.auto_replies()) == 1
    phone.texts(la(saturday, 20, 1))
    assert len(phone.auto_replies()) == 2

    # Another conversation gets its own.
    other = Phone(clinic_line, "+18185550102")
    other.texts(la(saturday, 20, 2))
    assert len(other.auto_replies()) == 1


@pytest.mark.parametrize("level", ["enterprise", "practice", "line"])
def test_a_holidays_own_message_wins(clinic_line: Line, level: str) -> None:
    practice = clinic_line.practice
    christmas = datetime.date(2030, 12, 25)  # a Wednesday
    HolidayFactory(
        enterprise=practice.enterprise,
        practice=practice if level != "enterprise" else None,
        line=clinic_line if level == "line" else None,
        date=christmas,
        name="Christmas",
        message="Merry Christmas from {practiceName}! We're closed today.",
    )
    phone = Phone(clinic_line)
    phone.texts(la(christmas, 10))
    assert phone.auto_replies() == ["Merry Christmas from Westside Clinic! We're closed today."]


def test_a_holiday_without_a_message_uses_the_after_hours_message(clinic_line: Line) -> None:
    practice = clinic_line.practice
    HolidayFactory(
        enterprise=practice.enterprise, practice=practice, date=MONDAY, name="Staff training"
    )
    phone = Phone(clinic_line)
    phone.texts(la(MONDAY, 10))
    assert phone.auto_replies() == ["Westside Clinic is closed. We'll answer when we open at 9am."]


def test_the_holiday_date_is_the_practices_local_date(clinic_line: Line) -> None:
    practice = clinic_line.practice
    tuesday = MONDAY + datetime.timedelta(days=1)
    HolidayFactory(enterprise=practice.enterprise, date=tuesday, message="Closed today.")
    phone = Phone(clinic_line)
    # Monday 16:30 in Los Angeles is Tuesday 00:30 UTC: still Monday (open) for the practice.
    phone.texts(la(MONDAY, 16, 30))
    assert phone.auto_replies() == []
    phone.texts(la(tuesday, 16, 30))
    assert phone.auto_replies() == ["Closed today."]


def test_another_lines_holiday_does_not_close_this_line(
    clinic_line: Line, make_line: Callable[..., Line]
) -> None:
    practice = clinic_line.practice
    other = make_line(practice=practice, is_default=False)
    HolidayFactory(
        enterprise=practice.enterprise, practice=practice, line=other, date=MONDAY, message="x"
    )
    phone = Phone(clinic_line)
    phone.texts(la(MONDAY, 10))
    assert phone.auto_replies() == []


@pytest.mark.parametrize(
    ("language", "expected"),
    [("es", "Estamos cerrados."), ("fr", "Westside Clinic is closed.")],
)
def test_in_the_patients_language_when_translated(
    clinic_line: Line, language: str, expected: str
) -> None:
    practice = clinic_line.practice
    AfterHoursTranslationFactory(practice=practice, language="es", message="Estamos cerrados.")
    patient = PatientFactory(enterprise=practice.enterprise, preferred_language=language)
    PatientChannelFactory(line=clinic_line, patient=patient, phone=PHONE)
    phone = Phone(clinic_line)
    phone.texts(la(MONDAY, 22))
    assert phone.auto_replies()[0].startswith(expected)


def test_no_auto_response_when_it_is_switched_off(clinic_line: Line) -> None:
    practice = clinic_line.practice
    practice.after_hours_enabled = False
    practice.save(update_fields=["after_hours_enabled"])
    phone = Phone(clinic_line)
    phone.texts(la(MONDAY, 22))
    assert phone.auto_replies() == []
