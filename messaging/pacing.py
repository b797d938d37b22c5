"""Per-line send pacing: every worker together stays within a line's messages-per-second.

A line's pace is a limit of the shared rate limiter (`artera.ratelimit`) with no burst: each
reservation takes the line's next free slot, `max(now, next_free)` by Redis's clock, and moves
`next_free` one interval past it, so slots handed to any number of workers are at least an
interval apart. The caller then sleeps until its slot and sends, so no text reaches the provider
before its slot. A caller that would have to wait longer than it is willing to gets no slot
(nothing is reserved) and is told how long to stay away.

Without Redis (the zero-setup default, where tasks run in-process) the same arithmetic runs in
the process. When Redis is configured but unreachable, pacing falls back to that in-process
pacing (`OnRedisError.LOCAL`): texts keep going, each worker process pacing its lines on its own,
so for the length of the outage a line may get up to (worker processes) x its rate.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from decimal import Decimal

import redis
from django.conf import settings

from artera.ratelimit import OnRedisError, RateLimiter
from artera.reload import reload_on


@dataclass(frozen=True)
class Reservation:
    granted: bool
    wait: float  # seconds until the slot (granted), or until one could be had (not granted)


@reload_on("SMS_PACING_REDIS_URL", "SMS_PACING_KEY_PREFIX")
@functools.cache
def pacer_get() -> RateLimiter:
    return RateLimiter(
        name="sms-pacing",
        redis_url=settings.SMS_PACING_REDIS_URL,
        prefix=settings.SMS_PACING_KEY_PREFIX,
        on_redis_error=OnRedisError.LOCAL,
        socket_timeout=1.0,
    )


def line_slot_reserve(*, line_id: object, rate: Decimal, max_wait: float | None) -> Reservation:
    """Reserve the next send slot of a line (see the module docstring)."""
    decision = pacer_get().take(f"line:{line_id}", rate=rate, burst=1, max_wait=max_wait)
    return Reservation(granted=decision.allowed, wait=decision.wait)


# --- One queued dispatch task per line ---------------------------------------------------------
#
# Every stored text asks for its line's dispatch task, and one task sends every due text of the
# line (`messaging.dispatch`), so while a task for the line is queued and not yet started, another
# one would find nothing the first will not. A flag in Redis says "queued"; the task clears it
# when it starts, before it looks for texts, so a text stored after that look publishes again.
# A flag whose task was lost expires after `DISPATCH_QUEUED_TTL_SECONDS` (and the outbox sweeper
# covers the texts); without Redis, or when it does not answer, every text publishes.

DISPATCH_QUEUED_TTL_SECONDS = 5


@reload_on("SMS_PACING_REDIS_URL")
@functools.cache
def _flags() -> redis.Redis | None:
    url = settings.SMS_PACING_REDIS_URL
    if not url:
        return None
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)


def _queued_key(line_id: object) -> str:
    return f"{settings.SMS_PACING_KEY_PREFIX}:dispatch-queued:{line_id}"


def line_dispatch_mark_queued(line_id: object, *, force: bool = False) -> bool:
    """Whether the caller should publish the line's task: True unless one is queued already
    (`force`: the running task queues its own continuation, whatever the flag says)."""
    client = _flags()
    if client is None:
        return True
    try:
        marked = client.set(_queued_key(line_id), 1, nx=not force, ex=DISPATCH_QUEUED_TTL_SECONDS)
        return bool(marked) or force
    except redis.RedisError:
        return True


def line_dispatch_started(line_id: object) -> None:
    """The line's task is running: the next stored text publishes a new one."""
    client = _flags()
    if client is None:
        return
    with contextlib.suppress(redis.RedisError):  # else the flag expires on its own
        client.delete(_queued_key(line_id))
