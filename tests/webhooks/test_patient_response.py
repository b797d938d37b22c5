"""`patient.response`: a patient's text in a conversation where an API client has texted goes to
that client, naming the API message it answers."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from standardwebhooks import Webhook

from messaging.models import Message
from messaging.services import Staff, message_receive_secure_reply
from messaging.simulator_phone import simulator_patient_texts
from practices.models import Line
from tests.support import Receiver
from tests.support.webhooks import PATIENT
from webhooks.models import WebhookDelivery
from webhooks.services import ApiClientCredentials

pytestmark = pytest.mark.django_db


def test_a_reply_to_an_api_message(
    send: Callable[..., Message],
    run: Callable[..., Any],
    receiver: Receiver,
    line: Line,
    credentials: ApiClientCredentials,
) -> None:
    send(body="First reminder")
    latest = send(body="Second reminder")
    receiver.requests.clear()
    reply = run(
        simulator_patient_texts,
        from_number=PATIENT,
        to_number=line.phone_number.as_e164,
        body="Can I come at 10 instead?",
    )
    (request,) = receiver.requests
    payload = Webhook(credentials.webhook_secret).verify(request.body, request.headers)
    assert payload["type"] == "patient.response"
    data = payload["data"]
    assert data == {
        "message_id": str(reply.pk),
        "channel_id": str(latest.channel_id),
        "patient_id": None,
        "from": PATIENT,
        "body": "Can I come at 10 instead?",
        "secure": False,
        "in_reply_to": str(latest.pk),
        "at": data["at"],
    }
    assert payload["timestamp"] == data["at"]
    delivery = WebhookDelivery.objects.get(event_type="patient.response")
    assert delivery.status == "delivered"


def test_no_webhook_for_a_conversation_without_api_messages(
    send: Callable[..., Message], run: Callable[..., Any], receiver: Receiver, line: Line
) -> None:
    send(sender=Staff())
    run(
        simulator_patient_texts,
        from_number=PATIENT,
        to_number=line.phone_number.as_e164,
        body="Thanks",
    )
    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()


def test_keywords_are_not_responses(
    send: Callable[..., Message], run: Callable[..., Any], receiver: Receiver, line: Line
) -> None:
    send()
    receiver.requests.clear()
    run(
        simulator_patient_texts,
        from_number=PATIENT,
        to_number=line.phone_number.as_e164,
        body="STOP",
    )
    assert [
        r.json()["type"] for r in receiver.requests if r.json()["type"] != "message.status"
    ] == []


def test_a_secure_portal_reply_says_secure(
    send: Callable[..., Message], run: Callable[..., Any], receiver: Receiver
) -> None:
    sent = send()
    receiver.requests.clear()
    reply = run(
        message_receive_secure_reply,
        channel=sent.channel,
        body="My answer, privately",
        reply_key=str(uuid.uuid4()),
    )
    (request,) = receiver.requests
    data = request.json()["data"]
    assert (data["message_id"], data["secure"], data["in_reply_to"]) == (
        str(reply.pk),
        True,
        str(sent.pk),
    )
