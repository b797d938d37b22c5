"""The shared rate limiter (`artera.ratelimit`): one GCRA, in-process and in Redis, and the two
failure modes its users choose from when Redis is unreachable."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import redis

from artera.ratelimit import Decision, OnRedisError, RateLimiter
from messaging import pacing
from webhooks.api import throttling

UNREACHABLE = "redis://127.0.0.1:1/0"  # nobody listens on port 1: connection refused at once


def _local() -> RateLimiter:
    return RateLimiter(name="t", redis_url="", prefix="t", on_redis_error=OnRedisError.ALLOW)


@pytest.fixture
def shared(settings: Any) -> Iterator[Callable[[], RateLimiter]]:
    """Limiters on the test Redis (REDIS_URL), all under one prefix of this test's own."""
    url = settings.REDIS_URL
    if not url:
        pytest.skip("needs Redis: set REDIS_URL=redis://… to run it")
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"Redis at {url} is not reachable")
    prefix = f"artera-test:{uuid.uuid4().hex}"

    def make() -> RateLimiter:
        return RateLimiter(
            name="t", redis_url=url, prefix=prefix, on_redis_error=OnRedisError.ALLOW
        )

    yield make
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


BACKENDS = ["local", "redis"]


@pytest.fixture(params=BACKENDS)
def limiter(request: pytest.FixtureRequest) -> RateLimiter:
    if request.param == "local":
        return _local()
    make: Callable[[], RateLimiter] = request.getfixturevalue("shared")
    return make()


def test_allow_or_refuse_with_a_burst(limiter: RateLimiter) -> None:
    decisions = [limiter.take("a", rate=1, burst=2) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert [d.retry_after for d in decisions[:2]] == [0, 0]
    assert 0 < decisions[2].retry_after <= 1
    # Another key is another limit.
    assert limiter.take("b", rate=1, burst=2).allowed


def test_reserving_future_slots_spaces_them_one_interval_apart(limiter: RateLimiter) -> None:
    # 0.01/s: one slot per 100 s, so the time the test itself takes cannot blur the arithmetic.
    waits = [limiter.take("line", rate=Decimal("0.01"), max_wait=None).wait for _ in range(3)]
    assert waits[0] == 0
    assert 99 < waits[1] <= 100
    assert 199 < waits[2] <= 200


def test_a_refused_reservation_takes_nothing(limiter: RateLimiter) -> None:
    assert limiter.take("line", rate=Decimal("0.01"), max_wait=1).allowed
    refused = limiter.take("line", rate=Decimal("0.01"), max_wait=1)
    assert not refused.allowed
    assert 99 < refused.wait <= 100
    # Still the second slot, not the third: the refusal reserved nothing.
    assert 99 < limiter.take("line", rate=Decimal("0.01"), max_wait=None).wait <= 100


def test_a_redis_limit_is_shared_by_every_process_and_expires(
    shared: Callable[[], RateLimiter], settings: Any
) -> None:
    first, other = shared(), shared()  # two processes' limiters on one Redis
    assert first.take("client", rate=1, burst=2).allowed
    assert other.take("client", rate=1, burst=2).allowed
    assert not first.take("client", rate=1, burst=2).allowed
    assert not other.take("client", rate=1, burst=2).allowed
    ttl = redis.Redis.from_url(settings.REDIS_URL).pttl(f"{first.prefix}:client")
    assert 0 < ttl <= 3000  # the key outlives its limit by a second, then goes


def test_local_buckets_forget_idle_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from artera import ratelimit

    monkeypatch.setattr(ratelimit, "LOCAL_MAX_KEYS", 10)
    limiter = _local()
    for n in range(11):
        limiter.take(f"k{n}", rate=1_000_000)  # 1 µs intervals: idle again at once
    limiter.take("last", rate=Decimal("0.01"))
    assert len(limiter.local._tat) < 12


# --- Redis unreachable --------------------------------------------------------------------------


def test_allow_fails_open_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RateLimiter(
        name="api", redis_url=UNREACHABLE, prefix="t", on_redis_error=OnRedisError.ALLOW
    )
    with caplog.at_level(logging.WARNING, logger="artera.ratelimit"):
        decisions = [limiter.take("k", rate=Decimal("0.01"), burst=1) for _ in range(5)]
    assert decisions == [Decision(allowed=True, wait=0.0)] * 5
    warnings = [r for r in caplog.records if r.name == "artera.ratelimit"]
    assert len(warnings) == 1
    assert "not enforcing limits" in warnings[0].getMessage()
    assert "127.0.0.1" not in warnings[0].getMessage()  # no address (URLs may carry passwords)


def test_local_falls_back_to_limiting_in_this_process(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RateLimiter(
        name="pacing", redis_url=UNREACHABLE, prefix="t", on_redis_error=OnRedisError.LOCAL
    )
    with caplog.at_level(logging.WARNING, logger="artera.ratelimit"):
        assert limiter.take("k", rate=Decimal("0.01")).allowed
        assert not limiter.take("k", rate=Decimal("0.01")).allowed
        assert 99 < limiter.take("k", rate=Decimal("0.01"), max_wait=None).wait <= 100
    warnings = [r for r in caplog.records if r.name == "artera.ratelimit"]
    assert len(warnings) == 1
    assert "within this process only" in warnings[0].getMessage()


def test_each_use_has_its_failure_mode(settings: Any) -> None:
    settings.API_RATE_LIMIT_REDIS_URL = UNREACHABLE
    settings.SMS_PACING_REDIS_URL = UNREACHABLE
    assert throttling.limiter_get().on_redis_error is OnRedisError.ALLOW
    assert pacing.pacer_get().on_redis_error is OnRedisError.LOCAL
    # The API passes everything; pacing keeps spacing a line's texts.
    assert all(throttling.rate_limit_hit(key="c", rate=0.01, burst=1).allowed for _ in range(3))
    slots = [
        pacing.line_slot_reserve(line_id="l", rate=Decimal("0.01"), max_wait=None) for _ in range(2)
    ]
    assert [slot.granted for slot in slots] == [True, True]
    assert slots[0].wait == 0
    assert 99 < slots[1].wait <= 100


# --- The one reload hook ------------------------------------------------------------------------


def test_changing_a_setting_rebuilds_what_was_built_from_it(settings: Any) -> None:
    from messaging.gateways import gateway_get

    api, pacer, gateway = throttling.limiter_get(), pacing.pacer_get(), gateway_get("simulator")
    settings.SMS_PACING_KEY_PREFIX = f"artera-test:{uuid.uuid4().hex}"
    assert pacing.pacer_get() is not pacer
    assert pacing.pacer_get().prefix == settings.SMS_PACING_KEY_PREFIX
    assert gateway_get("simulator") is not gateway  # SMS_* settings rebuild the gateways
    assert throttling.limiter_get() is api  # an unrelated setting leaves it alone
    settings.API_RATE_LIMIT_KEY_PREFIX = "artera-test:other"
    assert throttling.limiter_get() is not api
