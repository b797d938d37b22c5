"""PHI is never cached: every inbox page, thread, live fragment and action answer, and the API's
message read, say `Cache-Control: no-store` (like the portal and the admin)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from channels_app.models import PatientChannel
from inbox.selectors import inbox_stamp
from tests.factories import MessageFactory
from tests.support import channel_url, client_for
from webhooks.services import api_client_create

HTMX = {"HTTP_HX_REQUEST": "true"}


def _assert_no_store(response: Any) -> None:
    cache_control = response.get("Cache-Control", "")
    assert "no-store" in cache_control, (response.status_code, cache_control)
    assert "private" in cache_control, cache_control


# (method, url template, form data, htmx?, expected status)
STAFF_REQUESTS = [
    ("get", "/inbox/", None, False, 200),
    ("get", "/inbox/?status=all&q=Ana", None, False, 200),
    ("get", "/inbox/live/", None, True, 200),
    ("get", "/inbox/live/?since={inbox_stamp}", None, True, 204),
    ("get", "/inbox/mentions/", None, False, 200),
    ("get", "/inbox/phrases/", None, False, 200),
    ("get", "/inbox/practices/{practice}/quick-responses/", None, False, 200),
    ("get", "{channel}", None, False, 200),
    ("get", "{channel}live/", None, True, 200),
    ("get", "{channel}older/?before=", None, True, 200),
    ("post", "{channel}presence/", {}, True, 200),
    ("post", "{channel}send/", {"body": "See you at 9", "seen": "{message}"}, True, 200),
    ("post", "{channel}send/", {"body": ""}, True, 200),  # the composer with its error
    ("post", "{channel}notes/", {"body": "Called the patient"}, True, 200),
    ("post", "{channel}status/", {"action": "close"}, True, 200),
    ("post", "{channel}assign/", {"assignee": "me"}, True, 200),
    ("post", "{channel}star/", {}, True, 200),
    ("get", "/inbox/session/", None, False, 200),
    ("post", "/inbox/session/", {}, False, 200),
]


@pytest.mark.parametrize(
    ("method", "url", "data", "htmx", "status"),
    STAFF_REQUESTS,
    ids=[f"{m} {u} {'htmx' if h else ''}".strip() for m, u, _, h, _s in STAFF_REQUESTS],
)
def test_every_staff_page_and_fragment_is_no_store(  # type: ignore[no-untyped-def]
    manager_a, verified_channel: PatientChannel, method: str, url: str, data, htmx: bool, status
) -> None:
    message = MessageFactory(channel=verified_channel, body="Ana's text")
    values = {
        "channel": channel_url(verified_channel),
        "practice": verified_channel.practice_id,
        "message": message.pk,
    }
    c = client_for(manager_a)
    if "{inbox_stamp}" in url:
        values["inbox_stamp"] = inbox_stamp(user=manager_a)
    target = url.format(**values)
    form = {k: v.format(**values) for k, v in data.items()} if data is not None else None
    extra = HTMX if htmx else {}
    response = c.get(target, **extra) if method == "get" else c.post(target, form, **extra)
    assert response.status_code == status, response.content[:300]
    _assert_no_store(response)


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx poll", "page"])
def test_a_signed_out_poll_or_page_is_no_store_too(
    verified_channel: PatientChannel, htmx: bool
) -> None:
    response = Client().get(channel_url(verified_channel, "live/"), **(HTMX if htmx else {}))
    assert response.status_code == (204 if htmx else 302)
    _assert_no_store(response)


def _token(credentials: Any) -> str:
    basic = base64.b64encode(
        f"{credentials.client_id}:{credentials.client_secret}".encode()
    ).decode()
    response = Client().post(
        "/oauth/token/",
        urlencode({"grant_type": "client_credentials", "scope": "messages:read"}),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert response.status_code == 200, response.content
    return str(response.json()["access_token"])


@pytest.mark.parametrize("which", ["own", "unknown"])
def test_the_api_message_read_is_no_store(verified_channel: PatientChannel, which: str) -> None:
    message = MessageFactory(channel=verified_channel, body="Ana's text")
    credentials = api_client_create(enterprise=verified_channel.practice.enterprise, name="EMR")
    message_id = message.pk if which == "own" else "00000000-0000-0000-0000-000000000000"
    response = Client().get(
        f"/api/v1/messages/{message_id}", HTTP_AUTHORIZATION=f"Bearer {_token(credentials)}"
    )
    assert response.status_code == (200 if which == "own" else 404)
    assert response["Content-Type"].startswith("application/json")
    if which == "own":
        assert response.json()["body"] == "Ana's text"
    _assert_no_store(response)
