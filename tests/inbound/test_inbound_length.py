"""Inbound texts are bounded: a body longer than carriers deliver (1,600 characters) is cut to
that length, as the carriers do, and stored; it is never refused and never a 500, whichever
provider hands it over."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from artera.errors import InvalidInput
from messaging.models import Message, SimulatorText
from messaging.services import INBOUND_MAX_LENGTH, message_receive_inbound
from practices.models import Line
from tests.support.twilio import AUTH_TOKEN, INBOUND_PATH, PUBLIC

pytestmark = pytest.mark.django_db

PATIENT = "+18185550101"
# Not one repeated letter: the stored text must be the start of what was sent, in order.
LONG = "".join(f"{i:05d} " for i in range(2000))[:10_000]


def receive(line: Line, body: str, sid: str = "SM1") -> Message:
    return message_receive_inbound(
        to=line.phone_number.as_e164, from_=PATIENT, body=body, provider_message_id=sid
    )


def test_the_limit_is_what_carriers_deliver() -> None:
    assert INBOUND_MAX_LENGTH == 1600


def test_a_text_up_to_the_limit_is_stored_whole(line: Line) -> None:
    body = LONG[:INBOUND_MAX_LENGTH]
    assert receive(line, body).body == body


def test_a_longer_text_is_cut_to_the_limit_and_stored(line: Line) -> None:
    message = receive(line, LONG)
    message.refresh_from_db()
    assert message.body == LONG[:INBOUND_MAX_LENGTH]
    assert message.segments == 11  # 1,600 GSM-7 characters: 153 a segment


def test_a_long_text_of_emoji_is_cut_by_characters(line: Line) -> None:
    message = receive(line, "🙂" * 5000)
    message.refresh_from_db()
    assert message.body == "🙂" * INBOUND_MAX_LENGTH
    assert message.encoding == "ucs2"


def test_a_nul_character_is_refused_cleanly(line: Line) -> None:
    with pytest.raises(InvalidInput) as caught:
        receive(line, "hi\x00there")
    assert caught.value.code == "invalid_body"
    assert not Message.objects.exists()


def test_10000_characters_from_the_simulator_api(client: Client, line: Line, settings: Any) -> None:
    settings.SMS_BACKEND = "simulator"
    response = client.post(
        "/simulator/api/inbound",
        data=json.dumps({"from": PATIENT, "to": line.phone_number.as_e164, "body": LONG}),
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    assert response.json()["body"] == LONG[:INBOUND_MAX_LENGTH]
    message = Message.objects.get(direction="inbound")
    assert message.body == LONG[:INBOUND_MAX_LENGTH]
    # The simulated carrier carried what a real one would.
    carried = SimulatorText.objects.get(direction=SimulatorText.Direction.FROM_PATIENT)
    assert carried.body == LONG[:INBOUND_MAX_LENGTH]


def test_10000_characters_from_a_signed_twilio_callback(
    client: Client, line: Line, settings: Any
) -> None:
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC
    params = {
        "MessageSid": "SM" + "c" * 32,
        "From": PATIENT,
        "To": line.phone_number.as_e164,
        "Body": LONG,
    }
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + INBOUND_PATH, params)
    response = client.post(INBOUND_PATH, params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert Message.objects.get(direction="inbound").body == LONG[:INBOUND_MAX_LENGTH]
