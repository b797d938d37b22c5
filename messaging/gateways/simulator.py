"""The `simulator` backend: hands texts to the in-app carrier (`messaging.simulator`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpRequest

from artera.errors import InvalidInput
from artera.jsonbody import json_text_loads
from messaging.models import SimulatorText
from messaging.simulator import CarrierText, simulator_accept, simulator_accept_many

from .base import GatewayError, InboundSms, SendResult, SmsGateway

if TYPE_CHECKING:
    from messaging.models import Message


class SimulatorGateway(SmsGateway):
    """The carrier runs inside the platform and reports statuses by calling the status path
    itself, so it takes no HTTP callbacks (`/webhooks/sms/simulator/` is a 404). Its patients
    text in through its own API (`/simulator/api/inbound`, served only while it is the backend),
    which `parse_inbound` reads."""

    name = "simulator"
    label = "Simulator"

    def send(self, *, message: Message, text: str) -> SendResult:
        carried = simulator_accept(
            from_number=message.from_number,
            to_number=message.to_number,
            body=text,
            reference=str(message.id),
        )
        if settings.SMS_SIMULATOR_LATENCY:
            # The carrier has the text but has not answered yet: the window in which a worker
            # that dies leaves a message the platform does not know was sent.
            time.sleep(settings.SMS_SIMULATOR_LATENCY)
        return SendResult(provider_message_id=carried.provider_message_id)

    def send_batch(self, items: Sequence[tuple[Message, str]]) -> list[SendResult | GatewayError]:
        """The carrier takes the whole group in one hand-over (one INSERT, one report task)."""
        carried = simulator_accept_many(
            [
                CarrierText(
                    from_number=message.from_number,
                    to_number=message.to_number,
                    body=text,
                    reference=str(message.id),
                )
                for message, text in items
            ]
        )
        if settings.SMS_SIMULATOR_LATENCY:
            time.sleep(settings.SMS_SIMULATOR_LATENCY)
        return [SendResult(provider_message_id=text.provider_message_id) for text in carried]

    def find_sent(self, *, message: Message, text: str) -> str | None:
        carried = (
            SimulatorText.objects.filter(
                direction=SimulatorText.Direction.TO_PATIENT, client_reference=str(message.id)
            )
            .order_by("created_at")
            .first()
        )
        return carried.provider_message_id if carried else None

    def parse_inbound(self, request: HttpRequest) -> InboundSms:
        """`POST /simulator/api/inbound {"from", "to", "body"}`; the carrier assigns the id when
        it records the text, so `provider_message_id` is empty here."""
        data = json_text_loads(request.body or b"null", malformed_code="invalid_json")
        if not isinstance(data, dict):
            raise InvalidInput("Send a JSON object: {from, to, body}.", code="invalid_json")
        for field in ("from", "to", "body"):
            if not isinstance(data.get(field), str):
                raise InvalidInput(f"{field} is required.", code="required", field=field)
        return InboundSms(
            from_number=data["from"],
            to_number=data["to"],
            body=data["body"],
            provider_message_id="",
        )
