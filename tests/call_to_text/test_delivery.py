"""What the caller and the call-center staff see: the text on the caller's phone (or `failed`
with `landline`), the reply in the call-center channel, a known patient's name."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from channels_app.models import PatientChannel
from messaging.models import Message, MessageStatus
from practices.models import Line, Membership
from tests.factories import (
    LineFactory,
    MembershipFactory,
    PatientFactory,
    PatientPhoneFactory,
    PracticeFactory,
)
from tests.support import client_for
from tests.support.call_to_text import CALLER, Hit, simulator_texts
from webhooks.models import CallToTextWorkflow

pytestmark = pytest.mark.django_db


def _post_json(client: Client, url: str, data: dict[str, str]) -> object:
    return client.post(url, json.dumps(data), content_type="application/json")


def test_a_landline_caller_ends_failed_with_landline(hit: Hit, token: str, client: Client) -> None:
    marked = client.post(
        "/simulator/api/numbers",
        json.dumps({"number": "8185550142", "type": "landline"}),
        content_type="application/json",
    )
    assert marked.status_code == 200
    response = hit(token)
    assert response.status_code == 202  # accepted: the carrier decides, after the response
    message = Message.objects.get(pk=response.json()["message_id"])
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "landline")
    assert [(s.status, s.error_code) for s in message.status_history.all()][-1] == (
        "failed",
        "landline",
    )
    assert [t["status"] for t in simulator_texts(client, CALLER)] in ([], ["failed"])


def test_the_reply_lands_in_the_call_center_channel(
    hit: Hit, token: str, client: Client, line: Line
) -> None:
    staff = MembershipFactory(
        user__username="agent", practice=line.practice, role=Membership.Role.STAFF
    ).user
    clinic_staff = MembershipFactory(practice=PracticeFactory(enterprise=line.practice.enterprise))
    channel_id = hit(token).json()["channel_id"]

    reply = client.post(
        "/simulator/api/inbound",
        json.dumps({"from": CALLER, "to": line.phone_number.as_e164, "body": "I need a refill"}),
        content_type="application/json",
    )
    assert reply.status_code == 202
    assert reply.json()["channel_id"] == channel_id
    channel = PatientChannel.objects.get(pk=channel_id)
    assert channel.status == PatientChannel.Status.OPEN
    assert channel.needs_action
    inbound = Message.objects.get(direction="inbound")
    assert (inbound.channel_id, inbound.body) == (channel.pk, "I need a refill")

    inbox = client_for(staff).get("/inbox/").content.decode()
    assert f'id="channel-{channel_id}"' in inbox
    assert "I need a refill" in inbox
    assert "(818) 555-0142" in inbox
    other = client_for(clinic_staff.user).get("/inbox/").content.decode()
    assert f'id="channel-{channel_id}"' not in other


def test_known_patient_name_shows_when_the_enterprise_allows_it(
    hit: Hit, token: str, workflow: CallToTextWorkflow, line: Line
) -> None:
    enterprise = workflow.practice.enterprise
    enterprise.allow_enterprise_patient_access = True
    enterprise.save(update_fields=["allow_enterprise_patient_access"])
    clinic = PracticeFactory(enterprise=enterprise, name="Primary Care")
    kim = PatientFactory(enterprise=enterprise, first_name="Kim", last_name="Lee")
    PatientPhoneFactory(patient=kim, number=CALLER)
    staff = MembershipFactory(practice=line.practice).user
    LineFactory(practice=clinic)

    channel = PatientChannel.objects.get(pk=hit(token).json()["channel_id"])

    assert channel.practice == workflow.practice
    assert channel.patient is None  # still unverified here
    assert channel.known_patient == kim
    assert channel.display_name == "Kim Lee"
    inbox = client_for(staff).get("/inbox/?status=all").content.decode()
    assert "Kim Lee" in inbox
    assert "Unverified · known number" in inbox


def test_without_enterprise_access_only_the_number_shows(
    hit: Hit, token: str, workflow: CallToTextWorkflow
) -> None:
    kim = PatientFactory(enterprise=workflow.practice.enterprise, first_name="Kim")
    PatientPhoneFactory(patient=kim, number=CALLER)
    channel = PatientChannel.objects.get(pk=hit(token).json()["channel_id"])
    assert channel.known_patient is None
    assert channel.display_name == "(818) 555-0142"


def test_another_enterprise_patient_is_never_named(
    hit: Hit, token: str, workflow: CallToTextWorkflow
) -> None:
    enterprise = workflow.practice.enterprise
    enterprise.allow_enterprise_patient_access = True
    enterprise.save(update_fields=["allow_enterprise_patient_access"])
    stranger = PatientFactory(first_name="Other")  # another enterprise
    PatientPhoneFactory(patient=stranger, number=CALLER)
    channel = PatientChannel.objects.get(pk=hit(token).json()["channel_id"])
    assert channel.known_patient is None


def test_a_verified_patient_channel_on_the_line_is_not_used(
    hit: Hit, token: str, line: Line
) -> None:
    """The caller is only a phone number: the text goes to the unverified channel even when
    the same number has a verified conversation on the line."""
    patient = PatientFactory(enterprise=line.practice.enterprise)
    PatientPhoneFactory(patient=patient, number=CALLER)
    verified = PatientChannel.objects.create(
        practice=line.practice, line=line, patient=patient, phone=CALLER
    )
    channel_id = hit(token).json()["channel_id"]
    assert channel_id != str(verified.pk)
    assert PatientChannel.objects.get(pk=channel_id).patient is None
