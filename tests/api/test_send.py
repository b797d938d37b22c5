"""POST /api/v1/messages and GET /api/v1/messages/{id}: what an accepted request does."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest

from channels_app.models import Patient, PatientChannel, PatientPhone
from messaging.models import Message, MessageStatus, SimulatorText
from practices.models import Line, Practice
from tests.factories import LineFactory, PatientFactory
from tests.support.api import MESSAGES_URL, ApiCaller, message_payload
from webhooks.api.serializers import MessageDetailSerializer, MessageSerializer
from webhooks.models import ApiClient

pytestmark = pytest.mark.django_db

RESPONSE_KEYS = {
    "id",
    "status",
    "error_code",
    "to",
    "from",
    "body",
    "segments",
    "secure",
    "practice_id",
    "line_id",
    "channel",
    "patient_id",
    "metadata",
    "created_at",
    "send_at",
    "valid_until",
}


def test_send_to_a_number(
    api: ApiCaller,
    practice: Practice,
    line: Line,
    api_client: ApiClient,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(data=message_payload(practice, to="(818) 555-0101"))
    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == RESPONSE_KEYS
    message = Message.objects.get()
    channel = PatientChannel.objects.get()
    assert body == {
        "id": str(message.pk),
        "status": "received",
        "error_code": None,
        "to": "+18185550101",
        "from": line.phone_number.as_e164,
        "body": "Your appointment is tomorrow at 9:00.",
        "segments": 1,
        "secure": False,
        "practice_id": str(practice.pk),
        "line_id": str(line.pk),
        "channel": {"id": str(channel.pk), "verified": False},
        "patient_id": None,
        "metadata": {},
        "created_at": body["created_at"],
        "send_at": None,
        "valid_until": None,
    }
    assert datetime.datetime.fromisoformat(body["created_at"]) == message.created_at
    assert message.sender_kind == Message.SenderKind.API
    assert message.sender_api_client == api_client
    assert channel.patient is None  # an unverified channel
    # The one send path delivered it through the simulated carrier.
    carried = SimulatorText.objects.get()
    assert (carried.to_number, carried.body) == ("+18185550101", message.body)


@pytest.mark.parametrize(
    "to", ["+18185551234", "18185551234", "8185551234", "(818) 555-1234", "818.555.1234"]
)
def test_phone_formats(api: ApiCaller, practice: Practice, to: str) -> None:
    response = api.post(data=message_payload(practice, to=to))
    assert response.status_code == 202, response.content
    assert response.json()["to"] == "+18185551234"


def test_practice_by_location_id(api: ApiCaller, practice: Practice, foreign_practice: Any) -> None:
    """DEP100 is a location of both enterprises; the client's own one is used."""
    response = api.post(data=message_payload(practice, practice_id=..., location_id="DEP100"))
    assert response.status_code == 202, response.content
    assert response.json()["practice_id"] == str(practice.pk)


def test_numeric_location_id(api: ApiCaller, practice: Practice) -> None:
    practice.locations.create(location_id="4242")
    response = api.post(data=message_payload(practice, practice_id=..., location_id=4242))
    assert response.status_code == 202, response.content


def test_named_line(api: ApiCaller, practice: Practice) -> None:
    second = LineFactory(practice=practice, is_default=False, name="Second")
    response = api.post(data=message_payload(practice, line_id=str(second.pk)))
    assert response.status_code == 202, response.content
    assert response.json()["line_id"] == str(second.pk)
    assert response.json()["from"] == second.phone_number.as_e164


def test_known_patient_by_mrn_gets_a_verified_channel(
    api: ApiCaller, practice: Practice, enterprise: Any
) -> None:
    patient = PatientFactory(enterprise=enterprise, mrn="E100")
    response = api.post(data=message_payload(practice, patient={"mrn": "E100"}))
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["patient_id"] == str(patient.pk)
    assert body["channel"]["verified"] is True
    assert PatientChannel.objects.get().patient == patient
    assert Patient.objects.count() == 1


def test_unknown_mrn_with_details_adds_a_verified_patient(
    api: ApiCaller, practice: Practice, enterprise: Any
) -> None:
    identity = {
        "mrn": "E200",
        "first_name": "Maria",
        "last_name": "Lopez",
        "date_of_birth": "1984-03-09",
    }
    response = api.post(data=message_payload(practice, patient=identity))
    assert response.status_code == 202, response.content
    patient = Patient.objects.get()
    assert (patient.enterprise, patient.mrn, patient.first_name, patient.last_name) == (
        enterprise,
        "E200",
        "Maria",
        "Lopez",
    )
    assert patient.date_of_birth == datetime.date(1984, 3, 9)
    assert patient.is_verified
    assert list(PatientPhone.objects.values_list("number", flat=True)) == ["+18185550101"]
    assert response.json()["patient_id"] == str(patient.pk)
    assert response.json()["channel"]["verified"] is True
    # The next message finds the same patient.
    again = api.post(data=message_payload(practice, patient={"mrn": "E200"}))
    assert again.status_code == 202
    assert Patient.objects.count() == 1
    assert PatientChannel.objects.count() == 1


def test_numeric_mrn(api: ApiCaller, practice: Practice, enterprise: Any) -> None:
    patient = PatientFactory(enterprise=enterprise, mrn="123456")
    response = api.post(data=message_payload(practice, patient={"mrn": 123456}))
    assert response.status_code == 202, response.content
    assert response.json()["patient_id"] == str(patient.pk)


def test_same_mrn_in_another_enterprise_is_not_used(
    api: ApiCaller, practice: Practice, foreign_practice: Practice
) -> None:
    PatientFactory(enterprise=foreign_practice.enterprise, mrn="E300")
    response = api.post(data=message_payload(practice, patient={"mrn": "E300"}))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unknown_patient"


def test_secure_message_to_a_verified_patient(
    api: ApiCaller,
    practice: Practice,
    enterprise: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    PatientFactory(enterprise=enterprise, mrn="E400")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            data=message_payload(
                practice, body="Your results are in.", patient={"mrn": "E400"}, secure=True
            )
        )
    assert response.status_code == 202, response.content
    assert response.json()["secure"] is True
    # The carrier carries only a notice with a link, never the body.
    carried = SimulatorText.objects.get()
    assert "Your results are in." not in carried.body
    assert "/secure/" in carried.body


def test_callback_url_and_metadata_are_kept(api: ApiCaller, practice: Practice) -> None:
    metadata = {"appointment_id": "A-1", "nested": {"list": [1, 2.5, None, True]}}
    response = api.post(
        data=message_payload(
            practice, callback_url="https://emr.example.org/status", metadata=metadata
        )
    )
    assert response.status_code == 202, response.content
    assert response.json()["metadata"] == metadata
    message = Message.objects.get()
    assert message.callback_url == "https://emr.example.org/status"
    assert message.metadata == metadata


def test_metadata_of_exactly_2_kb_is_accepted(api: ApiCaller, practice: Practice) -> None:
    metadata = {"x": "a" * (2048 - len('{"x":""}'))}
    response = api.post(data=message_payload(practice, metadata=metadata))
    assert response.status_code == 202, response.content


def test_optional_fields_may_be_null(api: ApiCaller, practice: Practice) -> None:
    payload = message_payload(
        practice,
        location_id=None,
        line_id=None,
        patient=None,
        secure=None,
        callback_url=None,
        metadata=None,
    )
    response = api.post(data=payload)
    assert response.status_code == 202, response.content
    assert response.json()["metadata"] == {}


def test_body_of_1600_characters_counts_its_segments(api: ApiCaller, practice: Practice) -> None:
    response = api.post(data=message_payload(practice, body="a" * 1600))
    assert response.status_code == 202, response.content
    assert response.json()["segments"] == 11  # 153 GSM-7 characters per concatenated segment


def test_accept_header_does_not_matter(api: ApiCaller, practice: Practice) -> None:
    response = api.post(data=message_payload(practice), headers={"Accept": "text/html"})
    assert response.status_code == 202
    assert response["Content-Type"] == "application/json"


def test_read_a_message_with_its_history(
    api: ApiCaller, practice: Practice, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        sent = api.post(data=message_payload(practice, metadata={"a": 1})).json()
    response = api.get(f"{MESSAGES_URL}/{sent['id']}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == RESPONSE_KEYS | {"status_history"}
    assert body["status"] == MessageStatus.DELIVERED
    assert [step["status"] for step in body["status_history"]] == [
        "received",
        "sent",
        "delivered",
    ]
    assert all(set(step) == {"status", "at", "error_code"} for step in body["status_history"])
    assert body["status_history"][0]["error_code"] is None
    assert {key: body[key] for key in RESPONSE_KEYS - {"status"}} == {
        key: sent[key] for key in RESPONSE_KEYS - {"status"}
    }


def test_read_a_failed_message_names_the_reason(
    api: ApiCaller, practice: Practice, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    from messaging.models import SimulatorNumber

    SimulatorNumber.objects.create(number="+18185550101", kind=SimulatorNumber.Kind.LANDLINE)
    with django_capture_on_commit_callbacks(execute=True):
        sent = api.post(data=message_payload(practice)).json()
    body = api.get(f"{MESSAGES_URL}/{sent['id']}").json()
    assert (body["status"], body["error_code"]) == ("failed", "landline")
    assert body["status_history"][-1] == {
        "status": "failed",
        "at": body["status_history"][-1]["at"],
        "error_code": "landline",
    }


def test_read_any_message_of_the_enterprise(
    api: ApiCaller, practice: Practice, make_api: Callable[..., Any]
) -> None:
    """Another client of the same enterprise may read it (the enterprise is the tenant)."""
    sent = api.post(data=message_payload(practice)).json()
    other, _ = make_api()
    assert other.get(f"{MESSAGES_URL}/{sent['id']}").status_code == 200


def test_serializers_document_exactly_what_they_return() -> None:
    assert set(MessageSerializer().fields) == RESPONSE_KEYS
    assert set(MessageDetailSerializer().fields) == RESPONSE_KEYS | {"status_history"}
