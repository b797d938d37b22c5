"""Publish a task after commit, back off while the broker is down, sweep what was not enqueued.

The pattern of every task whose work is stored in a table (the SMS outbox: `Message` rows still
`received`; webhook deliveries: `WebhookDelivery` rows still `pending`): the row is the outbox.
Its task is published after the transaction that wrote it commits (`publish_on_commit`), and a
publish that fails costs nothing but time, because a beat task sweeps the rows that are due and
still not done (`outbox_sweep`) and publishes them again. So a failed publish is logged and
forgotten.

After one failure this process stops trying the broker for `BROKER_BACKOFF_SECONDS`: while a
broker hangs, only the first request waits for its timeout, and the others return at once. The
back-off is one per process, shared by every queue, because every queue of this Celery app sits
on the same broker. When tasks run in-process (`task_always_eager`, no broker) there is nothing to
back off from.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import kombu.exceptions
import redis.exceptions
from celery import Task
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

# What a broker that is down or hung raises from `apply_async`.
BROKER_ERRORS = (kombu.exceptions.OperationalError, redis.exceptions.ConnectionError, OSError)

T = TypeVar("T")

_paused_until = 0.0
_clock = time.monotonic  # the back-off's clock (a test may turn it)


def task_publish(
    task: Task[Any, Any], *args: object, queue: str, countdown: float | None = None
) -> bool:
    """Publish `task(*args)` on `queue`; False when the broker is unreachable (now, or within
    the back-off after a failure), and the sweep is left to hand the work over."""
    global _paused_until
    eager = bool(task.app.conf.task_always_eager)
    if not eager and _clock() < _paused_until:
        logger.info("Broker recently unreachable; %s%r left for the sweep", task.name, args)
        return False
    options: dict[str, Any] = {"queue": queue}
    if countdown:
        options["countdown"] = countdown
    try:
        task.apply_async(args=args, **options)
    except BROKER_ERRORS as exc:
        _paused_until = _clock() + settings.BROKER_BACKOFF_SECONDS
        # The exception's type only: its text can hold the broker's URL, with its password.
        logger.warning(
            "Broker unreachable (%s); %s%r left for the sweep", type(exc).__name__, task.name, args
        )
        return False
    return True


def publish_on_commit(task: Task[Any, Any], *args: object, queue: str) -> None:
    """Publish `task(*args)` once the current transaction commits (at once outside one); a
    rolled back transaction publishes nothing."""
    transaction.on_commit(functools.partial(task_publish, task, *args, queue=queue))


def broker_backoff_reset() -> None:
    """Forget a past publish failure (tests, and a deliberate broker switch)."""
    global _paused_until
    _paused_until = 0.0


def broker_backing_off() -> bool:
    """Whether this process is leaving publishes to the sweep right now."""
    return _clock() < _paused_until


def outbox_sweep(
    *,
    take_due: Callable[[int], Sequence[T]],
    publish: Callable[[T], bool],
    batch_size: int = 500,
    max_batches: int = 20,
) -> int:
    """Publish the work that is due again; returns how many were published.

    `take_due(n)` returns up to `n` due items, oldest first, and pushes their due time forward
    (a grace period), so the next sweeps leave them alone while their task waits in the queue,
    and take them again if that task is lost. `publish(item)` publishes one, False when the
    broker is unreachable: the sweep stops there, and the rest are due again after the grace.
    Publishing twice is harmless as long as only one task can claim an item.
    """
    swept = 0
    for _ in range(max_batches):
        due = take_due(batch_size)
        if not due:
            break
        published = 0
        for item in due:
            if not publish(item):
                break
            published += 1
        swept += published
        if published < len(due) or len(due) < batch_size:
            break
    return swept
