"""Per-line send pacing: every worker together stays within a line's messages-per-second.

A line's limiter is one number in Redis, the earliest time the next text may go (a leaky bucket
with no burst, also called GCRA). Reserving a slot is one atomic script: the slot is
`max(now, next_free)` by Redis's clock, and `next_free` moves one interval past it, so slots
handed to any number of workers are at least an interval apart. The caller then sleeps until
its slot and sends, so no text reaches the provider before its slot. A caller that would have to
wait longer than it is willing to gets no slot (nothing is reserved) and is told how long to stay
away.

Without Redis (the zero-setup default, where tasks run in-process) the same arithmetic runs under
a process-local lock.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import redis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

_RESERVE_SCRIPT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local next_free = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = now
if next_free > now then slot = next_free end
local wait = slot - now
if max_wait >= 0 and wait > max_wait then return {0, wait} end
local following = slot + interval
redis.call('SET', KEYS[1], string.format('%.0f', following),
           'PX', math.floor((following - now) / 1000) + 1000)
return {1, wait}
"""


@dataclass(frozen=True)
class Reservation:
    granted: bool
    wait: float  # seconds until the slot (granted), or until one could be had (not granted)


class Pacer(Protocol):
    def reserve(self, *, key: str, rate: Decimal, max_wait: float | None) -> Reservation: ...


def _interval_us(rate: Decimal) -> int:
    return int(Decimal(1_000_000) / rate)


class RedisPacer:
    """Slots shared by every process that talks to the same Redis."""

    def __init__(self, url: str, prefix: str):
        self._client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        self._script = self._client.register_script(_RESERVE_SCRIPT)
        self._prefix = prefix

    def reserve(self, *, key: str, rate: Decimal, max_wait: float | None) -> Reservation:
        max_wait_us = -1 if max_wait is None else int(max_wait * 1_000_000)
        granted, wait_us = self._script(
            keys=[f"{self._prefix}:{key}"], args=[_interval_us(rate), max_wait_us]
        )
        return Reservation(granted=bool(granted), wait=int(wait_us) / 1_000_000)


class LocalPacer:
    """Slots within this process only: right when every send runs in one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next_free: dict[str, int] = {}

    def reserve(self, *, key: str, rate: Decimal, max_wait: float | None) -> Reservation:
        with self._lock:
            now = time.time_ns() // 1000
            slot = max(now, self._next_free.get(key, 0))
            wait = slot - now
            if max_wait is not None and wait > max_wait * 1_000_000:
                return Reservation(granted=False, wait=wait / 1_000_000)
            self._next_free[key] = slot + _interval_us(rate)
            return Reservation(granted=True, wait=wait / 1_000_000)


@functools.cache
def pacer_get() -> Pacer:
    if settings.SMS_PACING_REDIS_URL:
        return RedisPacer(settings.SMS_PACING_REDIS_URL, settings.SMS_PACING_KEY_PREFIX)
    return LocalPacer()


@receiver(setting_changed)
def _forget_pacer(*, setting: str, **kwargs: object) -> None:
    if setting in {"SMS_PACING_REDIS_URL", "SMS_PACING_KEY_PREFIX"}:
        pacer_get.cache_clear()


def line_slot_reserve(*, line_id: object, rate: Decimal, max_wait: float | None) -> Reservation:
    """Reserve the next send slot of a line (see the module docstring)."""
    return pacer_get().reserve(key=f"line:{line_id}", rate=rate, max_wait=max_wait)
