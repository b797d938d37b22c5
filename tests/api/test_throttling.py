"""Per-client rate limits: 429 with Retry-After, one client's burst does not stop another."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from artera.ratelimit import OnRedisError
from messaging.models import Message
from practices.models import Practice
from tests.support.api import ApiCaller, assert_error, message_payload
from webhooks.api.throttling import limiter_get

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
    assert limiter_get().shared is None
    settings.API_RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:1/0"
    limiter = limiter_get()
    assert limiter.shared is not None
    assert limiter.on_redis_error is OnRedisError.ALLOW
    # An unreachable Redis does not stop traffic, however often it is asked.
    assert all(limiter.take("k", rate=1, burst=1).allowed for _ in range(3))


def test_api_requests_pass_while_redis_is_unreachable(
    api: ApiCaller, practice: Practice, settings: Any
) -> None:
    settings.API_RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:1/0"
    settings.API_RATE_LIMIT_PER_SECOND = 0.01
    settings.API_RATE_LIMIT_BURST = 1
    for _ in range(3):
        assert api.post(data=message_payload(practice)).status_code == 202
