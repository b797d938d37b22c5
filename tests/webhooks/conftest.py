"""Fixtures for the integrator API: an enterprise with a practice and an API client, tokens got
through /oauth/token/, a client that sends JSON with a bearer token, and a fake DNS.

Tasks run in-process (even when REDIS_URL names a broker), so a text that is committed reaches
the simulated carrier before the request returns.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from artera.celery import app as celery_app
from practices.models import Enterprise, Practice
from tests.factories import (
    EnterpriseFactory,
)
from tests.support import dns_answers, make_practice, own_rate_limits, simulated_carrier
from webhooks.models import ApiClient
from webhooks.services import ApiClientCredentials, api_client_create

MESSAGES_URL = "/api/v1/messages"
TOKEN_URL = "/oauth/token/"

# The fake DNS: these names resolve, every other one does not exist.
PUBLIC_HOSTS = {
    "emr.example.org": ["93.184.215.14"],
    "hooks.example.com": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
}
PRIVATE_HOSTS = {
    "intranet.example.org": ["10.1.2.3"],
    "sneaky.example.org": ["93.184.215.14", "169.254.169.254"],
}


@pytest.fixture(autouse=True)
def _api_test_settings(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    simulated_carrier(settings)
    own_rate_limits(settings)
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    settings.TRUSTED_PROXY_COUNT = 0
    settings.API_TOKEN_RATE_LIMIT_PER_SECOND = 1000
    settings.API_TOKEN_RATE_LIMIT_BURST = 1000
    was_eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    hosts = {**PUBLIC_HOSTS, **PRIVATE_HOSTS, "localhost": ["127.0.0.1", "::1"]}
    with dns_answers(monkeypatch, hosts):
        yield
    celery_app.conf.task_always_eager = was_eager


@pytest.fixture
def foreign_practice(db: None) -> Practice:
    """Another enterprise's practice: invisible to Acme's clients."""
    return make_practice(EnterpriseFactory(name="Other Health"), "Other Clinic", "DEP100")


@pytest.fixture
def credentials(enterprise: Enterprise) -> ApiClientCredentials:
    return api_client_create(enterprise=enterprise, name="Epic")


@pytest.fixture
def api_client(credentials: ApiClientCredentials) -> ApiClient:
    return credentials.api_client


def basic_auth(client_id: str, client_secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()


def token_request(form: dict[str, str], **extra: Any) -> Any:
    """POST a form-encoded token request, as OAuth clients do."""
    return Client().post(
        TOKEN_URL, urlencode(form), content_type="application/x-www-form-urlencoded", **extra
    )


def token_response(credentials: ApiClientCredentials, **form: str) -> Any:
    return token_request(
        {"grant_type": "client_credentials", **form},
        HTTP_AUTHORIZATION=basic_auth(credentials.client_id, credentials.client_secret),
    )


def get_token(credentials: ApiClientCredentials, **form: str) -> str:
    response = token_response(credentials, **form)
    assert response.status_code == 200, response.content
    return str(response.json()["access_token"])


@dataclass
class ApiCaller:
    """A test client that speaks JSON with a bearer token (or none)."""

    token: str | None
    client: Client

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **(extra or {})}

    def post(
        self,
        path: str = MESSAGES_URL,
        data: Any = None,
        *,
        raw: bytes | str | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> Any:
        payload = raw if raw is not None else data
        return self.client.post(
            path, payload, content_type=content_type, headers=self.headers(headers), **extra
        )

    def get(self, path: str, headers: dict[str, str] | None = None, **extra: Any) -> Any:
        return self.client.get(path, headers=self.headers(headers), **extra)


@pytest.fixture
def token(credentials: ApiClientCredentials) -> str:
    return get_token(credentials)


@pytest.fixture
def api(token: str) -> ApiCaller:
    return ApiCaller(token=token, client=Client())


@pytest.fixture
def make_api(enterprise: Enterprise) -> Callable[..., tuple[ApiCaller, ApiClientCredentials]]:
    """Another client of the enterprise (or of `enterprise=`), with its own token."""

    def make(**kwargs: Any) -> tuple[ApiCaller, ApiClientCredentials]:
        scope = kwargs.pop("token_scope", None)
        kwargs.setdefault("enterprise", enterprise)
        kwargs.setdefault("name", f"Client {uuid.uuid4().hex[:6]}")
        creds = api_client_create(**kwargs)
        form = {"scope": scope} if scope else {}
        return ApiCaller(token=get_token(creds, **form), client=Client()), creds

    return make


def message_payload(practice: Practice, **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "to": "+18185550101",
        "body": "Your appointment is tomorrow at 9:00.",
        "practice_id": str(practice.pk),
    }
    payload.update(overrides)
    return {key: value for key, value in payload.items() if value is not ...}


ANY_FIELD = object()


def assert_error(response: Any, status: int, code: str, field: object = ANY_FIELD) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "field"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"], body
    if field is not ANY_FIELD:
        assert body["error"]["field"] == field, body
