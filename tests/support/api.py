"""Helpers of the integrator API's tests: token requests as OAuth clients make them, a client
that speaks JSON with a bearer token, a message payload, and the contract's error shape."""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db import connections
from django.test import Client

from practices.models import Practice
from webhooks.services import ApiClientCredentials

MESSAGES_URL = "/api/v1/messages"
TOKEN_URL = "/oauth/token/"

# The fake DNS of the API's tests: these names resolve, every other one does not exist.
PUBLIC_HOSTS = {
    "emr.example.org": ["93.184.215.14"],
    "hooks.example.com": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
}
PRIVATE_HOSTS = {
    "intranet.example.org": ["10.1.2.3"],
    "sneaky.example.org": ["93.184.215.14", "169.254.169.254"],
}


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


def post_all_at_once(
    url: str, token: str, bodies: list[dict[str, Any]], *, headers: dict[str, str] | None = None
) -> list[Any]:
    """POST each body to `url` from a thread of its own, all released at one moment (a
    barrier), each thread on its own database connection; the responses in `bodies`' order.
    A server error is a 500 response here, for the test to assert on."""
    barrier = threading.Barrier(len(bodies))
    responses: list[Any] = [None] * len(bodies)
    errors: list[BaseException] = []

    def post(index: int) -> None:
        try:
            client = Client(raise_request_exception=False)
            barrier.wait(timeout=30)
            responses[index] = client.post(
                url,
                bodies[index],
                content_type="application/json",
                headers={"Authorization": f"Bearer {token}", **(headers or {})},
            )
        except BaseException as exc:  # reported by the test thread below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return responses
