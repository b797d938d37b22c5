"""Legacy SMAPI: POST /api/smapi/v1/messages with X-API-Key, through the same send path."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from messaging.models import Message, SimulatorText
from practices.models import Enterprise, Practice
from tests.support.api import assert_error
from webhooks.models import SmapiKey
from webhooks.services import smapi_key_create

pytestmark = pytest.mark.django_db

URL = "/api/smapi/v1/messages"


@pytest.fixture
def smapi_key(enterprise: Enterprise) -> str:
    _, key = smapi_key_create(enterprise=enterprise, name="Legacy")
    return key


def post(key: str | None, data: Any, **extra: Any) -> Any:
    headers = {"X-API-Key": key} if key is not None else {}
    return Client().post(URL, data, content_type="application/json", headers=headers, **extra)


def test_send(
    smapi_key: str,
    practice: Practice,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            smapi_key, {"to": "8185550101", "body": "Hello", "practice_id": str(practice.pk)}
        )
    assert response.status_code == 202, response.content
    message = Message.objects.get()
    assert response.json() == {"id": str(message.pk), "status": "received"}
    assert message.sender_kind == Message.SenderKind.SMAPI
    assert message.sender_api_client is None  # so no webhooks follow
    assert message.callback_url == ""
    assert message.to_number == "+18185550101"
    assert SimulatorText.objects.get().to_number == "+18185550101"
    key = SmapiKey.objects.get()
    assert key.last_used_at is not None
    assert smapi_key not in key.key_hash  # stored hashed


def test_last_used_is_written_at_most_every_few_minutes(smapi_key: str, practice: Practice) -> None:
    payload = {"to": "8185550101", "body": "Hi", "practice_id": str(practice.pk)}
    post(smapi_key, payload)
    stamp = timezone.now() - datetime.timedelta(minutes=1)
    SmapiKey.objects.update(last_used_at=stamp)
    post(smapi_key, payload)
    assert SmapiKey.objects.get().last_used_at == stamp


def test_no_key(practice: Practice) -> None:
    response = post(None, {"to": "8185550101", "body": "Hi", "practice_id": str(practice.pk)})
    assert_error(response, 401, "not_authenticated", None)
    assert "X-API-Key" in response.json()["error"]["message"]


def test_unknown_or_revoked_key(smapi_key: str, practice: Practice) -> None:
    payload = {"to": "8185550101", "body": "Hi", "practice_id": str(practice.pk)}
    assert_error(post("smapi_nope", payload), 401, "invalid_api_key")
    SmapiKey.objects.update(is_active=False)
    assert_error(post(smapi_key, payload), 401, "invalid_api_key")
    assert not Message.objects.exists()


def test_a_bearer_token_is_not_a_smapi_key(token: str, practice: Practice) -> None:
    response = Client().post(
        URL,
        {"to": "8185550101", "body": "Hi", "practice_id": str(practice.pk)},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert_error(response, 401, "not_authenticated")


def test_foreign_practice(smapi_key: str, foreign_practice: Practice) -> None:
    payload = {"to": "8185550101", "body": "Hi", "practice_id": str(foreign_practice.pk)}
    assert_error(post(smapi_key, payload), 422, "unknown_practice", "practice_id")
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("payload", "status", "code", "field"),
    [
        ({"body": "Hi"}, 400, "missing_field", "to"),
        ({"to": "555", "body": "Hi"}, 400, "invalid_phone", "to"),
        ({"to": "8185550101", "body": " "}, 400, "empty_body", "body"),
        (
            {"to": "8185550101", "body": "Hi", "practice_id": "x"},
            400,
            "invalid_uuid",
            "practice_id",
        ),
        (
            {"to": "8185550101", "body": "Hi", "location_id": "D1"},
            400,
            "unknown_field",
            "location_id",
        ),
    ],
)
def test_invalid(
    smapi_key: str, practice: Practice, payload: dict[str, Any], status: int, code: str, field: str
) -> None:
    payload = {"practice_id": str(practice.pk), **payload}
    assert_error(post(smapi_key, payload), status, code, field)
    assert not Message.objects.exists()


def test_not_json(smapi_key: str, practice: Practice) -> None:
    response = Client().post(
        URL, "to=8185550101", content_type="text/plain", headers={"X-API-Key": smapi_key}
    )
    assert_error(response, 415, "unsupported_media_type")
