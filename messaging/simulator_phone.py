"""The simulated patient's phone: a person or a test texts a line through the simulator.

Like a provider's inbound callback, it enters the platform's one inbound path
(`messaging.inbound`), so it sits above it; the simulated carrier it records the text with is
`messaging.simulator`.
"""

from __future__ import annotations

from django.db import transaction

from artera.errors import InvalidInput
from artera.jsonbody import BAD_CHARACTERS, text_is_storable

from .inbound import INBOUND_MAX_LENGTH, message_receive_inbound
from .models import Message, SimulatorText
from .simulator import number_parse


def simulator_patient_texts(*, from_number: str, to_number: str, body: str) -> Message:
    """A patient texts a line: the carrier records it and hands it to the platform's inbound
    path. Refused input (an unknown line, a bad number) leaves no trace on either side. Like a
    real carrier, it carries at most `INBOUND_MAX_LENGTH` characters of a long text."""
    if not isinstance(body, str) or not body.strip():
        raise InvalidInput("Write something to send.", code="empty_body", field="body")
    if not text_is_storable(body):
        raise InvalidInput(BAD_CHARACTERS, code="invalid_characters", field="body")
    body = body[:INBOUND_MAX_LENGTH]
    sender = number_parse(from_number, "from")
    line_number = number_parse(to_number, "to")
    with transaction.atomic():
        text = SimulatorText.objects.create(
            direction=SimulatorText.Direction.FROM_PATIENT,
            from_number=sender,
            to_number=line_number,
            body=body,
            status=SimulatorText.Status.DELIVERED,
        )
        return message_receive_inbound(
            to=line_number,
            from_=sender,
            body=body,
            provider_message_id=text.provider_message_id,
        )
