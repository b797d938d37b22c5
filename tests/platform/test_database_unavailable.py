"""While the database cannot be reached, every entry answers 503 with Retry-After — the
contract's JSON under the integrator-facing prefixes, a short page for staff — never a 500.
(tests/deploy/test_database_restart.py does it for real, by stopping PostgreSQL.)"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import OperationalError, connection
from django.test import Client

from practices.models import Practice
from tests.factories import MembershipFactory, UserFactory
from webhooks.services import (
    ApiClientCredentials,
    call_to_text_workflow_create,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(practice: Practice) -> User:
    user: User = UserFactory()
    MembershipFactory(user=user, practice=practice)
    return user


@pytest.fixture
def database_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on every query fails as it does while PostgreSQL restarts."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)


def assert_json_503(response: Any) -> None:
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize(
    ("url", "auth"),
    [
        ("/api/v1/messages", {"HTTP_AUTHORIZATION": "Bearer some-token"}),
        ("/api/smapi/v1/messages", {"HTTP_X_API_KEY": "smapi_whatever"}),
    ],
)
def test_api_send(practice: Practice, database_down: None, url: str, auth: dict[str, str]) -> None:
    body = {"to": "+18185550101", "body": "Hi", "practice_id": str(practice.pk)}
    response = Client().post(url, body, content_type="application/json", **auth)
    assert_json_503(response)


@pytest.fixture
def workflow_token(practice: Practice) -> str:
    _, token = call_to_text_workflow_create(
        practice=practice, kind="call_to_text", message="We got your call"
    )
    return token


def test_token_endpoint(credentials: ApiClientCredentials, database_down: None) -> None:
    basic = base64.b64encode(f"{credentials.client_id}:{credentials.client_secret}".encode())
    response = Client().post(
        "/oauth/token/",
        "grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Basic {basic.decode()}",
    )
    assert_json_503(response)


def test_call_to_text(workflow_token: str, database_down: None) -> None:
    response = Client().get(
        f"/webhook/call-to-text/{workflow_token}/", {"CALLER_ID_NUMBER": "8185550101"}
    )
    assert_json_503(response)


@pytest.fixture
def staff_client(staff: User) -> Client:
    # The session is read (and written) by middleware around the view: handler500's part, which
    # reports the exception as Django does (the test client would re-raise it).
    client = Client(raise_request_exception=False)
    client.force_login(staff)
    return client


def test_inbox_page_for_staff(staff_client: Client, database_down: None) -> None:
    response = staff_client.get("/inbox/")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert b"Briefly unavailable" in response.content
    assert response["Retry-After"]
