"""Who may call MAPI: live tokens of active clients, with the scope, from allowed addresses; and
what they may see: their own enterprise's messages only."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from oauth2_provider.models import Application

from messaging.models import Message
from practices.models import Practice
from tests.factories import MessageFactory, access_token_create
from tests.support.api import MESSAGES_URL, ApiCaller, assert_error, basic_auth, message_payload
from webhooks.models import ApiClient
from webhooks.services import ApiClientCredentials

pytestmark = pytest.mark.django_db


def bearer(raw: str) -> ApiCaller:
    return ApiCaller(token=raw, client=Client())


def test_expired_token(practice: Practice, api_client: ApiClient) -> None:
    _, raw = access_token_create(
        application=api_client.application, expires_in=datetime.timedelta(seconds=-1)
    )
    assert_error(bearer(raw).post(data=message_payload(practice)), 401, "token_expired")


def test_token_of_an_application_without_api_client(practice: Practice) -> None:
    application = Application.objects.create(
        name="stray",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    _, raw = access_token_create(application=application)
    assert_error(bearer(raw).post(data=message_payload(practice)), 401, "invalid_token")


def test_switching_a_client_off_stops_its_tokens_at_once(
    api: ApiCaller, practice: Practice, api_client: ApiClient
) -> None:
    assert api.post(data=message_payload(practice)).status_code == 202
    api_client.is_active = False
    api_client.save(update_fields=["is_active"])
    assert_error(api.post(data=message_payload(practice)), 401, "inactive_client")
    assert Message.objects.count() == 1


def test_taking_a_scope_away_stops_it_at_once(
    api: ApiCaller, practice: Practice, api_client: ApiClient
) -> None:
    api_client.scopes = "messages:read"
    api_client.save(update_fields=["scopes"])
    assert_error(api.post(data=message_payload(practice)), 403, "insufficient_scope")


def test_a_narrowed_token_has_only_its_scope(
    practice: Practice, make_api: Callable[..., Any]
) -> None:
    reader, _ = make_api(token_scope="messages:read")
    assert_error(reader.post(data=message_payload(practice)), 403, "insufficient_scope")
    sender, _ = make_api(token_scope="messages:send")
    sent = sender.post(data=message_payload(practice)).json()
    assert_error(sender.get(f"{MESSAGES_URL}/{sent['id']}"), 403, "insufficient_scope")
    assert reader.get(f"{MESSAGES_URL}/{sent['id']}").status_code == 200


def test_ip_allowlist(practice: Practice, make_api: Callable[..., Any]) -> None:
    caller, _ = make_api(allowed_ips="127.0.0.1\n203.0.113.0/24, 2001:db8::/32")
    for address in ("127.0.0.1", "203.0.113.77", "2001:db8::5", "::ffff:203.0.113.8"):
        response = caller.post(data=message_payload(practice), REMOTE_ADDR=address)
        assert response.status_code == 202, (address, response.content)
    for address in ("203.0.114.1", "10.0.0.1", "2001:db9::1"):
        response = caller.post(data=message_payload(practice), REMOTE_ADDR=address)
        assert_error(response, 403, "ip_not_allowed")


def test_ip_allowlist_behind_a_proxy(
    practice: Practice, make_api: Callable[..., Any], settings: Any
) -> None:
    caller, _ = make_api(allowed_ips="127.0.0.1, 203.0.113.5")
    settings.TRUSTED_PROXY_COUNT = 1
    # The load balancer (REMOTE_ADDR) appended the real caller; what the caller wrote before
    # that proves nothing.
    ok = caller.post(
        data=message_payload(practice),
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.5",
    )
    assert ok.status_code == 202, ok.content
    spoofed = caller.post(
        data=message_payload(practice),
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="203.0.113.5, 198.51.100.1",
    )
    assert_error(spoofed, 403, "ip_not_allowed")


def test_directly_exposed_a_forged_forwarded_for_does_not_pass_the_allowlist(
    practice: Practice, make_api: Callable[..., Any], settings: Any
) -> None:
    """TRUSTED_PROXY_COUNT=0: the app's port faces the callers, so X-Forwarded-For is whatever
    the caller wrote, and counts for nothing."""
    caller, creds = make_api(allowed_ips="127.0.0.1, 203.0.113.5")
    settings.TRUSTED_PROXY_COUNT = 0
    for forged in ("203.0.113.5", "198.51.100.1, 203.0.113.5", "203.0.113.5, 203.0.113.5"):
        response = caller.post(
            data=message_payload(practice),
            REMOTE_ADDR="198.51.100.1",
            HTTP_X_FORWARDED_FOR=forged,
        )
        assert_error(response, 403, "ip_not_allowed")
    token = Client().post(
        "/oauth/token/",
        "grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic_auth(creds.client_id, creds.client_secret),
        REMOTE_ADDR="198.51.100.1",
        HTTP_X_FORWARDED_FOR="203.0.113.5",
    )
    assert token.status_code == 403
    assert token.json()["error"] == "ip_not_allowed"


@pytest.mark.parametrize(
    "forwarded", ["", "unknown", "203.0.113.5, junk", "[::1", "203.0.113.5\x00", "9" * 4000]
)
def test_behind_a_proxy_a_malformed_forwarded_for_is_refused_not_an_error(
    practice: Practice, make_api: Callable[..., Any], settings: Any, forwarded: str
) -> None:
    caller, _ = make_api(allowed_ips="127.0.0.1, 203.0.113.5")  # the token: from 127.0.0.1
    settings.TRUSTED_PROXY_COUNT = 1
    response = caller.post(
        data=message_payload(practice), REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded
    )
    assert_error(response, 403, "ip_not_allowed")


@pytest.mark.parametrize("forwarded", ["", "unknown", "[::1", "9" * 4000])
def test_a_malformed_forwarded_for_without_an_allowlist_is_no_error(
    api: ApiCaller, practice: Practice, settings: Any, forwarded: str
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    response = api.post(
        data=message_payload(practice), REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded
    )
    assert response.status_code == 202, response.content


def test_other_enterprises_messages_are_404(api: ApiCaller, foreign_practice: Practice) -> None:
    foreign = MessageFactory(channel__line=foreign_practice.lines.get())
    assert_error(api.get(f"{MESSAGES_URL}/{foreign.pk}"), 404, "not_found", None)


@pytest.mark.parametrize("message_id", ["nope", "00000000-0000-0000-0000-000000000000", "1"])
def test_unknown_or_malformed_message_ids_are_404(api: ApiCaller, message_id: str) -> None:
    assert_error(api.get(f"{MESSAGES_URL}/{message_id}"), 404, "not_found", None)


def test_read_needs_a_token(api: ApiCaller, practice: Practice) -> None:
    sent = api.post(data=message_payload(practice)).json()
    response = Client().get(f"{MESSAGES_URL}/{sent['id']}")
    assert_error(response, 401, "not_authenticated", None)


def test_credentials_of_another_enterprise_see_nothing_of_ours(
    api: ApiCaller,
    practice: Practice,
    foreign_practice: Practice,
    make_api: Callable[..., tuple[ApiCaller, ApiClientCredentials]],
) -> None:
    sent = api.post(data=message_payload(practice)).json()
    outsider, _ = make_api(enterprise=foreign_practice.enterprise)
    assert_error(outsider.get(f"{MESSAGES_URL}/{sent['id']}"), 404, "not_found")
    response = outsider.post(data=message_payload(practice))
    assert_error(response, 422, "unknown_practice", "practice_id")
