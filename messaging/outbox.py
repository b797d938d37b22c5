"""Publishing send-path tasks to the broker without ever holding up the caller (core plumbing:
imports no other module of `messaging`).

The stored message is the outbox: a publish that fails costs nothing but time, because the
sweeper (`dispatch.outbox_sweep`, run by Celery beat) re-enqueues every message that is due and
still unsent. So a failed publish is logged and forgotten, and after one failure this process
stops trying for `SMS_BROKER_BACKOFF_SECONDS`: while a broker hangs, only the first request
waits for its timeout.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import kombu.exceptions
import redis.exceptions
from celery import Task
from django.conf import settings

logger = logging.getLogger(__name__)

_paused_until = 0.0


def task_publish(task: Task[Any, Any], *args: object, countdown: float | None = None) -> bool:
    """Publish `task(*args)` on the send path's queue; False when the broker is unreachable."""
    global _paused_until
    eager = bool(task.app.conf.task_always_eager)
    if not eager and time.monotonic() < _paused_until:
        logger.info(
            "Broker recently unreachable; %s%r left for the outbox sweeper", task.name, args
        )
        return False
    try:
        options: dict[str, Any] = {"queue": settings.SMS_CELERY_QUEUE}
        if countdown:
            options["countdown"] = countdown
        task.apply_async(args=args, **options)
    except (kombu.exceptions.OperationalError, redis.exceptions.ConnectionError, OSError) as exc:
        _paused_until = time.monotonic() + settings.SMS_BROKER_BACKOFF_SECONDS
        logger.warning(
            "Broker unreachable (%s); %s%r left for the outbox sweeper", exc, task.name, args
        )
        return False
    return True


def broker_backoff_reset() -> None:
    """Forget a past publish failure (tests, and a deliberate broker switch)."""
    global _paused_until
    _paused_until = 0.0
