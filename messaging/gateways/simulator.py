"""The `simulator` backend: hands texts to the in-app carrier (`messaging.simulator`)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpRequest

from artera.errors import InvalidInput
from messaging.models import SimulatorText
from messaging.simulator import simulator_accept

from .base import InboundSms, SendResult, SmsGateway

if TYPE_CHECKING:
    from messaging.models import Message


class SimulatorGateway(SmsGateway):
    name = "simulator"

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

    def find_sent(self, *, message: Message, text: str) -> str | None:
        carried = (
            SimulatorText.objects.filter(
                direction=SimulatorText.Direction.TO_PATIENT, client_reference=str(message.id)
            )
            .order_by("created_at")
            .first()
        )
        return carried.provider_message_id if carried else None

    def verify_request(self, request: HttpRequest) -> bool:
        # The simulator's API is open while the backend is on, and 404 otherwise.
        return bool(self.name == settings.SMS_BACKEND)

    def parse_inbound(self, request: HttpRequest) -> InboundSms:
        """`POST /simulator/api/inbound {"from", "to", "body"}`; the carrier assigns the id when
        it records the text, so `provider_message_id` is empty here."""
        try:
            data = json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput("The body is not valid JSON.", code="invalid_json") from exc
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
