"""Send later from the inbox's side of the send path (`messaging.replies`): a staff reply at a
chosen moment, the composer's quick choices, and the thread's cancel."""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine

from artera.errors import Conflict, NotFound
from channels_app.models import PatientChannel
from messaging.models import MessageStatus
from messaging.replies import channel_reply, channel_scheduled_cancel, send_later_choices
from practices.models import Line, Practice, PracticeHours
from tests.factories import HolidayFactory, PatientChannelFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
# Friday 20 November 2026, 22:00 in New York.
FRIDAY_NIGHT = datetime.datetime(2026, 11, 20, 22, 0, tzinfo=NEW_YORK)


@pytest.fixture
def frozen() -> Iterator[Any]:
    with time_machine.travel(FRIDAY_NIGHT, tick=False) as traveller:
        yield traveller


@pytest.fixture
def channel(line: Line) -> PatientChannel:
    result: PatientChannel = PatientChannelFactory(line=line, phone="+12125550101")
    return result


def test_choices_are_tomorrow_8_and_the_next_opening(frozen: Any, practice: Practice) -> None:
    for weekday in range(5):  # Monday to Friday, 9:00 to 17:00
        PracticeHours.objects.create(
            practice=practice,
            weekday=weekday,
            opens_at=datetime.time(9),
            closes_at=datetime.time(17),
        )
    HolidayFactory(enterprise=practice.enterprise, date=datetime.date(2026, 11, 23))  # Monday
    choices = send_later_choices(practice=practice, now=FRIDAY_NIGHT)
    assert [moment for _, moment in choices] == [
        datetime.datetime(2026, 11, 21, 8, 0, tzinfo=NEW_YORK),
        datetime.datetime(2026, 11, 24, 9, 0, tzinfo=NEW_YORK),  # Tuesday: Monday is closed
    ]


def test_a_practice_without_hours_offers_tomorrow_only(frozen: Any, practice: Practice) -> None:
    assert len(send_later_choices(practice=practice, now=FRIDAY_NIGHT)) == 1


def test_a_reply_sent_later_waits_and_can_be_canceled_from_its_thread(
    frozen: Any, channel: PatientChannel, line: Line
) -> None:
    user = UserFactory()
    tomorrow = datetime.datetime(2026, 11, 21, 8, 0, tzinfo=NEW_YORK)
    message = channel_reply(
        channel=channel, user=user, body="See you tomorrow", secure=False, send_at=tomorrow
    )
    assert (message.status, message.send_at) == (MessageStatus.SCHEDULED, tomorrow)
    other = PatientChannelFactory(line=line, phone="+12125550102")
    with pytest.raises(NotFound):
        channel_scheduled_cancel(channel=other, message_id=message.pk)
    with pytest.raises(NotFound):
        channel_scheduled_cancel(channel=channel, message_id="not-a-uuid")
    assert channel_scheduled_cancel(channel=channel, message_id=message.pk).status == "canceled"
    with pytest.raises(Conflict):
        channel_scheduled_cancel(channel=channel, message_id=message.pk)
