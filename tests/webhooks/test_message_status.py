"""`message.status`: one event per real status change of an API-sent message, in order, never
with the message's body, never twice for the same status, and none for other messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from messaging.events import MessageStatusChanged
from messaging.models import Message, MessageStatus, SimulatorText
from messaging.services import Api, Sender, Smapi, Staff, message_status_report
from messaging.simulator import simulator_report
from tests.support import Receiver
from tests.support.webhooks import BODY, PATIENT
from webhooks.delivery import message_status_events_store
from webhooks.models import ApiClient, WebhookDelivery
from webhooks.services import api_client_create

pytestmark = pytest.mark.django_db


def statuses(receiver: Receiver) -> list[tuple[str, int]]:
    return [(r.json()["data"]["status"], r.json()["data"]["sequence"]) for r in receiver.requests]


def test_payload_has_the_contract_fields_and_no_body(
    send: Callable[..., Message], receiver: Receiver
) -> None:
    message = send()
    assert statuses(receiver) == [("sent", 1), ("delivered", 2)]
    for request in receiver.requests:
        payload = request.json()
        assert set(payload) == {"type", "timestamp", "data"}
        assert payload["type"] == "message.status"
        data = payload["data"]
        assert set(data) == {
            "message_id",
            "status",
            "error_code",
            "to",
            "practice_id",
            "metadata",
            "sequence",
            "at",
        }
        assert data["message_id"] == str(message.pk)
        assert data["to"] == PATIENT
        assert data["practice_id"] == str(message.practice_id)
        assert data["metadata"] == {"appointment": "A-17"}
        assert data["error_code"] is None
        assert payload["timestamp"] == data["at"]
        assert b"glucose" not in request.body
        assert BODY.encode() not in request.body
    assert WebhookDelivery.objects.filter(message=message, status="delivered").count() == 2


def test_failure_carries_the_error_code(
    send: Callable[..., Message], receiver: Receiver, run: Callable[..., Any]
) -> None:
    message = send(execute=False)
    run(
        message_status_report,
        provider_message_id="SM" + "f" * 32,
        status=MessageStatus.FAILED,
        error_code="landline",
        message_id=str(message.pk),
    )
    (request,) = receiver.requests
    assert request.json()["data"]["status"] == "failed"
    assert request.json()["data"]["error_code"] == "landline"
    assert request.json()["data"]["sequence"] == 2


def test_callback_url_overrides_the_clients_url(
    send: Callable[..., Message], receiver: Receiver
) -> None:
    other = Receiver().start()
    try:
        send(callback_url=other.url)
    finally:
        other.stop()
    assert receiver.requests == []
    assert [r.json()["data"]["status"] for r in other.requests] == ["sent", "delivered"]


@pytest.mark.parametrize("sender", [Smapi(), Staff()], ids=["smapi", "staff"])
def test_messages_not_sent_through_mapi_get_no_webhooks(
    send: Callable[..., Message], receiver: Receiver, sender: Sender
) -> None:
    message = send(sender=sender)
    assert message.status == "delivered"
    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()


def test_a_client_without_any_webhook_url_gets_no_rows(
    send: Callable[..., Message], receiver: Receiver, enterprise: Any
) -> None:
    quiet = api_client_create(enterprise=enterprise, name="No hooks").api_client
    send(sender=Api(quiet, metadata={"appointment": "A-17"}))
    assert not WebhookDelivery.objects.exists()


def test_an_inactive_client_gets_none(
    send: Callable[..., Message], receiver: Receiver, api_client: ApiClient
) -> None:
    ApiClient.objects.filter(pk=api_client.pk).update(is_active=False)
    send()
    assert receiver.requests == []


def test_duplicate_and_out_of_order_callbacks_make_no_duplicate_events(
    send: Callable[..., Message], receiver: Receiver, run: Callable[..., Any]
) -> None:
    """`delivered` before `sent` (the carrier's report beat our record of the send), then
    duplicates of both and a late `undelivered`: one event per status, in order."""
    message = send(execute=False)
    sid = "SM" + "d" * 32
    for status in ["delivered", "sent", "delivered", "sent", "undelivered", "delivered"]:
        run(
            message_status_report,
            provider_message_id=sid,
            status=status,
            message_id=str(message.pk),
        )
    assert statuses(receiver) == [("sent", 1), ("delivered", 2)]
    assert WebhookDelivery.objects.filter(message=message).count() == 2


def test_the_simulated_carrier_reporting_twice_makes_one_event(
    send: Callable[..., Message], receiver: Receiver, run: Callable[..., Any]
) -> None:
    message = send()
    text = SimulatorText.objects.get(client_reference=str(message.pk))
    SimulatorText.objects.filter(pk=text.pk).update(status="sent", reported_at=None)
    run(simulator_report, text_id=text.pk)
    run(message_status_report, provider_message_id=text.provider_message_id, status="delivered")
    assert statuses(receiver) == [("sent", 1), ("delivered", 2)]


def test_the_hot_path_costs_two_statements_per_batch(
    send: Callable[..., Message], django_assert_num_queries: Callable[..., Any]
) -> None:
    """Inside the status transaction: one query finds the API-sent messages of the batch, one
    INSERT stores every delivery, whatever the batch's size; no delivery for a staff text."""
    api_messages = [send(execute=False) for _ in range(3)]
    staff_message = send(execute=False, sender=Staff())

    def event(message: Message, status: str) -> MessageStatusChanged:
        return MessageStatusChanged(
            message_id=message.pk, change_id=0, status=status, error_code="", at=message.created_at
        )

    batch = [event(m, s) for m in api_messages for s in ("sent", "delivered")]
    batch.append(event(staff_message, "sent"))
    with transaction.atomic(), django_assert_num_queries(2):
        message_status_events_store(batch)
    for message in api_messages:
        assert WebhookDelivery.objects.filter(message=message).count() == 2
    with transaction.atomic(), django_assert_num_queries(1):
        message_status_events_store([event(staff_message, "delivered")])
    assert not WebhookDelivery.objects.filter(message=staff_message).exists()
