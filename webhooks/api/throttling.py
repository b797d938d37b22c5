"""Rate limits of the integrator API: per API client (or SMAPI key), and per IP for tokens.

Each limit is a limit of the shared rate limiter (`artera.ratelimit`): `rate` requests per second
on average, with bursts of up to `burst` at once, kept in Redis (`API_RATE_LIMIT_REDIS_URL`, by
default REDIS_URL) so all web processes share one limit per client; without Redis each process
keeps its own. If Redis is unreachable the limits fail open (`OnRedisError.ALLOW`): a rate
limiter must never refuse a hospital's texts because Redis hiccupped.
"""

from __future__ import annotations

import functools
import math
from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from artera.ratelimit import Decision, OnRedisError, RateLimiter
from artera.reload import reload_on
from webhooks.models import SmapiKey

from .authentication import api_client_of_token

__all__ = ["ApiClientRateThrottle", "Decision", "limiter_get", "rate_limit_hit"]


@reload_on("API_RATE_LIMIT_REDIS_URL", "API_RATE_LIMIT_KEY_PREFIX")
@functools.cache
def limiter_get() -> RateLimiter:
    return RateLimiter(
        name="api",
        redis_url=settings.API_RATE_LIMIT_REDIS_URL,
        prefix=settings.API_RATE_LIMIT_KEY_PREFIX,
        on_redis_error=OnRedisError.ALLOW,
        socket_timeout=0.5,
    )


def rate_limit_hit(*, key: str, rate: float, burst: int) -> Decision:
    """Count one request against the limit `key`; a rate of 0 means no limit."""
    if rate <= 0:
        return Decision(allowed=True, wait=0.0)
    return limiter_get().take(key, rate=rate, burst=burst)


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
