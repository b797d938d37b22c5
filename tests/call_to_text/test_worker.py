"""End to end with a real Celery worker (PostgreSQL + Redis; skipped without them): the phone
system's call returns at once, the worker texts the caller, the caller replies."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.test import Client

from messaging.models import Message, MessageStatus, SimulatorNumber
from practices.models import Line
from tests.support import wait_until
from tests.support.call_to_text import CALLER
from tests.support.workers import CeleryWorker
from webhooks.services import call_to_text_url

pytestmark = pytest.mark.django_db(transaction=True)

FINAL = (MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED)


def _final(message_id: str) -> Message:
    found: Message = wait_until(
        lambda: Message.objects.filter(pk=message_id, status__in=FINAL).first(),
        timeout=60,
        what="the text to reach a final status",
    )
    return found


def test_caller_texted_by_the_worker_and_replies(
    sms_worker: Callable[..., CeleryWorker], token: str, line: Line
) -> None:
    sms_worker()
    client = Client()
    response = client.get(call_to_text_url(token), {"CALLER_ID_NUMBER": "8185550142"})
    assert response.status_code == 202
    message = _final(response.json()["message_id"])
    assert message.status == MessageStatus.DELIVERED
    reply = client.post(
        "/simulator/api/inbound",
        json.dumps({"from": CALLER, "to": line.phone_number.as_e164, "body": "Thanks!"}),
        content_type="application/json",
    )
    assert reply.json()["channel_id"] == response.json()["channel_id"]


def test_landline_caller_ends_failed_with_landline(
    sms_worker: Callable[..., CeleryWorker], token: str
) -> None:
    SimulatorNumber.objects.create(number=CALLER, kind=SimulatorNumber.Kind.LANDLINE)
    sms_worker()
    response = Client().post(call_to_text_url(token), {"CALLER_ID_NUMBER": "8185550142"})
    assert response.status_code == 202
    message = _final(response.json()["message_id"])
    assert (message.status, message.error_code) == ("failed", "landline")
