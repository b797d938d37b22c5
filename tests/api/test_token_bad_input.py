"""Garbage at POST /oauth/token/ is a clear OAuth JSON 4xx, never a 500, and issues nothing."""

from __future__ import annotations

import base64

import pytest
from django.test import Client
from oauth2_provider.models import AccessToken

from tests.support.api import TOKEN_URL
from webhooks.services import ApiClientCredentials

pytestmark = pytest.mark.django_db


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


class Basic(bytes):
    """Basic credentials, encoded once `{id}` and `{secret}` are filled in."""


def _fill(value: bytes, credentials: ApiClientCredentials) -> bytes:
    """`{id}` and `{secret}` replaced by the real client's credentials."""
    return value.replace(b"{id}", credentials.client_id.encode()).replace(
        b"{secret}", credentials.client_secret.encode()
    )


def _authorization(value: str | Basic | None, credentials: ApiClientCredentials) -> str | None:
    if isinstance(value, Basic):
        return _basic(_fill(value, credentials))
    return value


CASES: list[tuple[str, bytes, str | Basic | None, int, str]] = [
    # (what, form body, Authorization header, status, OAuth error)
    (
        "NUL in the form's client_id",
        b"grant_type=client_credentials&client_id=ab%00cd&client_secret=x",
        None,
        401,
        "invalid_client",
    ),
    (
        "NUL after the real client_id, right secret (form)",
        b"grant_type=client_credentials&client_id={id}%00&client_secret={secret}",
        None,
        401,
        "invalid_client",
    ),
    (
        "NUL in the Basic client_id",
        b"grant_type=client_credentials",
        Basic(b"ab\x00cd:secret"),
        401,
        "invalid_client",
    ),
    (
        "NUL after the real client_id, right secret (Basic)",
        b"grant_type=client_credentials",
        Basic(b"{id}\x00:{secret}"),
        401,
        "invalid_client",
    ),
    (
        "percent-encoded NUL in the Basic client_id",
        b"grant_type=client_credentials",
        Basic(b"{id}%00:{secret}"),
        401,
        "invalid_client",
    ),
    (
        "Basic credentials that are not UTF-8",
        b"grant_type=client_credentials",
        Basic(b"\xff\xfe\xfa:\xc3\x28"),
        401,
        "invalid_client",
    ),
    (
        "Basic credentials that are not base64",
        b"grant_type=client_credentials",
        "Basic !!!not*base64",
        401,
        "invalid_client",
    ),
    (
        "Basic without a colon",
        b"grant_type=client_credentials",
        Basic(b"{id}"),
        401,
        "invalid_client",
    ),
    ("an empty Basic header", b"grant_type=client_credentials", "Basic ", 401, "invalid_client"),
    ("another scheme", b"grant_type=client_credentials", "Bearer abc", 401, "invalid_client"),
    (
        "a client_id of 5000 characters",
        b"grant_type=client_credentials",
        Basic(b"x" * 5000 + b":y"),
        401,
        "invalid_client",
    ),
    ("no grant type", b"", Basic(b"{id}:{secret}"), 400, "invalid_request"),
    ("no grant type, no credentials", b"", None, 400, "invalid_request"),
    (
        "a grant type with a NUL",
        b"grant_type=client_credentials%00",
        Basic(b"{id}:{secret}"),
        400,
        "unsupported_grant_type",
    ),
    (
        "another grant type too",
        b"grant_type=client_credentials&grant_type=password",
        Basic(b"{id}:{secret}"),
        400,
        "unsupported_grant_type",
    ),
    (
        "a scope with a NUL",
        b"grant_type=client_credentials&scope=messages:send%00",
        Basic(b"{id}:{secret}"),
        400,
        "invalid_scope",
    ),
    (
        "a body that is not valid percent-encoding or UTF-8",
        b"grant_type=client_credentials&client_id=%ff%fe&client_secret=%zz\xff",
        None,
        401,
        "invalid_client",
    ),
]


@pytest.mark.parametrize(
    ("body", "authorization", "status", "error"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_token_requests_are_clear_4xx(
    credentials: ApiClientCredentials,
    body: bytes,
    authorization: str | Basic | None,
    status: int,
    error: str,
) -> None:
    header = _authorization(authorization, credentials)
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = Client(raise_request_exception=False).post(
        TOKEN_URL,
        _fill(body, credentials),
        content_type="application/x-www-form-urlencoded",
        **extra,
    )

    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == error
    assert response.json()["error_description"]
    assert not AccessToken.objects.exists()


def test_the_right_credentials_still_work_after_garbage(credentials: ApiClientCredentials) -> None:
    client = Client()
    for _ in range(3):
        client.post(
            TOKEN_URL,
            b"grant_type=client_credentials",
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=_basic(credentials.client_id.encode() + b"\x00:x"),
        )
    response = client.post(
        TOKEN_URL,
        b"grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=_basic(f"{credentials.client_id}:{credentials.client_secret}".encode()),
    )
    assert response.status_code == 200, response.content
