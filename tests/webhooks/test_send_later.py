"""`message.status` webhooks of send later: `scheduled` when a text is held, `received` when it
is released, `canceled` and `failed`/`expired`, each once, in `sequence` order, and each
verified by the independent `standardwebhooks` library."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from standardwebhooks import Webhook

from messaging.models import Message
from messaging.services import (
    Api,
    ToNumber,
    message_cancel,
    message_send,
    scheduled_release,
)
from practices.models import Practice
from tests.support import Receiver
from webhooks.models import ApiClient
from webhooks.services import ApiClientCredentials

pytestmark = pytest.mark.django_db


class Integrator:
    """What the integrator's endpoint learned: each message's (status, error_code, sequence)
    in the order it got them, every request checked by the verifier when it arrived (its
    timestamp must be within five minutes of the verifier's clock)."""

    def __init__(self, receiver: Receiver, credentials: ApiClientCredentials) -> None:
        self.receiver = receiver
        self.verifier = Webhook(credentials.webhook_secret)
        self.checked = 0
        self.seen: dict[str, list[Any]] = {}

    def events(self) -> dict[str, list[Any]]:
        for request in self.receiver.requests[self.checked :]:
            payload = self.verifier.verify(request.body, request.headers)
            assert payload["type"] == "message.status"
            data = payload["data"]
            self.seen.setdefault(data["message_id"], []).append(
                (data["status"], data["error_code"], data["sequence"])
            )
            self.checked += 1
        return self.seen


def test_scheduled_received_canceled_and_expired_webhooks_verify(
    practice: Practice,
    api_client: ApiClient,
    credentials: ApiClientCredentials,
    receiver: Receiver,
    run: Callable[..., Any],
) -> None:
    integrator = Integrator(receiver, credentials)
    start = timezone.now().replace(microsecond=0)
    due = start + datetime.timedelta(hours=1)
    with time_machine.travel(start, tick=False):

        def send(to: str, **kwargs: Any) -> Message:
            message: Message = run(
                message_send,
                to=ToNumber(practice, to),
                sender=Api(api_client, metadata={"appointment": "A-17"}),
                body="Your visit is tomorrow",
                **kwargs,
            )
            return message

        released = send("+12125550101", send_at=due)
        canceled = send("+12125550102", send_at=due)
        expired = send(
            "+12125550103",
            send_at=due,
            valid_until=due + datetime.timedelta(seconds=1),
        )
        run(message_cancel, message=canceled)
        assert integrator.events() == {
            str(released.pk): [("scheduled", None, -1)],
            str(canceled.pk): [("scheduled", None, -1), ("canceled", None, 2)],
            str(expired.pk): [("scheduled", None, -1)],
        }
    with time_machine.travel(due + datetime.timedelta(seconds=5), tick=False):
        run(scheduled_release)
        seen = integrator.events()
    assert seen[str(released.pk)] == [
        ("scheduled", None, -1),
        ("received", None, 0),
        ("sent", None, 1),
        ("delivered", None, 2),
    ]
    assert seen[str(canceled.pk)] == [("scheduled", None, -1), ("canceled", None, 2)]
    assert seen[str(expired.pk)] == [("scheduled", None, -1), ("failed", "expired", 2)]
    # The sequence grows with every event of a message: a receiver that drops what is not
    # higher than the last keeps them all.
    for statuses in seen.values():
        sequences = [sequence for _, _, sequence in statuses]
        assert sequences == sorted(set(sequences))
