"""Concurrent duplicates on PostgreSQL: ten requests with one Idempotency-Key at the same moment
make one message and one text at the carrier; every request gets the same answer."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.test import Client

from channels_app.models import Patient, PatientChannel
from messaging.models import Message, SimulatorText
from practices.models import Practice
from tests.support.api import MESSAGES_URL, message_payload, post_all_at_once
from webhooks.models import IdempotencyKey

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 10


@pytest.fixture(autouse=True)
def _postgresql_only(transactional_db: None) -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL (row locks on a unique index): set "
            "DATABASE_URL=postgres://… to run it"
        )


def test_ten_concurrent_duplicates_make_one_message_and_one_text(
    token: str, practice: Practice
) -> None:
    identity = {
        "mrn": "E77",
        "first_name": "Ana",
        "last_name": "Diaz",
        "date_of_birth": "1970-05-05",
    }
    payload = message_payload(practice, patient=identity, metadata={"visit": 9})
    responses = post_all_at_once(
        MESSAGES_URL, token, [payload] * THREADS, headers={"Idempotency-Key": "same-key"}
    )

    assert [r.status_code for r in responses] == [202] * THREADS, [r.content for r in responses]
    bodies = [r.json() for r in responses]
    assert all(body == bodies[0] for body in bodies)
    assert sum(1 for r in responses if r.has_header("Idempotent-Replayed")) == THREADS - 1

    assert Message.objects.count() == 1
    assert Patient.objects.count() == 1
    assert PatientChannel.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1
    message = Message.objects.get()
    assert str(message.pk) == bodies[0]["id"]
    # One text reached the (simulated) carrier: the send task ran once, after the one commit.
    assert SimulatorText.objects.filter(client_reference=str(message.pk)).count() == 1
    assert SimulatorText.objects.count() == 1


def test_concurrent_different_bodies_one_wins_the_rest_are_refused(
    token: str, practice: Practice
) -> None:
    payloads = [message_payload(practice, body=f"Text number {i}") for i in range(THREADS)]
    responses = post_all_at_once(
        MESSAGES_URL, token, payloads, headers={"Idempotency-Key": "contested-key"}
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [202] + [422] * (THREADS - 1), [r.content for r in responses]
    refused = [r.json()["error"]["code"] for r in responses if r.status_code == 422]
    assert set(refused) == {"idempotency_key_reuse"}
    assert Message.objects.count() == 1
    assert SimulatorText.objects.count() == 1


def test_concurrent_new_patient_without_a_key_is_created_once(
    token: str, practice: Practice
) -> None:
    """Different keys, same unknown MRN: one patient, ten messages to them."""
    identity = {"mrn": "E88", "first_name": "Bo", "last_name": "Li", "date_of_birth": "1960-01-02"}
    barrier = threading.Barrier(THREADS)
    statuses: list[int] = []

    def post(index: int) -> None:
        try:
            client = Client()
            barrier.wait(timeout=30)
            response = client.post(
                MESSAGES_URL,
                message_payload(practice, body=f"Hello {index}", patient=identity),
                content_type="application/json",
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"k{index}"},
            )
            statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [202] * THREADS
    assert Patient.objects.count() == 1
    assert PatientChannel.objects.count() == 1
    assert Message.objects.filter(patient=Patient.objects.get()).count() == THREADS
