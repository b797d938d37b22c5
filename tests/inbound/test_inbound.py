"""The one inbound path: line by To, channel by From, idempotent on the provider's id."""

from __future__ import annotations

import pytest

from artera.errors import InvalidInput, NotFound
from channels_app.models import PatientChannel
from messaging.models import Message
from messaging.services import message_receive_inbound
from practices.models import Line
from tests.factories import PatientChannelFactory, PatientFactory

pytestmark = pytest.mark.django_db

PATIENT = "+18185550101"


def receive(line: Line, *, sid: str = "SM1", body: str = "Hello?", from_: str = PATIENT) -> Message:
    return message_receive_inbound(
        to=line.phone_number.as_e164, from_=from_, body=body, provider_message_id=sid
    )


def test_a_new_number_gets_an_unverified_channel(line: Line) -> None:
    message = receive(line, from_="(818) 555-0101")
    channel = message.channel
    assert (channel.line, channel.practice, channel.patient, channel.phone) == (
        line,
        line.practice,
        None,
        PATIENT,
    )
    assert channel.needs_action
    assert channel.status == PatientChannel.Status.OPEN
    assert (message.direction, message.sender_kind, message.status) == (
        "inbound",
        "patient",
        "received",
    )
    assert (message.from_number, message.to_number) == (PATIENT, line.phone_number.as_e164)


def test_appends_to_the_existing_conversation_and_reopens_it(line: Line) -> None:
    patient = PatientFactory(enterprise=line.practice.enterprise)
    channel = PatientChannelFactory(
        line=line, patient=patient, phone=PATIENT, status="closed", needs_action=False
    )
    message = receive(line)
    channel.refresh_from_db()
    assert message.channel == channel
    assert message.patient == patient
    assert (channel.status, channel.needs_action) == ("open", True)
    assert channel.last_activity_at == message.status_changed_at
    assert PatientChannel.objects.count() == 1


def test_same_provider_id_twice_is_one_message(line: Line) -> None:
    first = receive(line, sid="SMdup")
    second = receive(line, sid="SMdup", body="a retry of the same webhook")
    assert first.pk == second.pk
    assert Message.objects.filter(direction="inbound").count() == 1


def test_another_line_is_another_conversation(make_line: object) -> None:
    line = make_line()  # type: ignore[operator]
    other = make_line(practice=line.practice, is_default=False)  # type: ignore[operator]
    assert receive(line, sid="SM1").channel != receive(other, sid="SM2").channel


def test_unknown_line(line: Line) -> None:
    with pytest.raises(NotFound) as caught:
        message_receive_inbound(
            to="+13105550199", from_=PATIENT, body="hi", provider_message_id="SMx"
        )
    assert (caught.value.code, caught.value.field) == ("unknown_line", "to")
    assert not Message.objects.exists()


@pytest.mark.parametrize(("field", "kwargs"), [("from", {"from_": "12"}), ("to", {"to": "x"})])
def test_bad_numbers(line: Line, field: str, kwargs: dict[str, str]) -> None:
    arguments = {
        "to": line.phone_number.as_e164,
        "from_": PATIENT,
        "body": "hi",
        "provider_message_id": "SMy",
    } | kwargs
    with pytest.raises(InvalidInput) as caught:
        message_receive_inbound(**arguments)
    assert caught.value.field == field
    assert not PatientChannel.objects.exists()


def test_provider_id_is_required(line: Line) -> None:
    with pytest.raises(InvalidInput) as caught:
        receive(line, sid="")
    assert caught.value.code == "missing_provider_id"
