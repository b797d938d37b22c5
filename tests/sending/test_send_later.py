"""Send later, quiet hours and expiry on the send path, with a frozen clock (time-machine).

The release task (`messaging.schedule.scheduled_release`) is what beat runs every few seconds;
here each test runs it at the moments it cares about, with the clock frozen there.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import transaction

from channels_app.models import PatientChannel
from messaging.models import STATUS_REACHABLE_FROM, Message, MessageStatus, SimulatorText
from messaging.schedule import (
    number_zone_names,
    quiet_hours_release_at,
    recipient_zones,
    scheduled_release,
)
from messaging.services import (
    Api,
    Automation,
    Staff,
    ToChannel,
    ToNumber,
    message_cancel,
    message_receive_inbound,
    message_send,
)
from practices.models import Line, Practice
from tests.factories import HolidayFactory, PatientFactory
from webhooks.models import ApiClient

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
HONOLULU = zoneinfo.ZoneInfo("Pacific/Honolulu")
NY_NUMBER = "+12125550101"  # area code 212: New York
HONOLULU_NUMBER = "+18085550101"  # area code 808: Hawaii
# Friday 20 November 2026, 14:00 UTC: 9:00 in New York, 4:00 in Honolulu.
FRIDAY_9_NY = datetime.datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[Callable[[datetime.datetime], None]]:
    """Freeze the clock at a moment; call again to move it."""
    traveller: list[Any] = []

    def at(moment: datetime.datetime) -> None:
        if traveller:
            traveller.pop().stop()
        travel = time_machine.travel(moment, tick=False)
        travel.start()
        traveller.append(travel)

    yield at
    if traveller:
        traveller.pop().stop()


def carried(message: Message) -> int:
    return SimulatorText.objects.filter(client_reference=str(message.pk)).count()


def history(message: Message) -> list[tuple[str, str]]:
    return list(message.status_history.order_by("at", "id").values_list("status", "error_code"))


def status_of(message: Message) -> tuple[str, str]:
    message.refresh_from_db()
    return message.status, message.error_code


def api_send(run: Callable[..., Any], practice: Practice, **kwargs: Any) -> Message:
    to = kwargs.pop("to", NY_NUMBER)
    sender = kwargs.pop("sender", Api())
    message: Message = run(
        message_send, to=ToNumber(practice, to), sender=sender, body="Reminder", **kwargs
    )
    return message


def release(run: Callable[..., Any]) -> Any:
    return run(scheduled_release)


# --- The state machine --------------------------------------------------------------------------


def test_scheduled_and_canceled_sit_where_the_contract_says() -> None:
    assert STATUS_REACHABLE_FROM[MessageStatus.RECEIVED] == (MessageStatus.SCHEDULED,)
    assert STATUS_REACHABLE_FROM[MessageStatus.CANCELED] == (MessageStatus.SCHEDULED,)
    assert MessageStatus.SCHEDULED in STATUS_REACHABLE_FROM[MessageStatus.FAILED]
    for status in (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED):
        assert MessageStatus.SCHEDULED not in STATUS_REACHABLE_FROM[status]
    assert MessageStatus.SCHEDULED not in STATUS_REACHABLE_FROM


# --- send_at ------------------------------------------------------------------------------------


def test_a_text_with_send_at_waits_scheduled_and_goes_at_that_time_once(
    clock: Callable[[datetime.datetime], None], run: Callable[..., Any], practice: Practice
) -> None:
    clock(FRIDAY_9_NY)
    at = FRIDAY_9_NY + datetime.timedelta(hours=2)
    message = api_send(run, practice, send_at=at)
    assert status_of(message) == ("scheduled", "")
    assert message.send_at == at
    assert message.outbox_due_at is None
    assert history(message) == [("scheduled", "")]

    clock(at - datetime.timedelta(seconds=1))
    assert release(run).released == 0
    assert status_of(message) == ("scheduled", "")
    assert carried(message) == 0

    clock(at)
    assert release(run).released == 1
    assert status_of(message) == ("delivered", "")
    assert history(message) == [
        ("scheduled", ""),
        ("received", ""),
        ("sent", ""),
        ("delivered", ""),
    ]
    assert carried(message) == 1
    assert SimulatorText.objects.get(client_reference=str(message.pk)).created_at >= at

    clock(at + datetime.timedelta(minutes=5))
    assert release(run).released == 0
    assert carried(message) == 1


def test_send_at_now_or_just_past_sends_at_once(
    clock: Callable[[datetime.datetime], None], run: Callable[..., Any], practice: Practice
) -> None:
    clock(FRIDAY_9_NY)
    message = api_send(run, practice, send_at=FRIDAY_9_NY - datetime.timedelta(seconds=30))
    assert status_of(message) == ("delivered", "")
    assert message.send_at is None


def test_release_goes_in_batches_with_one_line_task_per_line_and_batch(
    clock: Callable[[datetime.datetime], None],
    run: Callable[..., Any],
    practice: Practice,
    make_line: Callable[..., Line],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from messaging import schedule

    clock(FRIDAY_9_NY)
    lines = [make_line(practice=practice, is_default=False) for _ in range(3)]
    at = FRIDAY_9_NY + datetime.timedelta(hours=1)
    messages = [
        run(
            message_send,
            to=ToNumber(practice, f"+1212555{index:04d}", line=lines[index % 3]),
            sender=Api(),
            body="Reminder",
            send_at=at,
        )
        for index in range(10)
    ]
    published: list[Any] = []
    real = schedule.dispatch_on_commit
    monkeypatch.setattr(
        schedule, "dispatch_on_commit", lambda line_id: (published.append(line_id), real(line_id))
    )
    clock(at)
    done = run(scheduled_release, batch_size=4)
    assert (done.released, done.more) == (10, False)
    # 3 batches (4 + 4 + 2), each publishing its lines once: never one task per text.
    assert len(published) <= 3 * 3
    assert set(published) == {line.pk for line in lines}
    assert all(status_of(m)[0] == "delivered" for m in messages)
    assert all(carried(m) == 1 for m in messages)


def test_cancel_before_release_never_sends_and_after_release_conflicts(
    clock: Callable[[datetime.datetime], None], run: Callable[..., Any], practice: Practice
) -> None:
    from artera.errors import Conflict

    clock(FRIDAY_9_NY)
    at = FRIDAY_9_NY + datetime.timedelta(hours=1)
    canceled = api_send(run, practice, send_at=at)
    released = api_send(run, practice, send_at=at, to="+12125550102")
    message_cancel(message=canceled)
    assert status_of(canceled) == ("canceled", "")
    with pytest.raises(Conflict):
        message_cancel(message=canceled)  # twice: final already

    clock(at)
    assert release(run).released == 1
    with pytest.raises(Conflict) as refused:
        message_cancel(message=released)
    assert refused.value.code == "not_scheduled"
    assert status_of(canceled) == ("canceled", "")
    assert carried(canceled) == 0
    assert status_of(released) == ("delivered", "")
    assert history(canceled) == [("scheduled", ""), ("canceled", "")]


def test_opting_out_before_release_cancels_the_scheduled_texts(
    clock: Callable[[datetime.datetime], None],
    run: Callable[..., Any],
    practice: Practice,
    line: Line,
) -> None:
    clock(FRIDAY_9_NY)
    at = FRIDAY_9_NY + datetime.timedelta(hours=1)
    message = api_send(run, practice, send_at=at)
    other = api_send(run, practice, send_at=at, to="+12125550102")
    run(
        message_receive_inbound,
        to=line.phone_number.as_e164,
        from_=NY_NUMBER,
        body="STOP",
        provider_message_id="SM-stop-1",
    )
    assert status_of(message) == ("canceled", "opted_out")
    clock(at)
    assert release(run).released == 1
    assert carried(message) == 0
    assert status_of(other) == ("delivered", "")


def test_a_number_opted_out_by_other_means_is_canceled_at_release(
    clock: Callable[[datetime.datetime], None],
    run: Callable[..., Any],
    practice: Practice,
    line: Line,
) -> None:
    from messaging.models import OptOut

    clock(FRIDAY_9_NY)
    at = FRIDAY_9_NY + datetime.timedelta(hours=1)
    message = api_send(run, practice, send_at=at)
    OptOut.objects.create(line=line, phone=NY_NUMBER, keyword="admin")
    clock(at)
    done = release(run)
    assert (done.released, done.canceled) == (0, 1)
    assert status_of(message) == ("canceled", "opted_out")
    assert carried(message) == 0


# --- Expiry -------------------------------------------------------------------------------------


def test_a_scheduled_text_past_valid_until_expires_without_going(
    clock: Callable[[datetime.datetime], None], run: Callable[..., Any], practice: Practice
) -> None:
    """Quiet hours push a 2 a.m. text to 8:00, but the visit it reminds of is at 7:00."""
    practice.quiet_hours = True
    practice.save(update_fields=["quiet_hours"])
    two_am = datetime.datetime(2026, 11, 20, 2, 0, tzinfo=NEW_YORK)
    clock(two_am)
    message = api_send(run, practice, valid_until=two_am.replace(hour=7))
    assert status_of(message) == ("scheduled", "")
    clock(two_am.replace(hour=7))
    done = release(run)
    assert (done.released, done.expired) == (0, 1)
    assert status_of(message) == ("failed", "expired")
    assert history(message) == [("scheduled", ""), ("failed", "expired")]
    clock(two_am.replace(hour=8))
    assert release(run).released == 0
    assert carried(message) == 0


def test_a_text_expired_in_the_backlog_is_failed_by_the_release_and_never_sent(
    clock: Callable[[datetime.datetime], None], practice: Practice, line: Line
) -> None:
    """Texts stored behind a line that has not got to them (their tasks not run yet)."""
    from messaging.services import line_dispatch

    clock(FRIDAY_9_NY)
    with transaction.atomic():
        first = message_send(to=ToNumber(practice, NY_NUMBER), sender=Api(), body="One")
        late = message_send(
            to=ToNumber(practice, "+12125550102"),
            sender=Api(),
            body="Two",
            valid_until=FRIDAY_9_NY + datetime.timedelta(seconds=30),
        )
        transaction.get_connection().run_on_commit.clear()  # the line is busy elsewhere
    clock(FRIDAY_9_NY + datetime.timedelta(seconds=31))
    assert scheduled_release().expired == 1
    assert status_of(late) == ("failed", "expired")
    line_dispatch(line_id=line.pk, max_inline_wait=None)
    assert carried(first) == 1
    assert carried(late) == 0


def test_the_dispatcher_fails_an_expired_text_it_claims(
    clock: Callable[[datetime.datetime], None], practice: Practice, line: Line
) -> None:
    from messaging.services import line_dispatch

    clock(FRIDAY_9_NY)
    with transaction.atomic():
        late = message_send(
            to=ToNumber(practice, NY_NUMBER),
            sender=Api(),
            body="Two",
            valid_until=FRIDAY_9_NY + datetime.timedelta(seconds=30),
        )
        transaction.get_connection().run_on_commit.clear()
    clock(FRIDAY_9_NY + datetime.timedelta(seconds=31))
    done = line_dispatch(line_id=line.pk, max_inline_wait=None)
    assert (done.sent, done.failed) == (0, 1)
    assert status_of(late) == ("failed", "expired")
    assert carried(late) == 0


@pytest.mark.django_db(transaction=True)
def test_expiry_behind_a_paced_line_is_checked_when_the_slot_comes(
    practice: Practice, make_line: Callable[..., Line]
) -> None:
    """A line at 4 texts a second: the 6th text's slot is at least 1.25 s after the first, so
    a text valid for 0.5 s can never reach the carrier; the dispatcher claimed it while it
    was still valid and sees it expire while it waits for its slot."""
    from django.utils import timezone

    from messaging.services import line_dispatch

    line = make_line(practice=practice, rate="4", is_default=False)
    with transaction.atomic():
        ahead = [
            message_send(
                to=ToNumber(practice, f"+121255501{i:02d}", line=line), sender=Api(), body="Hi"
            )
            for i in range(5)
        ]
        late = message_send(
            to=ToNumber(practice, "+12125550199", line=line),
            sender=Api(),
            body="Your visit is at 9:00",
            valid_until=timezone.now() + datetime.timedelta(seconds=0.5),
        )
        transaction.get_connection().run_on_commit.clear()
    done = line_dispatch(line_id=line.pk, max_inline_wait=None)
    assert done.claimed == 6
    assert (done.sent, done.failed) == (5, 1)
    assert status_of(late) == ("failed", "expired")
    assert carried(late) == 0
    assert all(carried(m) == 1 for m in ahead)
    assert Decimal(line.send_rate) == Decimal("4")


# --- Quiet hours: when ------------------------------------------------------------------------


def test_honolulu_and_new_york_numbers_at_the_same_moment(practice: Practice) -> None:
    assert number_zone_names(NY_NUMBER) == ("America/New_York",)
    assert number_zone_names(HONOLULU_NUMBER) == ("Pacific/Honolulu",)
    ny = recipient_zones(patient=None, phone=NY_NUMBER, practice=practice)
    hawaii = recipient_zones(patient=None, phone=HONOLULU_NUMBER, practice=practice)
    assert quiet_hours_release_at(at=FRIDAY_9_NY, zones=ny) == FRIDAY_9_NY
    # 4:00 in Honolulu: held until 8:00 there, 18:00 UTC.
    assert quiet_hours_release_at(at=FRIDAY_9_NY, zones=hawaii) == datetime.datetime(
        2026, 11, 20, 18, 0, tzinfo=UTC
    )
    # 21:30 in New York is 16:30 in Honolulu: the New York number waits for the next morning.
    evening = datetime.datetime(2026, 11, 21, 2, 30, tzinfo=UTC)
    assert quiet_hours_release_at(at=evening, zones=hawaii) == evening
    assert quiet_hours_release_at(at=evening, zones=ny) == datetime.datetime(
        2026, 11, 21, 13, 0, tzinfo=UTC
    )


def test_the_morning_after_follows_daylight_saving_time() -> None:
    # Spring forward: Sunday 8 March 2026, 2:00 → 3:00. Held at 22:00 EST on Saturday, the
    # text goes at 8:00 EDT, 12:00 UTC (not 13:00).
    saturday_night = datetime.datetime(2026, 3, 7, 22, 0, tzinfo=NEW_YORK)
    assert quiet_hours_release_at(at=saturday_night, zones=[NEW_YORK]) == datetime.datetime(
        2026, 3, 8, 12, 0, tzinfo=UTC
    )
    # At 2:30 on that night (a wall time that does not exist; 7:30 UTC): 8:00 EDT too.
    assert quiet_hours_release_at(
        at=datetime.datetime(2026, 3, 8, 7, 30, tzinfo=UTC), zones=[NEW_YORK]
    ) == datetime.datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    # Fall back: Sunday 1 November 2026. Held at 23:00 EDT on Saturday: 8:00 EST, 13:00 UTC.
    halloween = datetime.datetime(2026, 10, 31, 23, 0, tzinfo=NEW_YORK)
    assert quiet_hours_release_at(at=halloween, zones=[NEW_YORK]) == datetime.datetime(
        2026, 11, 1, 13, 0, tzinfo=UTC
    )
    # The repeated hour 1:00 to 2:00 (either one) is still night.
    repeated = datetime.datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 1:30 EST
    assert quiet_hours_release_at(at=repeated, zones=[NEW_YORK]) == datetime.datetime(
        2026, 11, 1, 13, 0, tzinfo=UTC
    )
    # Honolulu has no daylight saving time: 8:00 HST is 18:00 UTC all year.
    for day in (datetime.date(2026, 3, 8), datetime.date(2026, 11, 1)):
        night = datetime.datetime.combine(day, datetime.time(3), tzinfo=HONOLULU)
        assert quiet_hours_release_at(at=night, zones=[HONOLULU]) == datetime.datetime.combine(
            day, datetime.time(18), tzinfo=UTC
        )


def test_an_area_code_across_two_zones_waits_for_both() -> None:
    zones = [zoneinfo.ZoneInfo(name) for name in number_zone_names("+12085550101")]
    assert {str(zone) for zone in zones} == {"America/Boise", "America/Los_Angeles"}
    # 7:30 in Los Angeles is 8:30 in Boise: not yet for the Los Angeles side.
    at = datetime.datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
    assert quiet_hours_release_at(at=at, zones=zones) == datetime.datetime(
        2026, 11, 20, 16, 0, tzinfo=UTC
    )


def test_the_patients_zone_wins_then_the_area_code_then_the_practice(practice: Practice) -> None:
    patient = PatientFactory(enterprise=practice.enterprise, time_zone="Pacific/Honolulu")
    assert recipient_zones(patient=patient, phone=NY_NUMBER, practice=practice) == [HONOLULU]
    unknown_area = "+19995550101"
    assert number_zone_names(unknown_area) == ()
    practice.timezone = "America/Chicago"
    assert recipient_zones(patient=None, phone=unknown_area, practice=practice) == [
        zoneinfo.ZoneInfo("America/Chicago")
    ]


def test_closed_holidays_are_skipped_when_the_practice_says_so(
    clock: Callable[[datetime.datetime], None], run: Callable[..., Any], practice: Practice
) -> None:
    practice.quiet_hours = True
    practice.quiet_hours_skip_holidays = True
    practice.save(update_fields=["quiet_hours", "quiet_hours_skip_holidays"])
    # Wednesday 25 November 2026 at 22:00 in New York; Thanksgiving (26th) is closed, the
    # 27th opens late (an open holiday with special hours is an allowed day).
    HolidayFactory(enterprise=practice.enterprise, date=datetime.date(2026, 11, 26))
    HolidayFactory(
        enterprise=practice.enterprise,
        practice=practice,
        date=datetime.date(2026, 11, 27),
        is_closed=False,
        opens_at=datetime.time(12),
        closes_at=datetime.time(16),
    )
    clock(datetime.datetime(2026, 11, 25, 22, 0, tzinfo=NEW_YORK))
    message = api_send(run, practice)
    assert message.send_at == datetime.datetime(2026, 11, 27, 8, 0, tzinfo=NEW_YORK)
    practice.quiet_hours_skip_holidays = False
    practice.save(update_fields=["quiet_hours_skip_holidays"])
    other = api_send(run, practice, to="+12125550102")
    assert other.send_at == datetime.datetime(2026, 11, 26, 8, 0, tzinfo=NEW_YORK)


# --- Quiet hours: who ---------------------------------------------------------------------------


def test_quiet_hours_are_off_unless_the_practice_or_the_client_opts_in(
    clock: Callable[[datetime.datetime], None],
    run: Callable[..., Any],
    practice: Practice,
    api_client: ApiClient,
) -> None:
    clock(datetime.datetime(2026, 11, 20, 23, 0, tzinfo=NEW_YORK))
    assert status_of(api_send(run, practice, sender=Api(api_client)))[0] == "delivered"
    api_client.quiet_hours = True
    api_client.save(update_fields=["quiet_hours"])
    held = api_send(run, practice, sender=Api(api_client), to="+12125550102")
    assert status_of(held)[0] == "scheduled"
    assert held.send_at == datetime.datetime(2026, 11, 21, 8, 0, tzinfo=NEW_YORK)
    # Another client of the enterprise did not opt in, nor did the practice.
    assert status_of(api_send(run, practice, to="+12125550103"))[0] == "delivered"


def test_a_staff_reply_to_a_patient_who_just_texted_is_never_held(
    clock: Callable[[datetime.datetime], None],
    run: Callable[..., Any],
    practice: Practice,
    line: Line,
) -> None:
    practice.quiet_hours = True
    practice.save(update_fields=["quiet_hours"])
    night = datetime.datetime(2026, 11, 20, 23, 0, tzinfo=NEW_YORK)
    clock(night - datetime.timedelta(minutes=10))
    run(
        message_receive_inbound,
        to=line.phone_number.as_e164,
        from_=NY_NUMBER,
        body="Is the clinic open tomorrow?",
        provider_message_id="SM-in-1",
    )
    channel = PatientChannel.objects.get(phone=NY_NUMBER)
    clock(night)
    reply = run(message_send, to=ToChannel(channel), sender=Staff(), body="Yes, from 8.")
    assert status_of(reply)[0] == "delivered"
    # Two days later the patient has said nothing since: a staff text at night waits.
    clock(night + datetime.timedelta(days=2))
    later = run(message_send, to=ToChannel(channel), sender=Staff(), body="Checking in.")
    assert status_of(later)[0] == "scheduled"
    # An automatic answer (a keyword confirmation, a code) is never held.
    automated = run(
        message_send, to=ToChannel(channel), sender=Automation(), body="Automated notice"
    )
    assert status_of(automated)[0] == "delivered"
