"""The deployment of DESIGN.md delivers: a MAPI text posted to gunicorn is sent by
`celery -A artera worker` (no `-Q`), reaches the carrier, and its signed `message.status`
webhooks reach the integrator; `celery -A artera beat` sweeps what was stored but never
enqueued."""

from __future__ import annotations

import pytest
from standardwebhooks import Webhook

from messaging.models import Message, SimulatorText
from messaging.services import Api, ToNumber, message_send
from practices.models import Practice
from tests.support import Receiver, wait_until
from tests.support.deploy import Deployment
from tests.support.workers import use_broker
from webhooks.services import api_client_create

from .http import access_token, request

pytestmark = pytest.mark.django_db(transaction=True)

PATIENT = "+18185550142"


def test_the_documented_commands_deliver_a_mapi_text_and_its_webhooks(
    deployment: Deployment, practice: Practice, receiver: Receiver
) -> None:
    credentials = api_client_create(
        enterprise=practice.enterprise, name="EMR", webhook_url=receiver.url
    )
    token = access_token(deployment.base_url, credentials.client_id, credentials.client_secret)

    status, _, body = request(
        "POST",
        f"{deployment.base_url}/api/v1/messages",
        json_body={
            "to": PATIENT,
            "body": "Your visit is tomorrow",
            "practice_id": str(practice.pk),
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert status == 202, body

    wait_until(
        lambda: Message.objects.filter(pk=body["id"], status="delivered").exists(),
        timeout=60,
        what=f"the text to be delivered\n{deployment.logs()}",
    )
    assert SimulatorText.objects.filter(client_reference=body["id"]).count() == 1
    wait_until(lambda: len(receiver.requests) >= 2, what=f"two webhooks\n{deployment.logs()}")
    verifier = Webhook(credentials.webhook_secret)
    events = [verifier.verify(r.body, r.headers) for r in receiver.requests]
    assert sorted((e["type"], e["data"]["status"]) for e in events) == [
        ("message.status", "delivered"),
        ("message.status", "sent"),
    ]
    assert {e["data"]["message_id"] for e in events} == {body["id"]}


def test_beat_sweeps_a_text_whose_publish_failed(
    deployment: Deployment, practice: Practice
) -> None:
    """The web node stored the text but could not reach the broker: beat's outbox sweep hands
    it to the worker."""
    use_broker("redis://127.0.0.1:1/0")  # nothing listens there: the publish fails fast
    try:
        message = message_send(
            to=ToNumber(practice, PATIENT), sender=Api(), body="Stored, not enqueued"
        )
    finally:
        use_broker(deployment.worker.env["CELERY_BROKER_URL"])
    wait_until(
        lambda: Message.objects.filter(pk=message.pk, status="delivered").exists(),
        timeout=60,
        what=f"the swept text to be delivered\n{deployment.logs()}",
    )
    assert SimulatorText.objects.filter(client_reference=str(message.pk)).count() == 1
