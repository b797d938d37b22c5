"""The one door for automated texts (`messaging.send.automated_send`): a refused confirmation,
prompt or reply is logged and skipped, and rolls back nothing but itself."""

from __future__ import annotations

import pytest
from django.db import transaction

from messaging.models import InboundAutomation, Message, OptOut
from messaging.send import Automation, ToChannel, automated_send
from messaging.services import message_receive_inbound
from practices.models import Line

pytestmark = pytest.mark.django_db

PHONE = "+18185550101"


def text(line: Line, body: str, *, sid: str = "SM1") -> Message:
    return message_receive_inbound(
        to=line.phone_number.as_e164, from_=PHONE, body=body, provider_message_id=sid
    )


def outbound(line: Line) -> list[Message]:
    return list(Message.objects.filter(line=line, direction="outbound"))


def test_a_stop_to_a_switched_off_line_keeps_the_opt_out(line: Line) -> None:
    Line.objects.filter(pk=line.pk).update(is_active=False)
    stop = text(line, "STOP")
    # The confirmation was refused (`line_inactive`); the opt-out and the STOP text stay.
    assert OptOut.objects.filter(line=line, phone=PHONE, keyword="STOP").exists()
    assert Message.objects.filter(pk=stop.pk, direction="inbound", body="STOP").exists()
    assert outbound(line) == []


def test_an_opted_out_patients_text_is_kept(line: Line) -> None:
    InboundAutomation.objects.create(
        practice=line.practice,
        name="Thanks",
        condition=InboundAutomation.Condition.ANY_TEXT,
        reply="Thanks for your text.",
    )
    OptOut.objects.create(line=line, phone=PHONE, keyword="STOP")
    message = text(line, "Can I still ask about my refill?")
    # The automation's reply was refused (`recipient_opted_out`); the patient's text is stored
    # and waits for staff.
    stored = Message.objects.get(pk=message.pk)
    assert (stored.direction, stored.body) == ("inbound", "Can I still ask about my refill?")
    assert stored.channel.needs_action
    assert outbound(line) == []


def test_a_refusal_rolls_back_only_the_send(line: Line) -> None:
    channel = text(line, "Hello").channel
    with transaction.atomic():
        OptOut.objects.create(line=line, phone=PHONE, keyword="STOP")
        refused = automated_send(
            to=ToChannel(channel),
            sender=Automation(Message.Kind.AUTO_REPLY),
            body="We got your text.",
            why="test",
        )
    assert refused is None
    assert OptOut.objects.filter(line=line, phone=PHONE).exists()
    # A keyword confirmation passes the opt-out through the same door.
    confirmed = automated_send(
        to=ToChannel(channel),
        sender=Automation(Message.Kind.KEYWORD_REPLY),
        body="You are unsubscribed.",
        why="test",
    )
    assert confirmed is not None
    assert confirmed.kind == Message.Kind.KEYWORD_REPLY
