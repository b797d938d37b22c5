"""Reads of messages that serve a user or an API client. Every query here is scoped by tenancy."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.db.models import Prefetch

from artera.errors import NotFound

from .models import Message, MessageStatusChange

if TYPE_CHECKING:
    from webhooks.models import ApiClient


def message_get_for_api_client(*, api_client: ApiClient, message_id: str | uuid.UUID) -> Message:
    """A message of the client's enterprise, with its patient and status history.

    A malformed id, a missing message and another enterprise's message are the same 404, so an
    id tells nobody whether it exists elsewhere. A security code's text is the patient's
    secret: its body reads as what it was (`Message.staff_body`), never the code.
    """
    try:
        pk = message_id if isinstance(message_id, uuid.UUID) else uuid.UUID(str(message_id))
    except ValueError:
        pk = None
    message = (
        Message.objects.select_related("patient")
        .prefetch_related(
            Prefetch("status_history", queryset=MessageStatusChange.objects.order_by("at", "id"))
        )
        .filter(pk=pk)
        .filter(practice__enterprise_id=api_client.enterprise_id)
        .first()
        if pk is not None
        else None
    )
    if message is None:
        raise NotFound("No message with this id.", code="not_found")
    message.body = message.staff_body
    return message
