"""The one writer of an outbound message's status (core).

`message_status_apply` moves a status forward along the state machine of `messaging.models`
(`STATUS_RANK` and the `STATUS_REACHABLE_FROM` table beside it), writes the history row and
publishes the change (`messaging.events`) in one transaction. `message_status_report` is what
provider status callbacks call (Twilio's, the simulator's).

Core: imports only models and events; the dispatcher, the simulator and the views call it.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from typing import Any

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .events import MessageStatusChanged, message_status_changed_publish
from .models import (
    STATUS_IMPLIES_SENT,
    STATUS_REACHABLE_FROM,
    ErrorCode,
    Message,
    MessageStatus,
    MessageStatusChange,
)

logger = logging.getLogger(__name__)


def message_status_apply(
    *,
    message_id: uuid.UUID,
    status: str,
    error_code: str = "",
    provider_message_id: str | None = None,
    at: datetime.datetime | None = None,
) -> bool:
    """Move an outbound message's status forward; True when it moved.

    A status that is not ahead of the current one (a late `sent` after `delivered`, a duplicate
    callback) changes nothing. Each step gets a history row and is published once
    (`messaging.events`), in the same transaction. A provider id is stored when the message has
    none yet, even when the status does not move (the provider's callback may beat the record
    of its own answer).
    """
    if status not in STATUS_REACHABLE_FROM:
        raise ValueError(f"Not a status a message can move to: {status!r}")
    if status in (MessageStatus.SENT, MessageStatus.DELIVERED):
        error_code = ""
    elif not error_code:
        error_code = ErrorCode.PROVIDER_ERROR
    at = at or timezone.now()
    fields: dict[str, Any] = {"status": status, "error_code": error_code, "status_changed_at": at}
    if provider_message_id:
        fields["provider_message_id"] = Coalesce(
            F("provider_message_id"), Value(provider_message_id)
        )
    outbound = Message.objects.filter(pk=message_id, direction=Message.Direction.OUTBOUND)
    with transaction.atomic():
        # A status with several ways in locks the row first: two callbacks racing (or a callback
        # and the worker's own record of `sent`) are then applied one after the other, each
        # seeing the other's result (a conditional UPDATE alone would skip a row whose status
        # another transaction is changing). The UPDATE stays conditional for databases without
        # row locks (SQLite).
        previous = None
        reachable = STATUS_REACHABLE_FROM[status]
        if len(reachable) == 1:
            # One way in (`sent`): the conditional UPDATE alone decides, and it waits for a
            # concurrent change of the row like the lock would.
            if outbound.filter(status=reachable[0]).update(**fields):
                previous = reachable[0]
        else:
            for _ in range(3):
                current = outbound.select_for_update().values_list("status", flat=True).first()
                if current not in reachable:
                    break
                if outbound.filter(status=current).update(**fields):
                    previous = current
                    break
        if previous is None:
            if provider_message_id:
                outbound.filter(provider_message_id__isnull=True).update(
                    provider_message_id=provider_message_id
                )
            return False
        steps = [(status, error_code)]
        if previous == MessageStatus.RECEIVED and status in STATUS_IMPLIES_SENT:
            steps.insert(0, (MessageStatus.SENT, ""))
        changes = MessageStatusChange.objects.bulk_create(
            MessageStatusChange(message_id=message_id, status=step, error_code=code, at=at)
            for step, code in steps
        )
        for change in changes:
            message_status_changed_publish(
                MessageStatusChanged(
                    message_id=message_id,
                    change_id=change.pk,
                    status=change.status,
                    error_code=change.error_code,
                    at=at,
                )
            )
    return True


def message_status_report(
    *,
    provider_message_id: str,
    status: str | None,
    error_code: str = "",
    message_id: str | None = None,
) -> bool:
    """A provider's status callback (Twilio's, the simulator's): the message is found by our
    id when the provider echoes it, else by the provider's id. Unknown messages and provider
    statuses that do not move ours are ignored (False)."""
    if status is None:
        return False
    target: uuid.UUID | None = None
    if message_id:
        try:
            target = uuid.UUID(message_id)
        except ValueError:
            target = None
    if target is None and provider_message_id:
        target = (
            Message.objects.filter(
                direction=Message.Direction.OUTBOUND, provider_message_id=provider_message_id
            )
            .values_list("pk", flat=True)
            .first()
        )
    if target is None:
        logger.info(
            "Status %s for unknown provider message %s ignored", status, provider_message_id
        )
        return False
    return message_status_apply(
        message_id=target,
        status=status,
        error_code=error_code,
        provider_message_id=provider_message_id or None,
    )
