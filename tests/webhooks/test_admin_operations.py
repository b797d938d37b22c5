"""Integrations an enterprise administrator operates in admin: rotate an API client's secret
(shown once, the old one and its tokens stop working), send a test webhook through the signed
delivery path and see its attempt, replay a failed delivery (recorded in the object's history);
and none of it on another enterprise's clients or deliveries."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse
from standardwebhooks import Webhook

from messaging.models import Message
from messaging.services import message_status_report
from practices.models import EnterpriseAdministrator, Membership, Practice
from tests.factories import EnterpriseFactory, UserFactory
from tests.support import Answer, Receiver, client_for
from tests.support.admin import only_secret_shown
from tests.support.api import MESSAGES_URL, get_token, token_response
from webhooks.models import ApiClient, WebhookDelivery
from webhooks.services import ApiClientCredentials

pytestmark = pytest.mark.django_db

CLIENTS = reverse("admin:webhooks_apiclient_changelist")
DELIVERIES = reverse("admin:webhooks_webhookdelivery_changelist")


def delivery_page(delivery: WebhookDelivery) -> str:
    return reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])


def act(client: Client, url: str, action: str, *objects: Any, run: Any = None) -> Any:
    data = {"action": action, "_selected_action": [str(o.pk) for o in objects]}
    if run is None:
        return client.post(url, data, follow=True)
    return run(client.post, path=url, data=data, follow=True)


@pytest.fixture
def ada(api_client: ApiClient) -> Client:
    """The administrator of the API client's enterprise."""
    user = UserFactory(username="ada", is_staff=True)
    EnterpriseAdministrator.objects.create(user=user, enterprise=api_client.enterprise)
    return client_for(user)


@pytest.fixture
def bob(db: None) -> Client:
    """The administrator of another enterprise."""
    user = UserFactory(username="bob", is_staff=True)
    EnterpriseAdministrator.objects.create(user=user, enterprise=EnterpriseFactory())
    return client_for(user)


@pytest.fixture
def failed_once(
    send: Callable[..., Message], run: Callable[..., Any], receiver: Receiver
) -> WebhookDelivery:
    receiver.answer(Answer(500, body=b"receiver exploded"))
    message = send(execute=False)
    run(message_status_report, provider_message_id="", status="failed", message_id=str(message.pk))
    delivery = WebhookDelivery.objects.get(message=message)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=WebhookDelivery.Status.FAILED)
    delivery.refresh_from_db()
    return delivery


# --- Rotating the client secret ---------------------------------------------------------------


def test_rotated_client_secret_is_shown_once_and_the_old_one_stops_working(
    ada: Client, api_client: ApiClient, credentials: ApiClientCredentials, practice: Practice
) -> None:
    old_token = get_token(credentials)
    response = act(ada, CLIENTS, "rotate_client_secret", api_client)
    assert response.status_code == 200
    shown = only_secret_shown(response)
    assert shown[0] == credentials.client_id
    new_secret = shown[1]
    assert new_secret != credentials.client_secret
    # Once: the next page (the client's own) no longer has it.
    page = ada.get(reverse("admin:webhooks_apiclient_change", args=[api_client.pk]))
    assert new_secret not in page.content.decode()
    assert token_response(credentials).status_code == 401
    rotated = dataclasses.replace(credentials, client_secret=new_secret)
    new_token = get_token(rotated)
    headers = {"Authorization": f"Bearer {old_token}"}
    assert Client().get(f"{MESSAGES_URL}/{practice.pk}", headers=headers).status_code == 401
    headers = {"Authorization": f"Bearer {new_token}"}
    assert Client().get(f"{MESSAGES_URL}/{practice.pk}", headers=headers).status_code == 404
    entry = LogEntry.objects.get(object_id=str(api_client.pk))
    assert entry.get_change_message() == "Rotated the client secret."


# --- Test webhooks ------------------------------------------------------------------------------


def test_test_webhook_goes_signed_to_the_client_url_and_its_attempt_shows(
    ada: Client, api_client: ApiClient, receiver: Receiver, run: Callable[..., Any]
) -> None:
    response = act(ada, CLIENTS, "send_test_webhook", api_client, run=run)
    delivery = WebhookDelivery.objects.get(event_type="webhook.test")
    assert delivery_page(delivery) in response.content.decode()
    [request] = receiver.requests
    Webhook(api_client.webhook_secret).verify(request.body, request.headers)
    assert request.headers["webhook-id"] == delivery.webhook_id
    assert json.loads(request.body)["type"] == "webhook.test"
    assert (delivery.status, delivery.attempt_count) == ("delivered", 1)
    page = ada.get(delivery_page(delivery))
    assert page.status_code == 200
    attempts = page.context["inline_admin_formsets"][0].formset.queryset
    assert [(a.number, a.status_code, a.succeeded) for a in attempts] == [(1, 200, True)]


def test_test_webhook_respects_the_ssrf_guard(
    ada: Client,
    api_client: ApiClient,
    receiver: Receiver,
    run: Callable[..., Any],
    settings: Any,
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False  # production: the loopback receiver is refused
    act(ada, CLIENTS, "send_test_webhook", api_client, run=run)
    delivery = WebhookDelivery.objects.get(event_type="webhook.test")
    assert receiver.requests == []
    assert delivery.status == "failed"
    assert delivery.attempts.get().error.startswith("URL refused")


def test_no_test_webhook_without_a_url(ada: Client, api_client: ApiClient) -> None:
    ApiClient.objects.filter(pk=api_client.pk).update(webhook_url="")
    response = act(ada, CLIENTS, "send_test_webhook", api_client)
    assert "has no default webhook URL" in response.content.decode()
    assert not WebhookDelivery.objects.exists()


# --- Replaying a failed delivery ------------------------------------------------------------------


def test_enterprise_admin_replays_a_failed_delivery_and_it_is_recorded(
    ada: Client, failed_once: WebhookDelivery, receiver: Receiver, run: Callable[..., Any]
) -> None:
    act(ada, DELIVERIES, "redeliver", failed_once, run=run)
    failed_once.refresh_from_db()
    assert (failed_once.status, failed_once.attempt_count) == ("delivered", 2)
    assert [r.headers["webhook-id"] for r in receiver.requests] == [failed_once.webhook_id] * 2
    entry = LogEntry.objects.get(object_id=str(failed_once.pk))
    assert (entry.user.username, entry.get_change_message()) == ("ada", "Queued for redelivery.")


# --- Tenancy --------------------------------------------------------------------------------------


def test_another_enterprise_admin_can_operate_nothing(
    bob: Client,
    api_client: ApiClient,
    credentials: ApiClientCredentials,
    failed_once: WebhookDelivery,
    receiver: Receiver,
    run: Callable[..., Any],
) -> None:
    before = api_client.application.client_secret
    for action in ("rotate_client_secret", "rotate_webhook_secret", "send_test_webhook"):
        response = act(bob, CLIENTS, action, api_client, run=run)
        assert response.status_code == 200
        assert only_secret_shown(response) == []
    act(bob, DELIVERIES, "redeliver", failed_once, run=run)
    api_client.refresh_from_db()
    api_client.application.refresh_from_db()
    assert api_client.application.client_secret == before
    assert api_client.webhook_secret == credentials.webhook_secret
    assert not WebhookDelivery.objects.filter(event_type="webhook.test").exists()
    failed_once.refresh_from_db()
    assert failed_once.status == "failed"
    assert len(receiver.requests) == 1  # the first, failed attempt only
    assert not LogEntry.objects.exists()
    for url in (
        reverse("admin:webhooks_apiclient_change", args=[api_client.pk]),
        delivery_page(failed_once),
    ):
        response = bob.get(url)
        assert response.status_code == 302
        assert response.url == reverse("admin:index")
    listed = bob.get(DELIVERIES).context["cl"].result_list
    assert list(listed) == []


def test_a_manager_reaches_no_integration(
    practice: Practice, api_client: ApiClient, failed_once: WebhookDelivery
) -> None:
    mia = UserFactory(is_staff=True)
    Membership.objects.create(user=mia, practice=practice, role=Membership.Role.MANAGER)
    client = client_for(mia)
    for url in (CLIENTS, DELIVERIES):
        assert client.get(url).status_code == 403
    data = {"action": "rotate_client_secret", "_selected_action": [str(api_client.pk)]}
    assert client.post(CLIENTS, data).status_code == 403
    url = reverse(
        "admin:webhooks_apiclient_object_action", args=[api_client.pk, "rotate_client_secret"]
    )
    assert client.post(url).status_code == 404
    url = reverse(
        "admin:webhooks_webhookdelivery_object_action", args=[failed_once.pk, "redeliver"]
    )
    assert client.post(url).status_code == 404


# --- The same operations as buttons on the object's page ------------------------------------------


def run_url(model: str, obj: Any, action: str) -> str:
    return reverse(f"admin:webhooks_{model}_object_action", args=[obj.pk, action])


def test_the_client_page_has_the_buttons_and_they_work(
    ada: Client, api_client: ApiClient, receiver: Receiver, run: Callable[..., Any]
) -> None:
    change = reverse("admin:webhooks_apiclient_change", args=[api_client.pk])
    page = ada.get(change).content.decode()
    for action in ("send_test_webhook", "rotate_client_secret", "rotate_webhook_secret"):
        assert run_url("apiclient", api_client, action) in page
    response = run(ada.post, path=run_url("apiclient", api_client, "send_test_webhook"))
    assert response.status_code == 302
    assert response.url == change
    assert WebhookDelivery.objects.get(event_type="webhook.test").status == "delivered"
    response = ada.post(run_url("apiclient", api_client, "rotate_client_secret"), follow=True)
    assert len(only_secret_shown(response)) == 2  # the client id and the new secret, once
    assert ada.get(run_url("apiclient", api_client, "rotate_client_secret")).status_code == 405


def test_the_delivery_page_has_a_redeliver_button(
    ada: Client, failed_once: WebhookDelivery, run: Callable[..., Any]
) -> None:
    assert run_url("webhookdelivery", failed_once, "redeliver") in (
        ada.get(delivery_page(failed_once)).content.decode()
    )
    run(ada.post, path=run_url("webhookdelivery", failed_once, "redeliver"))
    failed_once.refresh_from_db()
    assert failed_once.status == "delivered"


def test_buttons_of_another_enterprise_are_404(
    bob: Client, api_client: ApiClient, failed_once: WebhookDelivery, run: Callable[..., Any]
) -> None:
    secret = api_client.application.client_secret
    for action in ("send_test_webhook", "rotate_client_secret", "rotate_webhook_secret"):
        assert run(bob.post, path=run_url("apiclient", api_client, action)).status_code == 404
    assert run(bob.post, path=run_url("webhookdelivery", failed_once, "redeliver")).status_code == (
        404
    )
    api_client.application.refresh_from_db()
    assert api_client.application.client_secret == secret
    assert not WebhookDelivery.objects.filter(event_type="webhook.test").exists()
    failed_once.refresh_from_db()
    assert failed_once.status == "failed"


def test_an_unknown_button_is_404(ada: Client, api_client: ApiClient) -> None:
    assert ada.post(run_url("apiclient", api_client, "delete_selected")).status_code == 404
