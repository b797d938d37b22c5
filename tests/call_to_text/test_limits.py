"""Protection against SMS pumping and misuse: per-token and per-caller rate limits (429 with
Retry-After), and the workflow's IP allowlist (403)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from messaging.models import Message
from tests.support.call_to_text import Hit
from webhooks.api import throttling
from webhooks.models import CallToTextCall, CallToTextWorkflow

pytestmark = pytest.mark.django_db


def test_per_token_limit(hit: Hit, token: str, settings: Any) -> None:
    settings.CALL_TO_TEXT_RATE_PER_MINUTE = 1
    settings.CALL_TO_TEXT_RATE_BURST = 3
    statuses = [hit(token, f"818555{n:04d}").status_code for n in range(200, 204)]
    assert statuses == [202, 202, 202, 429]
    limited = hit(token, "8185550299")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert Message.objects.count() == 3


def test_the_token_limit_counts_every_hit(hit: Hit, token: str, settings: Any) -> None:
    """Refused hits (bad numbers) count too: a leaked URL cannot be probed at full speed."""
    settings.CALL_TO_TEXT_RATE_PER_MINUTE = 1
    settings.CALL_TO_TEXT_RATE_BURST = 2
    assert hit(token, "nonsense").status_code == 400
    assert hit(token, "nonsense").status_code == 400
    assert hit(token).status_code == 429


def test_token_limits_are_per_workflow(
    hit: Hit, token: str, make_workflow: Callable[..., Any], settings: Any
) -> None:
    settings.CALL_TO_TEXT_RATE_PER_MINUTE = 1
    settings.CALL_TO_TEXT_RATE_BURST = 1
    _, other = make_workflow(kind=CallToTextWorkflow.Kind.ABANDONED_CALL)
    assert hit(token, "8185550201").status_code == 202
    assert hit(token, "8185550202").status_code == 429
    assert hit(other, "8185550202").status_code == 202


def test_per_caller_limit_across_workflows(
    hit: Hit, make_workflow: Callable[..., Any], settings: Any
) -> None:
    settings.CALL_TO_TEXT_CALLER_RATE_PER_HOUR = 1
    settings.CALL_TO_TEXT_CALLER_RATE_BURST = 2
    tokens = [make_workflow(language=lang)[1] for lang in ("en", "es", "vi")]
    assert [hit(t).status_code for t in tokens] == [202, 202, 429]
    limited = hit(tokens[2])
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited["Retry-After"]) > 60
    assert hit(tokens[2], "8185550143").status_code == 202  # another caller
    refused = CallToTextCall.objects.filter(outcome="refused")
    assert {c.error_code for c in refused} == {"rate_limited"}


def test_deduplicated_hits_do_not_use_up_the_caller_limit(
    hit: Hit, token: str, settings: Any
) -> None:
    settings.CALL_TO_TEXT_CALLER_RATE_PER_HOUR = 1
    settings.CALL_TO_TEXT_CALLER_RATE_BURST = 1
    assert hit(token).status_code == 202
    assert [hit(token).status_code for _ in range(3)] == [200, 200, 200]


def test_limits_are_off_when_redis_is_down(hit: Hit, token: str, settings: Any) -> None:
    """A rate limiter must never stop patient messages (the shared limiter's rule)."""
    settings.API_RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:1/0"
    settings.CALL_TO_TEXT_RATE_BURST = 1
    settings.CALL_TO_TEXT_RATE_PER_MINUTE = 1
    assert throttling.limiter_get().shared is not None
    assert hit(token, "8185550201").status_code == 202
    assert hit(token, "8185550202").status_code == 202


@pytest.mark.parametrize(
    ("allowlist", "address", "status"),
    [
        ("198.51.100.7", "198.51.100.7", 202),
        ("198.51.100.0/24", "198.51.100.250", 202),
        ("203.0.113.9\n198.51.100.0/24", "198.51.100.1", 202),
        ("2001:db8::/32", "2001:db8::5", 202),
        ("198.51.100.7", "198.51.100.8", 403),
        ("198.51.100.0/24", "127.0.0.1", 403),
        ("", "203.0.113.50", 202),
    ],
)
def test_ip_allowlist(
    hit: Hit,
    make_workflow: Callable[..., Any],
    allowlist: str,
    address: str,
    status: int,
) -> None:
    _, token = make_workflow(allowed_ips=allowlist)
    response = hit(token, REMOTE_ADDR=address)
    assert response.status_code == status
    if status == 403:
        assert response.json()["error"]["code"] == "ip_not_allowed"
        assert not Message.objects.exists()


def test_forwarded_for_is_trusted_only_behind_a_proxy(
    hit: Hit, make_workflow: Callable[..., Any], settings: Any
) -> None:
    _, token = make_workflow(allowed_ips="198.51.100.7")
    spoofed = {"REMOTE_ADDR": "203.0.113.1", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    assert hit(token, **spoofed).status_code == 403
    settings.TRUSTED_PROXY_COUNT = 1
    assert hit(token, **spoofed).status_code == 202
