"""The cost of an accepted send does not grow with the request: the same number of queries for
a short text and a long one, for one patient and another, with metadata or without."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from practices.models import Practice
from tests.factories import PatientFactory
from tests.support.api import ApiCaller, message_payload

pytestmark = pytest.mark.django_db


# As counted inside a test, where every transaction is a savepoint of the test's own (2 more
# queries each than in production, where BEGIN/COMMIT are not counted):
# token 1 (until the client is remembered), practice and line 1, opt-out 1, channel lookup 1,
# the message with its first history row (one statement on PostgreSQL, two elsewhere), channel
# activity 1, message_send's transaction 2.
def bare_send() -> int:
    return 8 if connection.vendor == "postgresql" else 9


WITH_KEY = 4  # the key's transaction 2, its INSERT and the UPDATE with the response
WITH_PATIENT = 3  # the patient lookup, and the transaction that holds it with the send
NEW_CONVERSATION_AND_PATIENT = 7  # patient + phone + its transaction, channel + its savepoint


def queries_for(api: ApiCaller, payload: dict[str, Any], **headers: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api.post(data=payload, headers=headers)
    assert response.status_code == 202, response.content
    return len(captured.captured_queries)


def test_constant_queries_for_a_known_patient(
    api: ApiCaller, practice: Practice, enterprise: Any
) -> None:
    small, large = (
        PatientFactory(enterprise=enterprise, mrn="E1"),
        PatientFactory(enterprise=enterprise, mrn="E2"),
    )
    # Warm up both channels, so both measured sends find an existing conversation.
    for patient, to in ((small, "+18185550101"), (large, "+18185550102")):
        api.post(data=message_payload(practice, to=to, patient={"mrn": patient.mrn}))

    short = message_payload(practice, to="+18185550101", body="Hi", patient={"mrn": "E1"})
    long = message_payload(
        practice,
        to="+18185550102",
        body="x" * 1600,
        patient={"mrn": "E2"},
        metadata={f"key{i}": "v" * 20 for i in range(60)},
        callback_url="https://emr.example.org/status",
    )
    counts = [
        queries_for(api, short, **{"Idempotency-Key": "a"}),
        queries_for(api, long, **{"Idempotency-Key": "b"}),
    ]
    assert counts[0] == counts[1], counts
    assert counts[0] <= bare_send() + WITH_KEY + WITH_PATIENT


def test_constant_queries_for_bare_numbers(api: ApiCaller, practice: Practice) -> None:
    for to in ("+18185550111", "+18185550112"):
        api.post(data=message_payload(practice, to=to))
    counts = [
        queries_for(api, message_payload(practice, to="+18185550111", body="Hi")),
        queries_for(
            api,
            message_payload(
                practice, to="+18185550112", body="y" * 1500, metadata={"k": "v" * 1900}
            ),
        ),
    ]
    assert counts[0] == counts[1], counts
    assert counts[0] <= bare_send()


def test_bounded_queries_for_new_conversations_and_patients(
    api: ApiCaller, practice: Practice, django_assert_max_num_queries: Any
) -> None:
    """A first message also creates the channel (and patient): still a fixed, small number."""
    for index in range(2):
        identity = {
            "mrn": f"N{index}",
            "first_name": "New",
            "last_name": "Patient",
            "date_of_birth": "2001-02-03",
        }
        payload = message_payload(practice, to=f"+1818555020{index}", patient=identity)
        limit = bare_send() + WITH_KEY + WITH_PATIENT + NEW_CONVERSATION_AND_PATIENT
        with django_assert_max_num_queries(limit):
            response = api.post(data=payload, headers={"Idempotency-Key": f"new-{index}"})
        assert response.status_code == 202
