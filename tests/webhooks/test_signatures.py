"""Signatures checked by an independent verifier (the `standardwebhooks` package), also during a
secret rotation, and by the plain-HMAC recipe of docs/webhooks.md."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from messaging.models import Message
from tests.support import Receiver
from webhooks.delivery import api_client_webhook_secret_rotate
from webhooks.models import ApiClient, WebhookDelivery
from webhooks.services import ApiClientCredentials

pytestmark = pytest.mark.django_db


def test_standardwebhooks_verifies_every_webhook(
    send: Callable[..., Message], receiver: Receiver, credentials: ApiClientCredentials
) -> None:
    message = send()
    assert [r.json()["data"]["status"] for r in receiver.requests] == ["sent", "delivered"]
    verifier = Webhook(credentials.webhook_secret)
    deliveries = {d.webhook_id: d for d in WebhookDelivery.objects.filter(message=message)}
    for request in receiver.requests:
        payload = verifier.verify(request.body, request.headers)
        assert payload["type"] == "message.status"
        assert payload["data"]["message_id"] == str(message.pk)
        assert request.headers["webhook-id"] in deliveries
        assert request.headers["content-type"] == "application/json"


def test_a_tampered_body_or_another_secret_fails(
    send: Callable[..., Message], receiver: Receiver, credentials: ApiClientCredentials
) -> None:
    send()
    request = receiver.requests[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(credentials.webhook_secret).verify(request.body + b" ", request.headers)
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(request.body, request.headers)


def test_plain_hmac_recipe_of_the_docs(
    send: Callable[..., Message], receiver: Receiver, credentials: ApiClientCredentials
) -> None:
    send()
    request = receiver.requests[0]
    key = base64.b64decode(credentials.webhook_secret.removeprefix("whsec_"))
    signed = (
        f"{request.headers['webhook-id']}.{request.headers['webhook-timestamp']}.".encode()
        + request.body
    )
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    received = [s.split(",", 1)[1] for s in request.headers["webhook-signature"].split()]
    assert any(hmac.compare_digest(expected, sig) for sig in received)


def test_during_a_rotation_both_secrets_sign(
    send: Callable[..., Message],
    receiver: Receiver,
    credentials: ApiClientCredentials,
    api_client: ApiClient,
) -> None:
    old_secret = credentials.webhook_secret
    new_secret = api_client_webhook_secret_rotate(api_client=api_client)
    assert new_secret.startswith("whsec_")
    assert new_secret != old_secret
    send()
    request = receiver.requests[0]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    # Either side of the switch verifies the same request.
    Webhook(old_secret).verify(request.body, request.headers)
    Webhook(new_secret).verify(request.body, request.headers)


def test_after_the_rotation_window_only_the_new_secret_signs(
    send: Callable[..., Message],
    receiver: Receiver,
    credentials: ApiClientCredentials,
    api_client: ApiClient,
) -> None:
    old_secret = credentials.webhook_secret
    new_secret = api_client_webhook_secret_rotate(
        api_client=api_client, overlap=datetime.timedelta(hours=1)
    )
    ApiClient.objects.filter(pk=api_client.pk).update(
        previous_webhook_secret_expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    send()
    request = receiver.requests[0]
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    Webhook(new_secret).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(request.body, request.headers)


def test_timestamp_is_the_attempts_and_the_id_stays(
    send: Callable[..., Message], receiver: Receiver, run: Callable[..., Any]
) -> None:
    from webhooks.delivery import webhook_delivery_redeliver

    send()
    first = receiver.requests[0]
    delivery = WebhookDelivery.objects.get(pk=first.headers["webhook-id"].removeprefix("msg_"))
    run(webhook_delivery_redeliver, delivery=delivery)
    again = receiver.requests[-1]
    assert again.headers["webhook-id"] == first.headers["webhook-id"]
    assert again.body == first.body
    assert abs(int(again.headers["webhook-timestamp"]) - int(timezone.now().timestamp())) < 60


def test_the_docs_plain_hmac_snippet_verifies(
    send: Callable[..., Message], receiver: Receiver, credentials: ApiClientCredentials
) -> None:
    """The `verify` function printed in docs/webhooks.md, run as written."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    snippet = docs.split("With plain HMAC:", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # noqa: S102 (our own documentation)
    send()
    request = receiver.requests[0]
    assert namespace["verify"](credentials.webhook_secret, request.headers, request.body)
    assert not namespace["verify"](credentials.webhook_secret, request.headers, request.body + b"x")
