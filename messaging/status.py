"""The one writer of an outbound message's status (core).

`message_statuses_apply` moves statuses forward along the state machine of `messaging.models`
(`STATUS_RANK` and the `STATUS_REACHABLE_FROM` table beside it), writes the history rows and
publishes the changes (`messaging.events`) in one transaction, for one message or a batch (the
dispatcher records `sent` for every text of a batch at once; `message_status_apply` is the
one-message form). `message_status_report` / `message_status_reports_apply` are what provider
status callbacks call (Twilio's one by one, the simulator's in batches).

Core: imports only models and events; the dispatcher, the simulator and the views call it.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Case, F, Value, When
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


@dataclass(frozen=True)
class StatusUpdate:
    """News about one outbound message: move it to `status` (with `error_code`), and remember
    the provider's id for it when it has none yet."""

    message_id: uuid.UUID
    status: str
    error_code: str = ""
    provider_message_id: str | None = None


def message_status_apply(
    *,
    message_id: uuid.UUID,
    status: str,
    error_code: str = "",
    provider_message_id: str | None = None,
    at: datetime.datetime | None = None,
) -> bool:
    """Move one outbound message's status forward; True when it moved (see
    `message_statuses_apply`)."""
    update = StatusUpdate(message_id, status, error_code, provider_message_id)
    return bool(message_statuses_apply([update], at=at))


def message_statuses_apply(
    updates: Sequence[StatusUpdate], *, at: datetime.datetime | None = None
) -> set[uuid.UUID]:
    """Move outbound messages' statuses forward; returns the ids of those that moved.

    A status that is not ahead of the current one (a late `sent` after `delivered`, a duplicate
    callback) changes nothing; updates of the same message apply in order. Each step gets a
    history row and is published once (`messaging.events`), all in one transaction. A provider
    id is stored when the message has none yet, even when the status does not move (the
    provider's callback may beat the record of its own answer).

    The rows are locked first (in id order, so two batches never deadlock): two callbacks
    racing, or a callback and the worker's own record of `sent`, are then applied one after the
    other, each seeing the other's result. The UPDATEs stay conditional on the status read, for
    databases without row locks (SQLite). A batch costs the same few statements as one message:
    the lock, one UPDATE per (old status, new status) pair, the history rows, the subscribers'
    outbox rows.
    """
    for update in updates:
        if update.status not in STATUS_REACHABLE_FROM:
            raise ValueError(f"Not a status a message can move to: {update.status!r}")
    if not updates:
        return set()
    at = at or timezone.now()
    ids = list(dict.fromkeys(update.message_id for update in updates))
    outbound = Message.objects.filter(direction=Message.Direction.OUTBOUND)
    with transaction.atomic():
        current: dict[uuid.UUID, str] = dict(
            outbound.filter(pk__in=ids)
            .order_by("pk")
            .select_for_update()
            .values_list("pk", "status")
        )
        read = dict(current)
        final: dict[uuid.UUID, tuple[str, str]] = {}
        provider_ids: dict[uuid.UUID, str] = {}
        steps: list[tuple[uuid.UUID, str, str]] = []
        for update in updates:
            if update.provider_message_id and update.message_id in current:
                provider_ids.setdefault(update.message_id, update.provider_message_id)
            previous = current.get(update.message_id)
            if previous not in STATUS_REACHABLE_FROM[update.status]:
                continue
            error_code = _error_code(update.status, update.error_code)
            if previous == MessageStatus.RECEIVED and update.status in STATUS_IMPLIES_SENT:
                steps.append((update.message_id, MessageStatus.SENT, ""))
            steps.append((update.message_id, update.status, error_code))
            current[update.message_id] = update.status
            final[update.message_id] = (update.status, error_code)
        _statuses_write(outbound, read=read, final=final, provider_ids=provider_ids, at=at)
        changes = MessageStatusChange.objects.bulk_create(
            MessageStatusChange(message_id=message_id, status=status, error_code=code, at=at)
            for message_id, status, code in steps
        )
        message_status_changed_publish(
            [
                MessageStatusChanged(
                    message_id=change.message_id,
                    change_id=change.pk,
                    status=change.status,
                    error_code=change.error_code,
                    at=at,
                )
                for change in changes
            ]
        )
    return set(final)


_NO_ERROR_STATUSES = frozenset(
    {MessageStatus.SCHEDULED, MessageStatus.RECEIVED, MessageStatus.SENT, MessageStatus.DELIVERED}
)


def _error_code(status: str, error_code: str) -> str:
    if status in _NO_ERROR_STATUSES:
        return ""
    if status == MessageStatus.CANCELED:
        return error_code  # why, when it was not the sender (`opted_out`)
    return error_code or ErrorCode.PROVIDER_ERROR


def message_scheduled_publish(
    *, message_id: uuid.UUID, change_id: int, at: datetime.datetime
) -> None:
    """The send path stored a message as `scheduled` (its first history row, `change_id`):
    unlike the first `received`, that is news for the sender (a `message.status` webhook says
    when it is held), so it is published like a change, in the send's transaction."""
    message_status_changed_publish(
        [
            MessageStatusChanged(
                message_id=message_id,
                change_id=change_id,
                status=MessageStatus.SCHEDULED,
                error_code="",
                at=at,
            )
        ]
    )


def _statuses_write(
    outbound: Any,
    *,
    read: dict[uuid.UUID, str],
    final: dict[uuid.UUID, tuple[str, str]],
    provider_ids: dict[uuid.UUID, str],
    at: datetime.datetime,
) -> None:
    """The UPDATEs of `message_statuses_apply`: one per (status read, new status, error code),
    and one for provider ids of messages whose status did not move."""
    groups: dict[tuple[str, str, str], list[uuid.UUID]] = {}
    for message_id, (status, error_code) in final.items():
        groups.setdefault((read[message_id], status, error_code), []).append(message_id)
    for (previous, status, error_code), message_ids in groups.items():
        fields: dict[str, Any] = {
            "status": status,
            "error_code": error_code,
            "status_changed_at": at,
        }
        given = _provider_ids_case(message_ids, provider_ids)
        if given is not None:
            fields["provider_message_id"] = Coalesce(F("provider_message_id"), given)
        outbound.filter(pk__in=message_ids, status=previous).update(**fields)
    unmoved = [message_id for message_id in provider_ids if message_id not in final]
    given = _provider_ids_case(unmoved, provider_ids)
    if given is not None:
        outbound.filter(pk__in=unmoved, provider_message_id__isnull=True).update(
            provider_message_id=given
        )


def _provider_ids_case(message_ids: list[uuid.UUID], provider_ids: dict[uuid.UUID, str]) -> Any:
    given = [message_id for message_id in message_ids if message_id in provider_ids]
    if not given:
        return None
    if len(given) == 1:
        return Value(provider_ids[given[0]])
    return Case(
        *(When(pk=message_id, then=Value(provider_ids[message_id])) for message_id in given),
        default=Value(None),
        output_field=Message._meta.get_field("provider_message_id"),
    )


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
    report = ProviderReport(provider_message_id, status, error_code, message_id)
    return bool(message_status_reports_apply([report]))


@dataclass(frozen=True)
class ProviderReport:
    provider_message_id: str
    status: str | None
    error_code: str = ""
    message_id: str | None = None  # ours, when the provider echoes it


def message_status_reports_apply(reports: Sequence[ProviderReport]) -> set[uuid.UUID]:
    """A batch of provider status reports (`message_status_report`), found in one query and
    applied in one transaction; returns the ids of the messages that moved."""
    ours: list[tuple[ProviderReport, str, uuid.UUID | None]] = []
    for report in reports:
        if report.status is None:
            continue
        target: uuid.UUID | None = None
        if report.message_id:
            try:
                target = uuid.UUID(report.message_id)
            except ValueError:
                target = None
        ours.append((report, report.status, target))
    lookup = [
        report.provider_message_id
        for report, _, target in ours
        if target is None and report.provider_message_id
    ]
    by_provider_id: dict[str, uuid.UUID] = {}
    if lookup:
        by_provider_id = {
            provider_id: pk
            for provider_id, pk in Message.objects.filter(
                direction=Message.Direction.OUTBOUND, provider_message_id__in=lookup
            ).values_list("provider_message_id", "pk")
            if provider_id
        }
    updates = []
    for report, status, found in ours:
        target = found or by_provider_id.get(report.provider_message_id)
        if target is None:
            logger.info(
                "Status %s for unknown provider message %s ignored",
                report.status,
                report.provider_message_id,
            )
            continue
        updates.append(
            StatusUpdate(
                message_id=target,
                status=status,
                error_code=report.error_code,
                provider_message_id=report.provider_message_id or None,
            )
        )
    return message_statuses_apply(updates)
