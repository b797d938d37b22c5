"""message_send: validation, refusals, channels, and the whole trip on the simulator (eager)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from artera.errors import ApplicationError, InvalidInput, NotFound, Refused
from channels_app.models import Patient, PatientChannel
from messaging.models import (
    ErrorCode,
    Message,
    MessageStatus,
    MessageStatusChange,
    OptOut,
    SimulatorNumber,
    SimulatorText,
)
from messaging.services import Api, Staff, ToChannel, ToNumber, message_send
from practices.models import Line
from tests.factories import PatientFactory, PatientPhoneFactory, PracticeFactory, UserFactory

pytestmark = pytest.mark.django_db

PATIENT_PHONE = "+18185550101"


def history(message: Message) -> list[tuple[str, str]]:
    return list(message.status_history.order_by("at", "id").values_list("status", "error_code"))


def send(
    line: Line,
    *,
    to: str = PATIENT_PHONE,
    body: str = "Hello",
    patient: Patient | None = None,
    secure: bool = False,
) -> Message:
    return message_send(
        to=ToNumber(line.practice, to, line=line, patient=patient),
        sender=Api(),
        body=body,
        secure=secure,
    )


def test_stored_as_received_and_sent_after_commit(
    line: Line, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = send(line, to="(818) 555-0101")
    message.refresh_from_db()
    assert message.status == MessageStatus.RECEIVED
    assert message.to_number == PATIENT_PHONE
    assert message.from_number == line.phone_number.as_e164
    assert history(message) == [("received", "")]
    assert not SimulatorText.objects.exists()  # nothing leaves before the commit

    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:
            callback()
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert history(message) == [("received", ""), ("sent", ""), ("delivered", "")]
    carried = SimulatorText.objects.get()
    assert message.provider_message_id == carried.provider_message_id
    assert (carried.to_number, carried.from_number, carried.body) == (
        PATIENT_PHONE,
        line.phone_number.as_e164,
        "Hello",
    )


@pytest.mark.parametrize(
    ("kind", "status", "error_code"),
    [
        (SimulatorNumber.Kind.LANDLINE, MessageStatus.FAILED, ErrorCode.LANDLINE),
        (SimulatorNumber.Kind.UNREACHABLE, MessageStatus.UNDELIVERED, ErrorCode.UNREACHABLE),
    ],
)
def test_undeliverable_numbers(
    line: Line,
    kind: str,
    status: str,
    error_code: str,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    SimulatorNumber.objects.create(number=PATIENT_PHONE, kind=kind)
    with django_capture_on_commit_callbacks(execute=True):
        message = send(line)
    message.refresh_from_db()
    assert (message.status, message.error_code) == (status, error_code)
    assert history(message) == [("received", ""), ("sent", ""), (status, error_code)]


@pytest.mark.parametrize(
    ("to", "code"),
    [
        ("+442071838750", "invalid_phone"),
        ("555-1234", "invalid_phone"),
        ("call me", "invalid_phone"),
    ],
)
def test_bad_numbers_are_refused_with_nothing_written(line: Line, to: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        send(line, to=to)
    assert (caught.value.code, caught.value.field, caught.value.http_status) == (code, "to", 400)
    assert not Message.objects.exists()
    assert not PatientChannel.objects.exists()


@pytest.mark.parametrize(
    ("body", "code"), [("", "empty_body"), ("   ", "empty_body"), ("x" * 1601, "body_too_long")]
)
def test_bad_bodies(line: Line, body: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        send(line, body=body)
    assert caught.value.code == code
    assert caught.value.as_dict()["error"]["field"] == "body"
    assert not Message.objects.exists()


def test_body_of_1600_characters_is_fine(
    line: Line, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        message = send(line, body="x" * 1600)
    assert message.segments == 11  # ceil(1600 / 153)


def test_opted_out_number_is_refused(line: Line) -> None:
    OptOut.objects.create(line=line, phone=PATIENT_PHONE, keyword="STOP")
    with pytest.raises(Refused) as caught:
        send(line, to="8185550101")
    assert (caught.value.code, caught.value.http_status) == ("recipient_opted_out", 422)
    assert not Message.objects.exists()


def test_opt_out_is_per_line(make_line: Callable[..., Line]) -> None:
    line = make_line()
    other = make_line(practice=line.practice, is_default=False)
    OptOut.objects.create(line=other, phone=PATIENT_PHONE)
    assert send(line).status == MessageStatus.RECEIVED


def test_default_line_is_used(line: Line) -> None:
    message = message_send(to=ToNumber(line.practice, PATIENT_PHONE), sender=Api(), body="Hi")
    assert message.line == line


def test_practice_without_default_line(db: None) -> None:
    practice = PracticeFactory()
    with pytest.raises(Refused) as caught:
        message_send(to=ToNumber(practice, PATIENT_PHONE), sender=Api(), body="Hi")
    assert caught.value.code == "no_default_line"


def test_line_of_another_practice_is_unknown(make_line: Callable[..., Line]) -> None:
    line, foreign = make_line(), make_line()
    with pytest.raises(NotFound) as caught:
        message_send(
            to=ToNumber(line.practice, PATIENT_PHONE, line=foreign), sender=Api(), body="Hi"
        )
    assert (caught.value.code, caught.value.field) == ("unknown_line", "line_id")


def test_inactive_line_is_refused(make_line: Callable[..., Line]) -> None:
    line = make_line(is_active=False)
    with pytest.raises(Refused) as caught:
        send(line)
    assert caught.value.code == "line_inactive"


def test_unverified_channel_for_a_bare_number(line: Line) -> None:
    first = send(line)
    second = send(line, to="818-555-0101")
    assert first.channel == second.channel
    channel = first.channel
    assert (channel.patient, channel.phone, channel.line) == (None, PATIENT_PHONE, line)
    assert not channel.is_verified


def test_verified_patient_gets_their_own_channel(line: Line) -> None:
    patient = PatientFactory(enterprise=line.practice.enterprise)
    PatientPhoneFactory(patient=patient, number=PATIENT_PHONE)
    bare = send(line)
    verified = send(line, patient=patient)
    assert verified.channel != bare.channel
    assert verified.channel.patient == patient
    assert verified.channel.is_verified
    assert verified.patient == patient


def test_patient_of_another_enterprise_is_unknown(line: Line) -> None:
    stranger = PatientFactory()  # another enterprise
    with pytest.raises(NotFound) as caught:
        send(line, patient=stranger)
    assert caught.value.code == "unknown_patient"
    assert not Message.objects.exists()


def test_secure_needs_a_verified_patient(line: Line) -> None:
    unverified = PatientFactory(enterprise=line.practice.enterprise, mrn=None, is_verified=False)
    for patient in (None, unverified):
        with pytest.raises(Refused) as caught:
            send(line, patient=patient, secure=True)
        assert (caught.value.code, caught.value.field) == (
            "secure_requires_verified_patient",
            "secure",
        )


def test_secure_message_sends_only_a_notice(
    line: Line, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    patient = PatientFactory(enterprise=line.practice.enterprise)
    with django_capture_on_commit_callbacks(execute=True):
        message = send(line, patient=patient, secure=True, body="Your biopsy results are in.")
    carried = SimulatorText.objects.get()
    assert "biopsy" not in carried.body
    assert line.practice.name in carried.body
    # The link is an unguessable token, not the message's id (tests/portal).
    assert str(message.id) not in carried.body
    assert "/secure/" in carried.body
    assert message.body == "Your biopsy results are in."


def test_reply_in_a_channel(
    line: Line, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        channel = send(line).channel
    staff = UserFactory(first_name="Dana")
    with django_capture_on_commit_callbacks(execute=True):
        reply = message_send(
            to=ToChannel(channel), sender=Staff(staff), body="Thanks, {staffFirstName}"
        )
    assert (reply.channel, reply.line, reply.to_number) == (channel, line, PATIENT_PHONE)
    assert reply.body == "Thanks, Dana"
    assert reply.sender_user == staff


def test_channel_and_practice_together_is_a_programming_error(line: Line) -> None:
    channel = send(line).channel
    with pytest.raises(TypeError):
        ToChannel(channel, practice=line.practice)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        message_send(  # type: ignore[call-arg]
            to=ToChannel(channel), practice=line.practice, body="x", sender=Staff()
        )


def test_outbound_moves_the_channel_to_the_top(line: Line) -> None:
    first = send(line)
    before = PatientChannel.objects.get(pk=first.channel_id).last_activity_at
    send(line)
    assert PatientChannel.objects.get(pk=first.channel_id).last_activity_at > before


def test_errors_carry_the_contract_shape(line: Line) -> None:
    with pytest.raises(ApplicationError) as caught:
        send(line, to="nope")
    assert caught.value.as_dict() == {
        "error": {
            "code": "invalid_phone",
            "message": caught.value.message,
            "field": "to",
        }
    }
    assert caught.value.message.startswith("Enter a valid US phone number")


def test_send_path_query_budget(
    line: Line, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    """Storing a message stays a handful of queries (the benchmark issue builds on this)."""
    send(line)  # the channel exists from now on
    with CaptureQueriesContext(connection) as queries:
        send(line)
    assert len(queries) <= 8, [q["sql"] for q in queries.captured_queries]


def test_history_has_one_row_per_step(
    line: Line, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        message = send(line)
    assert MessageStatusChange.objects.filter(message=message).count() == 3


def test_the_stored_row_is_the_one_save_would_write(
    line: Line, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    """The message and its first history step go in together (one statement on PostgreSQL):
    every field as given, `created_at` filled in, one `received` step at the status time, and
    the returned object is a saved row (a later save updates it)."""
    metadata = {"appointment": {"id": "A-17", "when": ["2030-01-07", 9]}, "note": "café ✓"}
    with django_capture_on_commit_callbacks(execute=False):
        message = message_send(
            to=ToNumber(line.practice, PATIENT_PHONE, line=line),
            sender=Api(callback_url="https://emr.example.org/status", metadata=metadata),
            body="Hello {practiceName}",
        )
    stored = Message.objects.get(pk=message.pk)
    assert stored.created_at is not None
    assert stored.created_at == message.created_at
    assert stored.metadata == metadata
    assert stored.callback_url == "https://emr.example.org/status"
    assert stored.body == message.body == f"Hello {line.practice.name}"
    assert stored.channel_id == message.channel_id
    steps = list(stored.status_history.values_list("status", "error_code", "at"))
    assert steps == [(MessageStatus.RECEIVED, "", stored.status_changed_at)]

    assert not message._state.adding
    message.body = "Changed"
    message.save(update_fields=["body"])
    assert Message.objects.filter(pk=message.pk).count() == 1
