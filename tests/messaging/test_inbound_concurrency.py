"""Texts from one phone that arrive at the same moment, on PostgreSQL: the inbound path serializes
them per line and number, so a shared phone gets one prompt, a channel one after-hours reply, and
a retried webhook is stored once."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections

from messaging.models import AfterHoursReply, Message, MpspPrompt
from messaging.services import message_receive_inbound, message_send
from practices.models import Line
from tests.factories import PatientFactory, PracticeFactory, PracticeHoursFactory

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "+18188882222"
THREADS = 6


@pytest.fixture(autouse=True)
def _postgresql_only(transactional_db: None) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (advisory locks): set DATABASE_URL=postgres://… to run it")


def all_at_once(line: Line, sids: list[str], at: datetime.datetime | None = None) -> None:
    barrier = threading.Barrier(len(sids))
    errors: list[BaseException] = []

    def receive(sid: str) -> None:
        try:
            barrier.wait(timeout=30)
            message_receive_inbound(
                to=line.phone_number.as_e164,
                from_=PHONE,
                body=f"text {sid}",
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
        message_send(
            practice=line.practice, to=PHONE, patient=patient, body="Hi", sender_kind="api"
        )

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
