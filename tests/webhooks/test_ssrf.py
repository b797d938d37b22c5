"""The SSRF guard at delivery time: in production mode (private URLs not allowed) a URL on a
private, loopback or link-local address is refused before any connection, and the sender
connects to the address it validated, not to a second DNS answer."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import pytest

from messaging.models import Message
from messaging.services import message_status_report
from tests.support import Receiver
from webhooks import delivery as delivery_module
from webhooks import ssrf
from webhooks.models import ApiClient, WebhookDelivery
from webhooks.ssrf import UnsafeWebhookUrl

pytestmark = pytest.mark.django_db


def deliver_failed_event(send: Callable[..., Message], run: Callable[..., Any]) -> WebhookDelivery:
    message = send(execute=False)
    run(message_status_report, provider_message_id="", status="failed", message_id=str(message.pk))
    delivery = WebhookDelivery.objects.get(message=message)
    return delivery


def test_loopback_url_is_refused_in_production_mode(
    send: Callable[..., Message],
    run: Callable[..., Any],
    receiver: Receiver,
    settings: Any,
) -> None:
    # The client's URL was accepted while private URLs were allowed; production refuses it.
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    delivery = deliver_failed_event(send, run)
    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert delivery.attempts.get().error == "URL refused: not_https"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1:8443/hooks", "private_address"),
        ("https://169.254.169.254/latest/meta-data", "private_address"),
        ("https://intranet.example.org/hooks", "private_address"),
        ("https://[::1]/hooks", "private_address"),
        # Private IPv4 addresses inside IPv6 ones.
        ("https://[::127.0.0.1]/hooks", "private_address"),
        ("https://[::10.0.0.1]/hooks", "private_address"),
        ("https://[64:ff9b::a9fe:a9fe]/latest/meta-data", "private_address"),
        ("https://[64:ff9b:1::a00:1]/hooks", "private_address"),
        ("https://[::ffff:0:10.0.0.1]/hooks", "private_address"),
        ("https://[::ffff:127.0.0.1]/hooks", "private_address"),
        ("https://[2002:a00:1::1]/hooks", "private_address"),
    ],
)
def test_private_addresses_are_refused_in_production_mode(
    send: Callable[..., Message],
    run: Callable[..., Any],
    receiver: Receiver,
    settings: Any,
    api_client: ApiClient,
    url: str,
    reason: str,
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    ApiClient.objects.filter(pk=api_client.pk).update(webhook_url=url)
    delivery = deliver_failed_event(send, run)
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert delivery.attempts.get().error == f"URL refused: {reason}"
    assert receiver.requests == []


@pytest.mark.parametrize(
    "address", ["::127.0.0.1", "64:ff9b::10.0.0.1", "64:ff9b:1::a00:1", "::ffff:0:10.0.0.1"]
)
def test_a_name_resolving_to_an_embedded_private_address_is_refused_at_delivery(
    send: Callable[..., Message],
    run: Callable[..., Any],
    receiver: Receiver,
    settings: Any,
    api_client: ApiClient,
    monkeypatch: pytest.MonkeyPatch,
    address: str,
) -> None:
    """The URL was accepted when its name resolved to a public address; by delivery time the
    name answers with a private IPv4 address wrapped in IPv6."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    monkeypatch.setattr(ssrf, "resolve_host", lambda host, port: [address])
    ApiClient.objects.filter(pk=api_client.pk).update(webhook_url="https://emr.example.org/h")
    delivery = deliver_failed_event(send, run)
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert delivery.attempts.get().error == "URL refused: private_address"
    assert receiver.requests == []


def test_an_unresolvable_host_is_retried(
    send: Callable[..., Message],
    run: Callable[..., Any],
    settings: Any,
    api_client: ApiClient,
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    ApiClient.objects.filter(pk=api_client.pk).update(webhook_url="https://gone.example.net/h")
    delivery = deliver_failed_event(send, run)
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert delivery.attempts.get().error == "URL refused: unresolvable"


def test_the_sender_connects_to_the_validated_address(
    send: Callable[..., Message],
    run: Callable[..., Any],
    receiver: Receiver,
    api_client: ApiClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The check resolved the name to one address; the POST goes there (a second lookup, which
    would fail for this name, is never made) with the URL's host in the Host header."""
    url = f"http://hooks.rebind.invalid:{receiver.port}/hooks?token=abc"
    checked: list[str] = []

    def check(candidate: str, **kwargs: Any) -> list[Any]:
        checked.append(candidate)
        if candidate != url:
            raise UnsafeWebhookUrl("unexpected", reason=UnsafeWebhookUrl.INVALID_URL)
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(delivery_module, "webhook_url_check", check)
    ApiClient.objects.filter(pk=api_client.pk).update(webhook_url=url)
    delivery = deliver_failed_event(send, run)
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert checked == [url]
    (request,) = receiver.requests
    assert request.headers["host"] == f"hooks.rebind.invalid:{receiver.port}"
    assert request.path == "/hooks?token=abc"
