"""The SMS outbox: publishing send-path tasks without ever holding up the caller.

The stored message is the outbox, and the publishing, the broker back-off and the sweep are the
shared ones of `artera.outbox`: a failed publish is logged and forgotten, and `outbox_sweep`
(run by Celery beat every `SMS_OUTBOX_SWEEP_SECONDS`) re-enqueues every message that is due and
still unsent. This module only says which rows and which queue.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from typing import Any

from celery import Task
from django.conf import settings
from django.utils import timezone

from artera import outbox
from artera.outbox import broker_backoff_reset

from .models import Message, MessageStatus

logger = logging.getLogger(__name__)

__all__ = ["broker_backoff_reset", "dispatch_enqueue", "outbox_sweep", "task_publish"]


def task_publish(task: Task[Any, Any], *args: object, countdown: float | None = None) -> bool:
    """Publish `task(*args)` on the send path's queue; False when the broker is unreachable."""
    return outbox.task_publish(task, *args, queue=settings.SMS_CELERY_QUEUE, countdown=countdown)


def dispatch_enqueue(message_id: uuid.UUID, countdown: float | None = None) -> bool:
    from .tasks import message_dispatch

    return task_publish(message_dispatch, str(message_id), countdown=countdown)


def outbox_sweep(*, batch_size: int = 500, max_batches: int = 20) -> int:
    """Re-enqueue outbound messages that are due and still unsent; returns how many.

    A message is due when no task has claimed it for `SMS_OUTBOX_GRACE_SECONDS` past the time
    it was meant to be sent (its publish failed, or its task was lost with a worker), or when
    the lease of the worker that claimed it ran out (it died). Enqueuing twice is harmless: only
    one task can claim a message.
    """
    swept = outbox.outbox_sweep(
        take_due=_messages_due,
        publish=dispatch_enqueue,
        batch_size=batch_size,
        max_batches=max_batches,
    )
    if swept:
        logger.info("Outbox sweep re-enqueued %d message(s)", swept)
    return swept


def _messages_due(limit: int) -> list[uuid.UUID]:
    now = timezone.now()
    due = list(
        Message.objects.filter(
            direction=Message.Direction.OUTBOUND,
            status=MessageStatus.RECEIVED,
            outbox_due_at__lt=now,
        )
        .order_by("outbox_due_at")
        .values_list("pk", flat=True)[:limit]
    )
    if due:
        grace = datetime.timedelta(seconds=settings.SMS_OUTBOX_GRACE_SECONDS)
        Message.objects.filter(pk__in=due, status=MessageStatus.RECEIVED).update(
            outbox_due_at=now + grace
        )
    return due
