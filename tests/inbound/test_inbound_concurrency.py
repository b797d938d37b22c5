"""Texts from one phone that arrive at the same moment, on PostgreSQL: the inbound path serializes
them per line and number, so a shared phone gets one prompt, a channel one after-hours reply, a
retried webhook is stored once, answers in odd digits are all kept, and an answered
conversation takes every text."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections

from channels_app.models import PatientChannel
from messaging.models import AfterHoursReply, Message, MpspPrompt
from messaging.services import (
    Api,
    Automation,
    Staff,
    ToChannel,
    ToNumber,
    message_receive_inbound,
    message_send,
)
from practices.models import Line
from tests.factories import PatientFactory, PracticeFactory, PracticeHoursFactory

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "+18188882222"
THREADS = 6


@pytest.fixture(autouse=True)
def _postgresql_only(transactional_db: None) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (advisory locks): set DATABASE_URL=postgres://… to run it")


def all_at_once(
    line: Line,
    sids: list[str],
    at: datetime.datetime | None = None,
    bodies: list[str] | None = None,
) -> None:
    texts = dict(zip(sids, bodies, strict=True)) if bodies else {sid: f"text {sid}" for sid in sids}
    barrier = threading.Barrier(len(sids))
    errors: list[BaseException] = []

    def receive(sid: str) -> None:
        try:
            barrier.wait(timeout=30)
            message_receive_inbound(
                to=line.phone_number.as_e164,
                from_=PHONE,
                body=texts[sid],
                provider_message_id=sid,
                received_at=at,
            )
        except BaseException as exc:  # reported by the test thread below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=receive, args=(sid,)) for sid in sids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def test_a_shared_phone_texting_twice_at_once_gets_one_prompt(line: Line) -> None:
    for name in ("John", "Mary"):
        patient = PatientFactory(enterprise=line.practice.enterprise, first_name=name)
        message_send(to=ToNumber(line.practice, PHONE, patient=patient), sender=Api(), body="Hi")

    all_at_once(line, [f"SM{i}" for i in range(THREADS)])

    prompt = MpspPrompt.objects.get()
    prompts = Message.objects.filter(kind="mpsp_prompt", to_number=PHONE)
    # The first text is held and prompted; the others are answers (unclear: one re-prompt, then
    # the fallback), never a second pending prompt.
    assert prompt.status == "fallback"
    assert prompts.count() == 2
    assert Message.objects.filter(direction="inbound").count() == THREADS


def test_one_after_hours_reply_for_texts_at_once(make_line: Callable[..., Line]) -> None:
    line = make_line(
        practice=PracticeFactory(after_hours_enabled=True, after_hours_message="We're closed.")
    )
    PracticeHoursFactory(practice=line.practice, weekday=0)
    sunday = datetime.datetime(2030, 1, 6, 12, tzinfo=ZoneInfo("America/New_York"))

    all_at_once(line, [f"SM{i}" for i in range(THREADS)], at=sunday)

    assert AfterHoursReply.objects.count() == 1
    assert Message.objects.filter(body="We're closed.").count() == 1


def test_one_webhook_retried_at_once_is_stored_once(line: Line) -> None:
    all_at_once(line, ["SMsame"] * THREADS)
    assert Message.objects.filter(direction="inbound").count() == 1


def family_line(line: Line) -> tuple[PatientChannel, PatientChannel]:
    """John and Mary share PHONE; the line has texted both (the next text is ambiguous)."""
    channels = []
    for name in ("John", "Mary"):
        patient = PatientFactory(enterprise=line.practice.enterprise, first_name=name)
        message = message_send(
            to=ToNumber(line.practice, PHONE, patient=patient), sender=Api(), body="Hi"
        )
        channels.append(message.channel)
    return channels[0], channels[1]


def test_answers_in_other_digits_at_once_are_all_kept(line: Line) -> None:
    family_line(line)
    message_receive_inbound(
        to=line.phone_number.as_e164, from_=PHONE, body="Hi", provider_message_id="SMfirst"
    )
    answers = ["²", "①", "\u0662", "\uff12", "³", "⑵"]

    all_at_once(line, [f"SM{i}" for i in range(len(answers))], bodies=answers)

    prompt = MpspPrompt.objects.get()
    assert prompt.status == "fallback", "unclear answers: one re-prompt, then the fallback"
    stored = Message.objects.filter(direction="inbound").values_list("body", flat=True)
    assert sorted(stored) == sorted(["Hi", *answers])
    assert Message.objects.filter(kind="mpsp_prompt").count() == 2


def test_a_staff_reply_takes_every_text_at_once(line: Line) -> None:
    john, mary = family_line(line)
    message_send(to=ToChannel(john), sender=Staff(), body="John, 10am works?")
    # An automated notice to Mary expects no answer.
    message_send(to=ToChannel(mary), sender=Automation("security_code"), body="Your code is 12345.")

    all_at_once(line, [f"SM{i}" for i in range(THREADS)])

    assert not MpspPrompt.objects.exists()
    inbound = Message.objects.filter(direction="inbound")
    assert inbound.count() == THREADS
    assert set(inbound.values_list("channel_id", flat=True)) == {john.pk}
