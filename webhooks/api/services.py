"""Sending through the integrator APIs: resolve what the request names, then the one send path.

Both APIs end in `messaging.services.message_send`; what is theirs is the tenancy (everything
is looked up within the caller's enterprise) and, for MAPI, the EMR's patient identity.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from channels_app.services import patient_get_or_create_verified
from messaging.models import Message
from messaging.services import Api, Smapi, ToNumber, message_send
from webhooks.models import ApiClient, SmapiKey

from .selectors import practice_and_line_get_for_enterprise, practice_get_for_enterprise


@dataclass(frozen=True)
class PatientIdentity:
    """How the EMR names a patient: its MRN, and the details to add them by if unknown."""

    mrn: str
    first_name: str = ""
    last_name: str = ""
    date_of_birth: datetime.date | None = None


def api_message_send(
    *,
    api_client: ApiClient,
    to: str,
    body: str,
    practice_id: uuid.UUID | None = None,
    location_id: str | None = None,
    line_id: uuid.UUID | None = None,
    patient: PatientIdentity | None = None,
    secure: bool = False,
    callback_url: str = "",
    metadata: dict[str, Any] | None = None,
) -> Message:
    """MAPI: send one text for `api_client`, to a verified patient (by MRN) or a bare number.

    The practice (by id or EMR location id) and line must be the client's enterprise's
    (`unknown_practice`, `unknown_line`); everything else `message_send` checks. A patient added
    for this message is rolled back with it when the send is refused.
    """
    practice, line = practice_and_line_get_for_enterprise(
        enterprise=api_client.enterprise_id,
        practice_id=practice_id,
        location_id=location_id,
        line_id=line_id,
    )
    sender = Api(api_client, callback_url=callback_url, metadata=metadata or {})
    if patient is None:
        return message_send(
            to=ToNumber(practice, to, line=line), sender=sender, body=body, secure=secure
        )
    with transaction.atomic():
        patient_row = patient_get_or_create_verified(
            enterprise=practice.enterprise,
            mrn=patient.mrn,
            first_name=patient.first_name,
            last_name=patient.last_name,
            date_of_birth=patient.date_of_birth,
            phone=to,
        )
        return message_send(
            to=ToNumber(practice, to, line=line, patient=patient_row),
            sender=sender,
            body=body,
            secure=secure,
        )


def smapi_message_send(
    *, smapi_key: SmapiKey, to: str, body: str, practice_id: uuid.UUID
) -> Message:
    """Legacy SMAPI: a plain text from the practice's default line; no webhooks follow."""
    practice = practice_get_for_enterprise(
        enterprise=smapi_key.enterprise_id, practice_id=practice_id
    )
    return message_send(to=ToNumber(practice, to), sender=Smapi(), body=body)
