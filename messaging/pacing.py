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

import functools
from dataclasses import dataclass
from decimal import Decimal

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
