"""The one rate limiter: a GCRA (a token bucket kept as one timestamp) in Redis, or in-process.

A limit is `rate` events per second on average with bursts of up to `burst` at once. Its whole
state is one number, the "theoretical arrival time" (TAT): when the bucket will be empty again.
Taking a slot is one atomic step (a Lua script in Redis, a lock in-process), by the backend's
own clock:

    tat  = max(now, stored)
    wait = max(0, tat - (burst - 1) * interval - now)     # until the event conforms
    if wait > max_wait: refuse, and say `wait`              # nothing is taken
    stored = tat + interval                                 # the slot is taken

Two kinds of caller use it, through thin adapters of their own:

- *Allow or refuse* (`max_wait=0`): the integrator API, SMAPI keys, the token endpoint and
  call-to-text (`webhooks.api.throttling`). A refusal says how long until a request would pass
  (the 429's Retry-After).
- *Reserve a slot, possibly in the future* (`max_wait` > 0, or None for any wait): per-line SMS
  pacing (`messaging.pacing`). With `burst=1` the slots handed to any number of workers are at
  least one interval apart; the caller sleeps until its slot.

Where the state lives: with a Redis URL, in Redis, so every process shares each limit; without
one (the zero-setup default) in this process only. When Redis is configured but unreachable,
each use chooses what happens (`OnRedisError`, logged at most once a minute per limiter):

- `ALLOW` (fail open): the event passes unlimited. The API limits use it: a rate limiter must
  never refuse a hospital's texts because Redis hiccupped.
- `LOCAL`: the same arithmetic runs in this process. Pacing uses it: texts keep going, each
  worker process pacing a line on its own, so during the outage a line may see up to (number of
  worker processes) x its rate; providers queue or answer 429, which the send path retries.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from dataclasses import dataclass
from decimal import Decimal

import redis

logger = logging.getLogger(__name__)

# KEYS[1]: the limit's TAT (µs). ARGV: interval µs, tolerance µs ((burst-1) * interval),
# max_wait µs (-1: any wait). Returns {taken, wait µs}.
_TAKE_SCRIPT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
if max_wait >= 0 and wait > max_wait then return {0, wait} end
local following = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', following),
           'PX', math.floor((following - now) / 1000) + 1000)
return {1, wait}
"""

# Forget idle keys of the in-process backend past this many, rather than grow forever.
LOCAL_MAX_KEYS = 100_000


class OnRedisError(enum.Enum):
    """What a limiter does when its Redis is unreachable (see the module docstring)."""

    ALLOW = "allow"
    LOCAL = "local"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # Allowed: seconds until the slot taken (0 unless a future slot was reserved).
    # Refused: seconds until one could be had.
    wait: float

    @property
    def retry_after(self) -> float:
        """Seconds until one more event would pass; 0 when this one was allowed."""
        return 0.0 if self.allowed else self.wait


@dataclass(frozen=True)
class _Cost:
    interval_us: int
    tolerance_us: int
    max_wait_us: int  # -1: any wait


def _cost(rate: float | Decimal, burst: int, max_wait: float | None) -> _Cost:
    rate = rate if isinstance(rate, Decimal) else Decimal(str(rate))
    interval = max(1, int(Decimal(1_000_000) / rate))
    return _Cost(
        interval_us=interval,
        tolerance_us=interval * max(0, burst - 1),
        max_wait_us=-1 if max_wait is None else int(max_wait * 1_000_000),
    )


class LocalBuckets:
    """Limits within this process only: right when every event of a limit passes through it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tat: dict[str, int] = {}

    def take(self, key: str, cost: _Cost) -> Decision:
        with self._lock:
            now = time.time_ns() // 1000
            tat = max(now, self._tat.get(key, 0))
            wait = max(0, tat - cost.tolerance_us - now)
            if cost.max_wait_us >= 0 and wait > cost.max_wait_us:
                return Decision(allowed=False, wait=wait / 1_000_000)
            self._tat[key] = tat + cost.interval_us
            if len(self._tat) > LOCAL_MAX_KEYS:
                self._tat = {k: v for k, v in self._tat.items() if v > now}
            return Decision(allowed=True, wait=wait / 1_000_000)


class RedisBuckets:
    """Limits shared by every process that talks to the same Redis; raises `redis.RedisError`
    when Redis cannot be reached (the `RateLimiter` decides what that means)."""

    def __init__(self, url: str, *, socket_timeout: float):
        self._client = redis.Redis.from_url(
            url, socket_connect_timeout=socket_timeout, socket_timeout=socket_timeout
        )
        self._script = self._client.register_script(_TAKE_SCRIPT)

    def take(self, key: str, cost: _Cost) -> Decision:
        taken, wait_us = self._script(
            keys=[key], args=[cost.interval_us, cost.tolerance_us, cost.max_wait_us]
        )
        return Decision(allowed=bool(taken), wait=int(wait_us) / 1_000_000)


class RateLimiter:
    """A family of limits under one key prefix, in Redis when `redis_url` is set.

    `name` only labels the warning logged when Redis is unreachable."""

    WARN_EVERY_SECONDS = 60.0

    def __init__(
        self,
        *,
        name: str,
        redis_url: str,
        prefix: str,
        on_redis_error: OnRedisError,
        socket_timeout: float = 0.5,
    ) -> None:
        self.name = name
        self.prefix = prefix
        self.on_redis_error = on_redis_error
        self.shared = RedisBuckets(redis_url, socket_timeout=socket_timeout) if redis_url else None
        self.local = LocalBuckets()
        self._warned_at: float | None = None

    def take(
        self, key: str, *, rate: float | Decimal, burst: int = 1, max_wait: float | None = 0.0
    ) -> Decision:
        """Take one slot of the limit `key` (see the module docstring); `rate` must be > 0."""
        cost = _cost(rate, burst, max_wait)
        if self.shared is None:
            return self.local.take(key, cost)
        try:
            return self.shared.take(f"{self.prefix}:{key}", cost)
        except redis.RedisError as exc:
            self._warn(exc)
            if self.on_redis_error is OnRedisError.ALLOW:
                return Decision(allowed=True, wait=0.0)
            return self.local.take(key, cost)

    def _warn(self, exc: redis.RedisError) -> None:
        now = time.monotonic()
        if self._warned_at is None or now - self._warned_at > self.WARN_EVERY_SECONDS:
            self._warned_at = now
            consequence = (
                "not enforcing limits"
                if self.on_redis_error is OnRedisError.ALLOW
                else "limiting within this process only"
            )
            logger.warning(
                "Rate limiter %s: Redis unavailable (%s), %s",
                self.name,
                type(exc).__name__,
                consequence,
            )
