"""Rate limits of the integrator API: per API client (or SMAPI key), and per IP for tokens.

Each limit is a GCRA (a token bucket kept as one timestamp): `rate` requests per second on
average, with bursts of up to `burst` at once. The timestamp lives in Redis (REDIS_URL), so all
web processes share one limit per client; without Redis each process keeps its own. If Redis is
unreachable the limit is not enforced: a rate limiter must never stop patient messages.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import redis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from webhooks.models import SmapiKey

from .authentication import api_client_of_token

logger = logging.getLogger(__name__)

# KEYS[1]: the limit's timestamp ("theoretical arrival time", µs); ARGV: interval µs, burst µs.
_GCRA_SCRIPT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait > 0 then return {0, wait} end
local following = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', following),
           'PX', math.floor((following - now) / 1000) + 1000)
return {1, 0}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float  # seconds until one more request would pass (0 when allowed)


class Limiter(Protocol):
    def hit(self, *, key: str, rate: float, burst: int) -> Decision: ...


def _interval_and_tolerance(rate: float, burst: int) -> tuple[int, int]:
    interval = max(1, int(1_000_000 / rate))
    return interval, interval * max(0, burst - 1)


class RedisLimiter:
    def __init__(self, url: str, prefix: str):
        self._client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        self._script = self._client.register_script(_GCRA_SCRIPT)
        self._prefix = prefix
        self._warned_at = 0.0

    def hit(self, *, key: str, rate: float, burst: int) -> Decision:
        interval, tolerance = _interval_and_tolerance(rate, burst)
        try:
            allowed, wait = self._script(keys=[f"{self._prefix}:{key}"], args=[interval, tolerance])
        except redis.RedisError as exc:
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                logger.warning("Rate limiter unavailable, not enforcing limits: %s", exc)
            return Decision(allowed=True, retry_after=0)
        return Decision(allowed=bool(allowed), retry_after=int(wait) / 1_000_000)


class LocalLimiter:
    """Within this process only (no Redis configured)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tat: dict[str, int] = {}

    def hit(self, *, key: str, rate: float, burst: int) -> Decision:
        interval, tolerance = _interval_and_tolerance(rate, burst)
        with self._lock:
            now = time.time_ns() // 1000
            tat = max(now, self._tat.get(key, 0))
            wait = tat - tolerance - now
            if wait > 0:
                return Decision(allowed=False, retry_after=wait / 1_000_000)
            self._tat[key] = tat + interval
            if len(self._tat) > 100_000:  # forget idle keys rather than grow forever
                self._tat = {k: v for k, v in self._tat.items() if v > now}
            return Decision(allowed=True, retry_after=0)


@functools.cache
def limiter_get() -> Limiter:
    if settings.API_RATE_LIMIT_REDIS_URL:
        return RedisLimiter(settings.API_RATE_LIMIT_REDIS_URL, settings.API_RATE_LIMIT_KEY_PREFIX)
    return LocalLimiter()


@receiver(setting_changed)
def _forget_limiter(*, setting: str, **kwargs: object) -> None:
    if setting in {"API_RATE_LIMIT_REDIS_URL", "API_RATE_LIMIT_KEY_PREFIX"}:
        limiter_get.cache_clear()


def rate_limit_hit(*, key: str, rate: float, burst: int) -> Decision:
    """Count one request against the limit `key`; a rate of 0 means no limit."""
    if rate <= 0:
        return Decision(allowed=True, retry_after=0)
    return limiter_get().hit(key=key, rate=rate, burst=burst)


class ApiClientRateThrottle(BaseThrottle):
    """`API_RATE_LIMIT_PER_SECOND` per calling API client or SMAPI key, bursts of
    `API_RATE_LIMIT_BURST`. Runs after authentication, so only known callers are counted."""

    def __init__(self) -> None:
        self._retry_after: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        auth = request.auth
        if isinstance(auth, SmapiKey):
            key = f"smapi:{auth.pk}"
        else:
            api_client = api_client_of_token(auth) if auth is not None else None
            if api_client is None:
                return True
            key = f"client:{api_client.pk}"
        decision = rate_limit_hit(
            key=key, rate=settings.API_RATE_LIMIT_PER_SECOND, burst=settings.API_RATE_LIMIT_BURST
        )
        self._retry_after = None if decision.allowed else decision.retry_after
        return decision.allowed

    def wait(self) -> float | None:
        return None if self._retry_after is None else max(1.0, math.ceil(self._retry_after))
