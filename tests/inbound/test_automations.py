"""Inbound message automations (configured per practice in admin) and the inbound hook that the
`patient.response` webhook subscribes to."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from artera.phones import format_us_phone
from channels_app.models import PatientChannel
from messaging import events
from messaging.models import InboundAutomation, Message
from messaging.services import message_receive_inbound
from practices.models import Line
from tests.factories import MembershipFactory, PracticeFactory, PracticeHoursFactory, UserFactory

pytestmark = pytest.mark.django_db

PHONE = "+18185550101"
NOT_MONITORED = "This number is not monitored. Please call {practiceName} at {linePhone}."


def text(
    line: Line, body: str = "Hello", *, sid: str = "SM1", at: datetime.datetime | None = None
) -> Message:
    return message_receive_inbound(
        to=line.phone_number.as_e164,
        from_=PHONE,
        body=body,
        provider_message_id=sid,
        received_at=at,
    )


def automation(line: Line, **fields: object) -> InboundAutomation:
    fields.setdefault("name", "Rule")
    fields.setdefault("condition", InboundAutomation.Condition.ANY_TEXT)
    rule = InboundAutomation(practice=line.practice, **fields)
    rule.full_clean()
    rule.save()
    return rule


def auto_replies(line: Line) -> list[str]:
    return list(
        Message.objects.filter(line=line, sender_kind="automation")
        .order_by("created_at")
        .values_list("body", flat=True)
    )


@pytest.fixture
def one_way_line(make_line: Callable[..., Line]) -> Line:
    line = make_line(practice=PracticeFactory(name="Reminders", is_one_way=True))
    automation(
        line,
        name="Not monitored",
        condition=InboundAutomation.Condition.ONE_WAY,
        reply=NOT_MONITORED,
        close_channel=True,
    )
    return line


def test_a_one_way_practice_replies_and_closes_the_channel(one_way_line: Line) -> None:
    start = datetime.datetime(2026, 11, 23, 15, 0, tzinfo=datetime.UTC)
    message = text(one_way_line, "Can I reschedule?", at=start)

    channel = PatientChannel.objects.get(pk=message.channel_id)
    assert (channel.status, channel.needs_action) == ("closed", False)
    phone = format_us_phone(one_way_line.phone_number)
    expected = f"This number is not monitored. Please call Reminders at {phone}."
    assert auto_replies(one_way_line) == [expected]
    assert channel.messages.filter(body="Can I reschedule?").exists()

    # The next text reopens the conversation and the automation closes it again, but does not
    # answer again within the hour: an auto-responder on the other end can't start a loop.
    text(one_way_line, "Hello?", sid="SM2", at=start + datetime.timedelta(minutes=5))
    channel.refresh_from_db()
    assert channel.status == "closed"
    assert len(auto_replies(one_way_line)) == 1

    text(one_way_line, "Anyone?", sid="SM3", at=start + datetime.timedelta(minutes=61))
    assert len(auto_replies(one_way_line)) == 2


def test_two_auto_responders_do_not_loop(one_way_line: Line) -> None:
    """A patient's phone that auto-answers every text gets one reply per hour from us."""
    start = datetime.datetime(2026, 11, 23, 15, 0, tzinfo=datetime.UTC)
    for i in range(20):
        text(one_way_line, "I'm driving, I'll text you later.", sid=f"SM{i}", at=start)

    assert len(auto_replies(one_way_line)) == 1


def test_the_one_way_condition_needs_a_one_way_practice(line: Line) -> None:
    automation(line, condition=InboundAutomation.Condition.ONE_WAY, close_channel=True)
    message = text(line)
    message.channel.refresh_from_db()
    assert message.channel.status == "open"


def test_keyword_list_assigns_to_a_member(line: Line) -> None:
    biller = MembershipFactory(practice=line.practice).user
    automation(
        line,
        condition=InboundAutomation.Condition.KEYWORDS,
        keywords="billing, invoice\nco-pay",
        assign_to=biller,
        reply="Our billing team will get back to you.",
    )
    start = datetime.datetime(2026, 11, 23, 15, 0, tzinfo=datetime.UTC)
    first = text(line, "A question about my BILLING statement", sid="SM1", at=start)
    first.channel.refresh_from_db()
    assert first.channel.assignee == biller
    assert auto_replies(line) == ["Our billing team will get back to you."]

    # Hours apart, so the once-an-hour reply limit does not hide a match.
    for i, body in enumerate(["what's my co-pay?", "Invoice?", "rebilling is not a match"]):
        text(line, body, sid=f"SMk{i}", at=start + datetime.timedelta(hours=2 * (i + 1)))
    assert len(auto_replies(line)) == 3


def test_outside_hours_condition(make_line: Callable[..., Line]) -> None:
    line = make_line(practice=PracticeFactory(timezone="America/Chicago"))
    PracticeHoursFactory(
        practice=line.practice, weekday=0, opens_at=datetime.time(8), closes_at=datetime.time(17)
    )
    automation(line, condition=InboundAutomation.Condition.OUTSIDE_HOURS, reply="We're closed.")
    chicago = ZoneInfo("America/Chicago")
    text(line, sid="SM1", at=datetime.datetime(2030, 1, 7, 12, tzinfo=chicago))  # Monday noon
    assert auto_replies(line) == []
    text(line, sid="SM2", at=datetime.datetime(2030, 1, 7, 18, tzinfo=chicago))
    assert auto_replies(line) == ["We're closed."]


def test_inactive_and_other_practices_automations_do_not_run(
    line: Line, make_line: Callable[..., Line]
) -> None:
    automation(line, reply="inactive", is_active=False)
    automation(make_line(), reply="another practice")
    text(line)
    assert auto_replies(line) == []


def test_automations_run_in_position_order(line: Line) -> None:
    automation(line, name="second", reply="second", position=2)
    automation(line, name="first", reply="first", position=1)
    text(line)
    assert auto_replies(line) == ["first", "second"]


def test_keywords_skip_the_automations(one_way_line: Line) -> None:
    text(one_way_line, "HELP")
    replies = auto_replies(one_way_line)
    assert len(replies) == 1
    assert "Msg & data rates may apply" in replies[0]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"condition": "keywords", "keywords": " , ", "reply": "x"}, "keywords"),
        ({"condition": "any_text"}, "reply"),
    ],
)
def test_admin_validation(line: Line, fields: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        automation(line, **fields)
    assert field in caught.value.message_dict


def test_the_assignee_must_be_a_member(line: Line) -> None:
    with pytest.raises(ValidationError) as caught:
        automation(line, assign_to=UserFactory())
    assert "assign_to" in caught.value.message_dict


# --- The inbound hook (patient.response subscribes here) ----------------------------------------


@pytest.fixture
def published() -> Iterator[list[events.InboundMessageReceived]]:
    seen: list[events.InboundMessageReceived] = []
    events.on_inbound_message(seen.append)
    yield seen
    events.off_inbound_message(seen.append)


def test_each_conversation_text_is_published_once(
    line: Line, published: list[events.InboundMessageReceived]
) -> None:
    message = text(line, "Running late", sid="SMa")
    text(line, "Running late", sid="SMa")  # the provider retries

    assert [(e.message.pk, e.channel.pk) for e in published] == [(message.pk, message.channel_id)]


def test_keyword_texts_are_not_published(
    line: Line, published: list[events.InboundMessageReceived]
) -> None:
    text(line, "STOP")
    assert published == []


def test_a_failing_handler_rolls_the_text_back(line: Line) -> None:
    def broken(event: events.InboundMessageReceived) -> None:
        raise RuntimeError("webhook outbox unavailable")

    events.on_inbound_message(broken)
    try:
        with pytest.raises(RuntimeError):
            text(line)
    finally:
        events.off_inbound_message(broken)
    assert not Message.objects.filter(direction="inbound").exists()
