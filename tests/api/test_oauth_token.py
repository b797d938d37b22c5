"""POST /oauth/token/: client credentials only, a client's own scopes only, active clients only."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, RefreshToken

from tests.support.api import TOKEN_URL, basic_auth, get_token, token_request, token_response
from webhooks.services import ApiClientCredentials, api_client_create

pytestmark = pytest.mark.django_db


def oauth_error(response: Any, status: int, error: str) -> None:
    """Token errors are OAuth 2.0's own JSON (RFC 6749 §5.2), which OAuth libraries parse."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == error, body
    assert body["error_description"]


def test_basic_auth_gets_a_bearer_token_for_one_hour(credentials: ApiClientCredentials) -> None:
    response = token_response(credentials)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert set(body["scope"].split()) == {"messages:send", "messages:read"}
    assert "refresh_token" not in body
    assert response["Cache-Control"] == "no-store"
    stored = AccessToken.objects.get()
    assert stored.application.api_client == credentials.api_client
    assert stored.user is None
    assert (
        datetime.timedelta(minutes=59)
        < stored.expires - timezone.now()
        <= datetime.timedelta(hours=1)
    )
    # RFC 9700 storage: only a checksum of the token is kept.
    assert stored.token == ""
    assert body["access_token"] not in stored.token_checksum
    assert not RefreshToken.objects.exists()


def test_form_fields_work_too(credentials: ApiClientCredentials) -> None:
    response = token_request(
        {
            "grant_type": "client_credentials",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
        }
    )
    assert response.status_code == 200
    assert response.json()["access_token"]


def test_client_secret_is_stored_hashed(credentials: ApiClientCredentials) -> None:
    application = Application.objects.get(client_id=credentials.client_id)
    assert application.client_secret != credentials.client_secret
    assert credentials.client_secret not in application.client_secret


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [("right", "wrong"), ("unknown", "right"), ("right", "")],
)
def test_bad_credentials_are_invalid_client(
    credentials: ApiClientCredentials, client_id: str, secret: str
) -> None:
    cid = credentials.client_id if client_id == "right" else "nobody"
    sec = credentials.client_secret if secret == "right" else secret
    response = token_request(
        {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=basic_auth(cid, sec)
    )
    oauth_error(response, 401, "invalid_client")
    assert not AccessToken.objects.exists()


def test_no_credentials_at_all(db: None) -> None:
    oauth_error(token_request({"grant_type": "client_credentials"}), 401, "invalid_client")


def test_inactive_client_gets_no_token(credentials: ApiClientCredentials) -> None:
    credentials.api_client.is_active = False
    credentials.api_client.save(update_fields=["is_active"])
    oauth_error(token_response(credentials), 401, "invalid_client")
    assert not AccessToken.objects.exists()


def test_application_without_api_client_gets_no_token(credentials: ApiClientCredentials) -> None:
    """A DOT application made by hand (no enterprise behind it) is worthless."""
    credentials.api_client.delete()
    oauth_error(token_response(credentials), 401, "invalid_client")


def test_a_client_gets_only_its_own_scopes(enterprise: Any) -> None:
    creds = api_client_create(enterprise=enterprise, name="Reader", scopes=["messages:read"])
    # Asking for nothing gets what the client may have.
    assert token_response(creds).json()["scope"] == "messages:read"
    # Asking for a scope it was not granted is refused outright, alone or with another.
    oauth_error(token_response(creds, scope="messages:send"), 400, "invalid_scope")
    oauth_error(token_response(creds, scope="messages:read messages:send"), 400, "invalid_scope")
    oauth_error(token_response(creds, scope="admin"), 400, "invalid_scope")
    assert AccessToken.objects.count() == 1


def test_a_client_may_narrow_its_scopes(credentials: ApiClientCredentials) -> None:
    assert token_response(credentials, scope="messages:read").json()["scope"] == "messages:read"


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", "refresh_token", "x"])
def test_other_grants_are_unsupported(credentials: ApiClientCredentials, grant_type: str) -> None:
    response = token_request(
        {"grant_type": grant_type, "username": "a", "password": "b", "code": "c"},
        HTTP_AUTHORIZATION=basic_auth(credentials.client_id, credentials.client_secret),
    )
    oauth_error(response, 400, "unsupported_grant_type")


def test_missing_grant_type(credentials: ApiClientCredentials) -> None:
    response = token_request(
        {}, HTTP_AUTHORIZATION=basic_auth(credentials.client_id, credentials.client_secret)
    )
    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_request", "unsupported_grant_type"}


def test_ip_allowlist_applies_to_tokens(enterprise: Any) -> None:
    creds = api_client_create(enterprise=enterprise, name="Locked", allowed_ips="203.0.113.0/24")
    oauth_error(token_response(creds), 403, "ip_not_allowed")
    response = token_request(
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(creds.client_id, creds.client_secret),
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 200


def test_get_is_405_json(db: None) -> None:
    response = Client().get(TOKEN_URL)
    oauth_error(response, 405, "invalid_request")
    assert response["Allow"] == "POST"


def test_json_body_is_415(credentials: ApiClientCredentials) -> None:
    response = Client().post(
        TOKEN_URL,
        {"grant_type": "client_credentials"},
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth(credentials.client_id, credentials.client_secret),
    )
    oauth_error(response, 415, "invalid_request")


def test_oversized_body_is_413(credentials: ApiClientCredentials) -> None:
    response = token_request(
        {"grant_type": "client_credentials", "pad": "x" * 20_000},
        HTTP_AUTHORIZATION=basic_auth(credentials.client_id, credentials.client_secret),
    )
    oauth_error(response, 413, "invalid_request")


def test_token_requests_are_rate_limited_per_ip(
    credentials: ApiClientCredentials, settings: Any
) -> None:
    settings.API_TOKEN_RATE_LIMIT_PER_SECOND = 0.01
    settings.API_TOKEN_RATE_LIMIT_BURST = 2
    assert token_response(credentials).status_code == 200
    assert token_response(credentials).status_code == 200
    response = token_response(credentials)
    oauth_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1
    # Another address is not held up.
    other = token_request(
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(credentials.client_id, credentials.client_secret),
        REMOTE_ADDR="198.51.100.7",
    )
    assert other.status_code == 200


def test_unknown_oauth_path_is_json_404(db: None) -> None:
    response = Client().get("/oauth/authorize/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_token_works_on_the_api(credentials: ApiClientCredentials, practice: Any) -> None:
    token = get_token(credentials)
    response = Client().get(
        "/api/v1/messages/00000000-0000-0000-0000-000000000000",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 404  # authenticated: the message just does not exist
