"""A caller already texted by the same workflow in the last 10 minutes is not texted again."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import close_old_connections, connection
from django.test import Client

from messaging.models import Message
from tests.support.call_to_text import CALLER, Hit, simulator_texts
from webhooks.models import CallToTextCall, CallToTextWorkflow

pytestmark = pytest.mark.django_db


def _age_calls(minutes: float) -> None:
    CallToTextCall.objects.update(
        created_at=CallToTextCall.objects.get(outcome="texted").created_at
        - datetime.timedelta(minutes=minutes)
    )


def test_second_call_within_ten_minutes_is_not_texted(hit: Hit, token: str, client: Client) -> None:
    first = hit(token, "8185550142")
    assert first.status_code == 202
    again = hit(token, "+18185550142", via="form")  # the same caller, in another form
    assert again.status_code == 200
    assert again.json() == {**first.json(), "deduplicated": True}
    assert Message.objects.count() == 1
    assert len(simulator_texts(client, CALLER)) == 1
    outcomes = list(CallToTextCall.objects.order_by("created_at").values_list("outcome", flat=True))
    assert outcomes == ["texted", "deduplicated"]


def test_just_inside_the_window_is_still_deduplicated(hit: Hit, token: str) -> None:
    hit(token)
    _age_calls(9.9)
    assert hit(token).status_code == 200
    assert Message.objects.count() == 1


def test_after_ten_minutes_the_caller_is_texted_again(hit: Hit, token: str) -> None:
    first = hit(token).json()
    _age_calls(10.1)
    again = hit(token)
    assert again.status_code == 202
    assert again.json()["message_id"] != first["message_id"]
    assert again.json()["channel_id"] == first["channel_id"]  # the same conversation
    assert Message.objects.count() == 2


def test_another_caller_is_texted(hit: Hit, token: str) -> None:
    assert hit(token, "8185550142").status_code == 202
    assert hit(token, "8185550143").status_code == 202


def test_another_workflow_texts_the_same_caller(
    hit: Hit, token: str, make_workflow: Callable[..., Any]
) -> None:
    _, abandoned = make_workflow(kind=CallToTextWorkflow.Kind.ABANDONED_CALL, message="Missed!")
    assert hit(token).status_code == 202
    assert hit(abandoned).status_code == 202
    assert Message.objects.count() == 2


def test_a_refused_call_does_not_count(hit: Hit, token: str, workflow: CallToTextWorkflow) -> None:
    from messaging.models import OptOut

    opt_out = OptOut.objects.create(line=workflow.line, phone=CALLER, keyword="STOP")
    assert hit(token).status_code == 422
    opt_out.delete()
    assert hit(token).status_code == 202


def test_the_window_is_a_setting(hit: Hit, token: str, settings: Any) -> None:
    settings.CALL_TO_TEXT_DEDUPE_SECONDS = 60
    hit(token)
    _age_calls(1.5)
    assert hit(token).status_code == 202


@pytest.mark.django_db(transaction=True)
def test_concurrent_hits_text_once(token: str, workflow: CallToTextWorkflow, settings: Any) -> None:
    """Phone systems retry, and press-5 and hang-up can fire together: hits of one workflow
    for one caller at the same moment send one text (PostgreSQL: real locks)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://…")
    settings.CALL_TO_TEXT_CALLER_RATE_BURST = 100
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    statuses: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        try:
            barrier.wait(timeout=30)
            response = Client().get(
                f"/webhook/call-to-text/{token}/", {"CALLER_ID_NUMBER": "8185550142"}
            )
            with lock:
                statuses.append(response.status_code)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [200] * (threads_count - 1) + [202]
    assert Message.objects.filter(direction="outbound").count() == 1
    assert CallToTextCall.objects.filter(outcome="texted").count() == 1
    assert CallToTextCall.objects.filter(outcome="deduplicated").count() == threads_count - 1


@pytest.mark.django_db(transaction=True)
def test_hits_for_other_callers_do_not_wait(token: str, workflow: CallToTextWorkflow) -> None:
    """Only hits for the same caller are serialised: while another transaction holds one
    caller's lock (a hit in progress), a hit for another caller of the same workflow goes
    through, and a hit for the held caller waits until the holder is done."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://…")
    from django.db import transaction

    from artera.locks import transaction_lock

    held, release = threading.Event(), threading.Event()
    waiting: list[int] = []

    def holder() -> None:
        try:
            with transaction.atomic():
                transaction_lock(f"call-to-text:{workflow.pk}:+18185550142")
                held.set()
                release.wait(timeout=60)
        finally:
            connection.close()

    def same_caller() -> None:
        try:
            response = Client().get(
                f"/webhook/call-to-text/{token}/", {"CALLER_ID_NUMBER": "8185550142"}
            )
            waiting.append(response.status_code)
        finally:
            connection.close()

    holding = threading.Thread(target=holder)
    holding.start()
    assert held.wait(timeout=30)
    blocked = threading.Thread(target=same_caller)
    blocked.start()
    try:
        other = Client().get(f"/webhook/call-to-text/{token}/", {"CALLER_ID_NUMBER": "8185550143"})
        assert other.status_code == 202
        assert waiting == []  # the held caller's hit is still waiting for the lock
    finally:
        release.set()
        holding.join(timeout=60)
        blocked.join(timeout=60)
    assert waiting == [202]
    assert Message.objects.filter(direction="outbound").count() == 2
