"""Per-client rate limits: 429 with Retry-After, one client's burst does not stop another."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from messaging.models import Message
from practices.models import Practice
from webhooks.api.throttling import LocalLimiter, RedisLimiter, limiter_get

from .conftest import ApiCaller, assert_error, message_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight_limit(settings: Any) -> None:
    settings.API_RATE_LIMIT_PER_SECOND = 0.01
    settings.API_RATE_LIMIT_BURST = 3


def test_burst_then_429_with_retry_after(
    api: ApiCaller, practice: Practice, tight_limit: None
) -> None:
    for _ in range(3):
        assert api.post(data=message_payload(practice)).status_code == 202
    response = api.post(data=message_payload(practice))
    assert_error(response, 429, "rate_limited", None)
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 100
    assert Message.objects.count() == 3


def test_reads_count_too(api: ApiCaller, practice: Practice, tight_limit: None) -> None:
    sent = api.post(data=message_payload(practice)).json()
    api.get(f"/api/v1/messages/{sent['id']}")
    api.get(f"/api/v1/messages/{sent['id']}")
    assert_error(api.get(f"/api/v1/messages/{sent['id']}"), 429, "rate_limited")


def test_limits_are_per_client(
    api: ApiCaller, practice: Practice, make_api: Callable[..., Any], tight_limit: None
) -> None:
    for _ in range(3):
        api.post(data=message_payload(practice))
    assert api.post(data=message_payload(practice)).status_code == 429
    other, _ = make_api()
    assert other.post(data=message_payload(practice)).status_code == 202


def test_unauthenticated_requests_are_refused_before_counting(
    practice: Practice, tight_limit: None
) -> None:
    from django.test import Client

    for _ in range(5):
        response = Client().post("/api/v1/messages", {}, content_type="application/json")
        assert response.status_code == 401


def test_zero_turns_the_limit_off(api: ApiCaller, practice: Practice, settings: Any) -> None:
    settings.API_RATE_LIMIT_PER_SECOND = 0
    settings.API_RATE_LIMIT_BURST = 1
    for _ in range(5):
        assert api.post(data=message_payload(practice)).status_code == 202


def test_the_limiter_is_shared_through_redis_when_configured(settings: Any) -> None:
    settings.API_RATE_LIMIT_REDIS_URL = ""
    assert isinstance(limiter_get(), LocalLimiter)
    settings.API_RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:1/0"
    limiter = limiter_get()
    assert isinstance(limiter, RedisLimiter)
    # An unreachable Redis does not stop traffic.
    assert limiter.hit(key="k", rate=1, burst=1).allowed


def test_gcra_arithmetic() -> None:
    limiter = LocalLimiter()
    decisions = [limiter.hit(key="a", rate=1, burst=2) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert 0 < decisions[2].retry_after <= 1
    assert limiter.hit(key="b", rate=1, burst=2).allowed


def test_redis_limiter_against_a_real_redis(settings: Any) -> None:
    import uuid

    import redis

    url = settings.REDIS_URL
    if not url:
        pytest.skip("needs Redis: set REDIS_URL=redis://… to run it")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"Redis at {url} is not reachable")
    limiter = RedisLimiter(url, f"artera-test:{uuid.uuid4().hex}")
    decisions = [limiter.hit(key="client", rate=1, burst=2) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert 0 < decisions[2].retry_after <= 1
    # A second process (another limiter on the same Redis) sees the same count.
    other = RedisLimiter(url, limiter._prefix)
    assert not other.hit(key="client", rate=1, burst=2).allowed
