"""Delivering webhooks logs ids, event types, status codes and durations: never a message
body, a phone number, metadata, or the receiver's URL (which may carry a token)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from messaging.models import Message
from messaging.simulator_phone import simulator_patient_texts
from practices.models import Line
from tests.support import Answer, Receiver
from tests.support.webhooks import BODY, PATIENT, make_due, sweep

pytestmark = pytest.mark.django_db


def test_logs_carry_no_phi(
    send: Callable[..., Message],
    run: Callable[..., Any],
    receiver: Receiver,
    line: Line,
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver.answer(Answer(500, body=b"Patient +18185550101 not found"), Answer(410))
    with caplog.at_level(logging.DEBUG):
        send(metadata={"note": "diabetes follow-up"})
        run(
            simulator_patient_texts,
            from_number=PATIENT,
            to_number=line.phone_number.as_e164,
            body="My sugar is high",
        )
        from webhooks.models import WebhookDelivery

        for delivery in WebhookDelivery.objects.filter(status="pending"):
            make_due(delivery)
        sweep(run)
    webhook_logs = [r for r in caplog.records if r.name.startswith("webhooks")]
    assert webhook_logs, "deliveries are logged"
    everything = "\n".join(r.getMessage() for r in caplog.records)
    for phi in (BODY, "glucose", "My sugar", "diabetes", PATIENT, "8185550101", "/hooks/artera"):
        assert phi not in everything
