"""Sending through the integrator APIs: resolve what the request names, then the one send path.

Both APIs end in `messaging.services.message_send`; what is theirs is the tenancy (everything
is looked up within the caller's enterprise) and, for MAPI, the EMR's patient identity.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from artera.errors import ApplicationError
from channels_app.services import patient_get_or_create_verified
from messaging.models import Message
from messaging.selectors import message_get_for_api_client
from messaging.services import Api, Smapi, ToNumber, message_cancel, message_send
from practices.models import Line, Practice
from webhooks.models import ApiClient, SmapiKey

from .selectors import practice_and_line_get_for_enterprise, practice_get_for_enterprise


@dataclass(frozen=True)
class PatientIdentity:
    """How the EMR names a patient: its MRN, and the details to add them by if unknown."""

    mrn: str
    first_name: str = ""
    last_name: str = ""
    date_of_birth: datetime.date | None = None


_PlaceKey = tuple[uuid.UUID | None, str | None, uuid.UUID | None]


@dataclass
class PlaceCache:
    """The practices and lines one request has looked up, by what named them (practice or
    location id, line id): a batch of texts naming the same practice looks it up once. The
    lookup's refusal (`unknown_practice`, `unknown_line`) is remembered too."""

    api_client: ApiClient
    _found: dict[_PlaceKey, tuple[Practice, Line | None] | ApplicationError] = field(
        default_factory=dict
    )

    def get(
        self, *, practice_id: uuid.UUID | None, location_id: str | None, line_id: uuid.UUID | None
    ) -> tuple[Practice, Line | None]:
        key = (practice_id, location_id, line_id)
        if key not in self._found:
            try:
                self._found[key] = practice_and_line_get_for_enterprise(
                    enterprise=self.api_client.enterprise_id,
                    practice_id=practice_id,
                    location_id=location_id,
                    line_id=line_id,
                )
            except ApplicationError as exc:
                self._found[key] = exc
        found = self._found[key]
        if isinstance(found, ApplicationError):
            raise found
        return found


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
    send_at: datetime.datetime | None = None,
    valid_until: datetime.datetime | None = None,
    places: PlaceCache | None = None,
) -> Message:
    """MAPI: send one text for `api_client`, to a verified patient (by MRN) or a bare number.

    The practice (by id or EMR location id) and line must be the client's enterprise's
    (`unknown_practice`, `unknown_line`); everything else `message_send` checks. A patient added
    for this message is rolled back with it when the send is refused. `places` shares the
    practice and line lookups between the sends of one request.
    """
    places = places or PlaceCache(api_client)
    practice, line = places.get(practice_id=practice_id, location_id=location_id, line_id=line_id)
    sender = Api(api_client, callback_url=callback_url, metadata=metadata or {})
    timing = {"send_at": send_at, "valid_until": valid_until}
    if patient is None:
        return message_send(
            to=ToNumber(practice, to, line=line), sender=sender, body=body, secure=secure, **timing
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
            **timing,
        )


def api_message_cancel(*, api_client: ApiClient, message_id: str) -> Message:
    """MAPI: cancel a scheduled message of the client's enterprise (404 for any other, 409
    `not_scheduled` once it was released)."""
    message = message_get_for_api_client(api_client=api_client, message_id=message_id)
    return message_cancel(message=message)


def api_message_send_each(
    *, api_client: ApiClient, sends: Sequence[Mapping[str, Any] | None]
) -> list[Message | ApplicationError | None]:
    """MAPI's batch: `api_message_send(**arguments)` for each of `sends`, in order, in one
    transaction; a send is refused before it writes anything (or inside the savepoint that holds
    a new patient with it), so a refused send writes nothing and blocks no other; returns each
    send's message or refusal (None for a None in `sends`: an
    item the caller could not parse). Practices and lines are looked up once per batch, and
    every message is handed to the dispatcher after the one commit. The sends are written in
    `_lock_order`, not as listed (the texts to one patient or number keep their order).

    An error that is not a refusal (the database failing) rolls the whole batch back: the
    caller gets an error and no message of the batch is stored, so retrying it is safe.
    """
    places = PlaceCache(api_client)
    results: list[Message | ApplicationError | None] = [None] * len(sends)
    with transaction.atomic():
        for index in sorted(range(len(sends)), key=lambda i: _lock_order(sends[i])):
            arguments = sends[index]
            if arguments is None:
                continue
            try:
                # No savepoint of our own: `message_send` refuses before it writes, and
                # `api_message_send` holds a new patient in a savepoint with the send, so a
                # refusal leaves nothing; and a practice or line that is not the client's
                # costs only its lookup.
                results[index] = api_message_send(api_client=api_client, places=places, **arguments)
            except ApplicationError as exc:
                results[index] = exc
    return results


def _lock_order(arguments: Mapping[str, Any] | None) -> tuple[int, str]:
    """The order a batch writes its sends in: by patient (MRN), then by number, rather than as
    listed. The batch's transaction holds the rows of the conversations and patients it writes
    until it commits; in this order, two batches naming the same ones take those locks in the
    same order instead of deadlocking. The sort is stable, so the texts to one patient, or to
    one number, keep their order in the batch."""
    if arguments is None:
        return (2, "")
    patient = arguments.get("patient")
    if patient is not None:
        return (0, str(patient.mrn))
    return (1, str(arguments["to"]))


def smapi_message_send(
    *, smapi_key: SmapiKey, to: str, body: str, practice_id: uuid.UUID
) -> Message:
    """Legacy SMAPI: a plain text from the practice's default line; no webhooks follow."""
    practice = practice_get_for_enterprise(
        enterprise=smapi_key.enterprise_id, practice_id=practice_id
    )
    return message_send(to=ToNumber(practice, to), sender=Smapi(), body=body)
