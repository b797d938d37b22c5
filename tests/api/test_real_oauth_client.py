"""A real OAuth 2.0 client library (requests-oauthlib) against a real server: get a token with
client credentials, send a text, read its delivery status, and see it at the carrier."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from oauthlib.oauth2 import BackendApplicationClient, InvalidClientError, InvalidScopeError
from requests_oauthlib import OAuth2Session

from practices.models import Practice
from webhooks.services import ApiClientCredentials, api_client_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _plain_http_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    # oauthlib refuses http:// unless told this is a test on loopback.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def session_for(credentials: ApiClientCredentials, live_server: Any, **kwargs: Any) -> Any:
    session = OAuth2Session(client=BackendApplicationClient(client_id=credentials.client_id))
    session.fetch_token(
        token_url=f"{live_server.url}/oauth/token/",
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,  # sent with HTTP Basic
        **kwargs,
    )
    return session


def test_token_send_and_read(
    live_server: Any, credentials: ApiClientCredentials, practice: Practice
) -> None:
    session = session_for(credentials, live_server)
    assert session.token["token_type"] == "Bearer"
    assert session.token["expires_in"] == 3600

    response = session.post(
        f"{live_server.url}/api/v1/messages",
        json={"to": "(818) 555-0142", "body": "Hello from the EMR", "location_id": "DEP100"},
        headers={"Idempotency-Key": "emr-order-1"},
    )
    assert response.status_code == 202, response.text
    sent = response.json()
    assert (sent["status"], sent["to"]) == ("received", "+18185550142")

    # Tasks run in-process here: by the time the POST returned, the carrier had it.
    status = session.get(f"{live_server.url}/api/v1/messages/{sent['id']}").json()
    assert status["status"] == "delivered"
    assert [s["status"] for s in status["status_history"]] == ["received", "sent", "delivered"]
    carried = requests.get(
        f"{live_server.url}/simulator/api/messages", params={"to": "+18185550142"}, timeout=10
    ).json()["results"]
    assert [t["body"] for t in carried] == ["Hello from the EMR"]

    retry = session.post(
        f"{live_server.url}/api/v1/messages",
        json={"to": "(818) 555-0142", "body": "Hello from the EMR", "location_id": "DEP100"},
        headers={"Idempotency-Key": "emr-order-1"},
    )
    assert retry.json() == sent
    assert retry.headers["Idempotent-Replayed"] == "true"


def test_the_library_understands_our_errors(
    live_server: Any, credentials: ApiClientCredentials, enterprise: Any
) -> None:
    wrong = ApiClientCredentials(
        api_client=credentials.api_client,
        client_id=credentials.client_id,
        client_secret="wrong",
        webhook_secret="",
    )
    with pytest.raises(InvalidClientError):
        session_for(wrong, live_server)
    reader = api_client_create(enterprise=enterprise, name="Reader", scopes=["messages:read"])
    with pytest.raises(InvalidScopeError):
        session_for(reader, live_server, scope=["messages:send"])
