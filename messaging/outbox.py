"""Publishing send-path tasks to the broker without ever holding up the caller (core plumbing:
imports no other module of `messaging`).

The stored message is the outbox, and the publishing and the broker back-off are the shared ones
of `artera.outbox`: a failed publish is logged and forgotten (the sweeper,
`dispatch.outbox_sweep`, run by Celery beat, re-enqueues every message that is due and still
unsent), and after one failure this process stops trying for `BROKER_BACKOFF_SECONDS`. This
module only says which queue.
"""

from __future__ import annotations

from typing import Any

from celery import Task
from django.conf import settings

from artera import outbox
from artera.outbox import broker_backoff_reset

__all__ = ["broker_backoff_reset", "task_publish"]


def task_publish(task: Task[Any, Any], *args: object, countdown: float | None = None) -> bool:
    """Publish `task(*args)` on the send path's queue; False when the broker is unreachable."""
    return outbox.task_publish(task, *args, queue=settings.SMS_CELERY_QUEUE, countdown=countdown)
