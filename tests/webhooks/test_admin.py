"""Admin: deliveries per client with failing/disabled filters and the attempt history,
"redeliver", endpoint enable/disable, and rotating a client's signing secret (shown once)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from standardwebhooks import Webhook

from messaging.models import Message
from messaging.services import message_status_report
from tests.support import Answer, Receiver, client_for
from webhooks.models import ApiClient, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

DELIVERIES = "admin:webhooks_webhookdelivery_changelist"
ENDPOINTS = "admin:webhooks_webhookendpoint_changelist"


@pytest.fixture
def admin_client(superuser: User) -> Client:
    return client_for(superuser)


@pytest.fixture
def failed_once(
    send: Callable[..., Message], run: Callable[..., Any], receiver: Receiver
) -> WebhookDelivery:
    receiver.answer(Answer(500, body=b"receiver exploded"))
    message = send(execute=False)
    run(message_status_report, provider_message_id="", status="failed", message_id=str(message.pk))
    return WebhookDelivery.objects.get(message=message)


def test_deliveries_list_filters_and_attempts(
    admin_client: Client, failed_once: WebhookDelivery, api_client: ApiClient
) -> None:
    url = reverse(DELIVERIES)
    for query in (
        "",
        "?health=failing",
        "?health=disabled",
        f"?api_client__id__exact={api_client.pk}",
    ):
        assert admin_client.get(url + query).status_code == 200
    failing = admin_client.get(url + "?health=failing").context["cl"].result_list
    assert list(failing) == [failed_once]
    assert list(admin_client.get(url + "?health=disabled").context["cl"].result_list) == []
    page = admin_client.get(reverse("admin:webhooks_webhookdelivery_change", args=[failed_once.pk]))
    assert page.status_code == 200
    assert b"receiver exploded" in page.content
    assert failed_once.webhook_id.encode() in page.content


def test_redeliver_action(
    admin_client: Client,
    failed_once: WebhookDelivery,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse(DELIVERIES),
            {"action": "redeliver", "_selected_action": [str(failed_once.pk)]},
        )
    assert response.status_code == 302
    failed_once.refresh_from_db()
    assert failed_once.status == "delivered"
    assert [r.headers["webhook-id"] for r in receiver.requests] == [failed_once.webhook_id] * 2


def test_endpoint_disable_and_enable(admin_client: Client, failed_once: WebhookDelivery) -> None:
    endpoint = WebhookEndpoint.objects.get()
    data = {"_selected_action": [str(endpoint.pk)]}
    admin_client.post(reverse(ENDPOINTS), {**data, "action": "disable"})
    endpoint.refresh_from_db()
    assert (endpoint.is_enabled, endpoint.disabled_reason) == (False, "admin")
    disabled = admin_client.get(reverse(DELIVERIES) + "?health=disabled")
    assert list(disabled.context["cl"].result_list) == [failed_once]
    assert b"DISABLED" in admin_client.get(reverse(DELIVERIES)).content
    admin_client.post(reverse(ENDPOINTS), {**data, "action": "enable"})
    endpoint.refresh_from_db()
    assert (endpoint.is_enabled, endpoint.disabled_reason, endpoint.failing_since) == (
        True,
        "",
        None,
    )


def test_rotate_signing_secret_shows_the_new_one_once(
    admin_client: Client,
    api_client: ApiClient,
    send: Callable[..., Message],
    receiver: Receiver,
) -> None:
    old_secret = api_client.webhook_secret
    response = admin_client.post(
        reverse("admin:webhooks_apiclient_changelist"),
        {"action": "rotate_webhook_secret", "_selected_action": [str(api_client.pk)]},
        follow=True,
    )
    api_client.refresh_from_db()
    new_secret = api_client.webhook_secret
    assert new_secret != old_secret
    assert new_secret.encode() in response.content
    assert api_client.previous_webhook_secret == old_secret
    page = admin_client.get(reverse("admin:webhooks_apiclient_change", args=[api_client.pk]))
    assert new_secret.encode() not in page.content
    assert old_secret.encode() not in page.content
    send()
    request = receiver.requests[0]
    Webhook(new_secret).verify(request.body, request.headers)
    Webhook(old_secret).verify(request.body, request.headers)


@pytest.mark.parametrize(
    "url",
    [
        "http://emr.example.org/hook",
        "https://10.0.0.5/hook",
        "https://intranet.example.org/h",
        # Private IPv4 addresses inside IPv6 ones: IPv4-compatible, NAT64, SIIT, 6to4.
        "https://[::127.0.0.1]/hook",
        "https://[64:ff9b::10.0.0.1]/hook",
        "https://[64:ff9b:1::a00:1]/hook",
        "https://[::ffff:0:10.0.0.1]/hook",
        "https://[2002:a00:1::1]/hook",
    ],
)
def test_admin_refuses_unsafe_webhook_urls_in_production_mode(
    admin_client: Client, api_client: ApiClient, settings: Any, url: str
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    change = reverse("admin:webhooks_apiclient_change", args=[api_client.pk])
    data = {
        "name": api_client.name,
        "scopes": api_client.scope_list,
        "allowed_ips": "",
        "webhook_url": url,
        "is_active": "on",
    }
    response = admin_client.post(change, data)
    assert response.status_code == 200  # the form again, with the error
    assert response.context["adminform"].form.errors["webhook_url"]
    api_client.refresh_from_db()
    assert api_client.webhook_url != url
