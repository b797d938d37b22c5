"""A bearer token's client is remembered per process for `API_TOKEN_CACHE_SECONDS`: a steady
caller costs no query to authenticate, and what another process changes (a token revoked, a
client switched off, a scope taken away, an allowlist narrowed) holds within that delay."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import AccessToken

from practices.models import Practice
from tests.factories import access_token_create
from tests.support.api import ApiCaller, assert_error, message_payload
from webhooks.api.authentication import token_cache
from webhooks.models import ApiClient

pytestmark = pytest.mark.django_db

DELAY = 5.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(settings: Any) -> Iterator[Clock]:
    settings.API_TOKEN_CACHE_SECONDS = DELAY
    fake = Clock()
    token_cache().clock = fake
    yield fake
    token_cache().forget_all()


def token_queries(api: ApiCaller, practice: Practice) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api.post(data=message_payload(practice))
    assert response.status_code == 202, response.content
    return sum("oauth2_provider_accesstoken" in q["sql"] for q in captured.captured_queries)


def test_a_steady_caller_costs_no_token_query(
    api: ApiCaller, practice: Practice, clock: Clock
) -> None:
    assert token_queries(api, practice) == 1
    assert token_queries(api, practice) == 0
    clock.now += DELAY
    assert token_queries(api, practice) == 1


def test_zero_turns_the_cache_off(api: ApiCaller, practice: Practice, settings: Any) -> None:
    settings.API_TOKEN_CACHE_SECONDS = 0
    assert token_queries(api, practice) == 1
    assert token_queries(api, practice) == 1


def _revoke_elsewhere(token: str) -> None:
    # Another process's change: no signal reaches this one.
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM oauth2_provider_accesstoken WHERE token_checksum = %s",
            [hashlib.sha256(token.encode()).hexdigest()],
        )


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        pytest.param("revoke", 401, "invalid_token", id="token-revoked"),
        pytest.param("switch_off", 401, "inactive_client", id="client-switched-off"),
        pytest.param("scope", 403, "insufficient_scope", id="scope-taken-away"),
        pytest.param("allowlist", 403, "ip_not_allowed", id="allowlist-narrowed"),
    ],
)
def test_a_change_made_elsewhere_holds_within_the_delay(
    api: ApiCaller,
    token: str,
    practice: Practice,
    api_client: ApiClient,
    clock: Clock,
    change: str,
    status: int,
    code: str,
) -> None:
    assert api.post(data=message_payload(practice)).status_code == 202
    clients = ApiClient.objects.filter(pk=api_client.pk)  # `update` sends no signal
    if change == "revoke":
        _revoke_elsewhere(token)
    elif change == "switch_off":
        clients.update(is_active=False)
    elif change == "scope":
        clients.update(scopes="messages:read")
    else:
        clients.update(allowed_ips=["192.0.2.0/24"])
    clock.now += DELAY - 0.1
    assert api.post(data=message_payload(practice)).status_code == 202
    clock.now += 0.1
    assert_error(api.post(data=message_payload(practice)), status, code)


def test_a_change_made_here_holds_at_once(
    api: ApiCaller, practice: Practice, api_client: ApiClient, clock: Clock
) -> None:
    assert api.post(data=message_payload(practice)).status_code == 202
    api_client.scopes = "messages:read"
    api_client.save(update_fields=["scopes"])
    assert_error(api.post(data=message_payload(practice)), 403, "insufficient_scope")


def test_a_token_refused_once_works_as_soon_as_it_exists(
    practice: Practice, api_client: ApiClient, clock: Clock
) -> None:
    """Refusals are not remembered: only tokens that were found are."""
    access_token, raw = access_token_create(application=api_client.application)
    AccessToken.objects.filter(pk=access_token.pk).update(application=None)
    caller = ApiCaller(token=raw, client=Client())
    assert_error(caller.post(data=message_payload(practice)), 401, "invalid_token")
    AccessToken.objects.filter(pk=access_token.pk).update(application=api_client.application)
    assert caller.post(data=message_payload(practice)).status_code == 202
