"""`manage.py seed_demo`: DESIGN.md's JSON shape, idempotent per name, independent per name."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.hashers import check_password
from django.core.management import call_command
from django.test import Client, RequestFactory

from artera.secrets import token_hash
from channels_app.models import Patient, PatientChannel
from messaging.models import InboundAutomation, Message, MpspPrompt
from messaging.services import message_receive_inbound
from practices.models import EnterpriseAdministrator, Membership, Practice, QuickResponse
from webhooks.models import ApiClient, CallToTextWorkflow, SmapiKey

pytestmark = pytest.mark.django_db


def seed(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("seed_demo", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def sign_in(username: str, password: str) -> Client:
    """Through the real sign-in form (axes needs the request, so `Client.login` won't do)."""
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": password})
    assert response.status_code == 302, f"{username} could not sign in"
    return client


def _row_counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for app in ("practices", "channels_app", "messaging", "webhooks", "auth", "oauth2_provider")
        for model in apps.get_app_config(app).get_models()
    }


def test_json_has_the_shape_design_md_promises() -> None:
    data = seed()

    assert set(data) >= {
        "enterprise",
        "practices",
        "users",
        "patients",
        "api_client",
        "smapi_key",
        "call_to_text",
    }
    assert set(data["enterprise"]) >= {"id", "name"}
    assert data["enterprise"]["name"] == "Acme Health"
    # The clinic and the call center, then the one-way reminders practice (a clinic too).
    kinds = [p["kind"] for p in data["practices"]]
    assert kinds == ["clinic", "call_center", "clinic"]
    for practice in data["practices"]:
        assert set(practice) >= {"id", "name", "kind", "location_ids", "timezone", "lines"}
        assert practice["timezone"] == "America/New_York"
        assert practice["lines"]
        assert all(line["phone"].startswith("+1") for line in practice["lines"])
    clinic = next(p for p in data["practices"] if p["kind"] == "clinic")
    assert clinic["location_ids"]
    assert Practice.objects.get(id=data["practices"][2]["id"]).is_one_way
    roles = sorted(u["role"] for u in data["users"])
    assert roles == ["enterprise_admin", "manager", "staff", "staff", "staff", "superuser"]
    for user in data["users"]:
        assert set(user) >= {"username", "password", "role", "practice_ids"}
    assert len(data["patients"]) >= 2
    for patient in data["patients"]:
        assert set(patient) >= {"id", "mrn", "first_name", "last_name", "date_of_birth", "phone"}
    phones = [p["phone"] for p in data["patients"]]
    assert len(phones) != len(set(phones)), "two patients must share one phone"
    client = data["api_client"]
    assert set(client) >= {"client_id", "client_secret", "webhook_secret", "scopes"}
    assert client["webhook_secret"].startswith("whsec_")
    assert client["scopes"] == ["messages:send", "messages:read"]
    assert data["smapi_key"]
    assert sorted(w["kind"] for w in data["call_to_text"]) == ["abandoned_call", "call_to_text"]
    for workflow in data["call_to_text"]:
        assert workflow["url"].startswith("/webhook/call-to-text/")
        assert workflow["url"].endswith("/")


def test_roles_and_practices_match_the_design() -> None:
    data = seed()
    clinic = Practice.objects.get(kind=Practice.Kind.CLINIC, is_one_way=False)
    call_center = Practice.objects.get(kind=Practice.Kind.CALL_CENTER)

    assert clinic.memberships.filter(role=Membership.Role.MANAGER).count() == 1
    assert clinic.memberships.filter(role=Membership.Role.STAFF).count() == 2
    assert call_center.memberships.filter(role=Membership.Role.STAFF).count() == 1
    assert clinic.hours.count() == 5
    assert call_center.hours.count() == 7
    assert clinic.after_hours_enabled
    assert clinic.after_hours_message
    assert set(call_center.quick_responses.values_list("language", flat=True)) == {"en", "es"}
    superuser = next(u for u in data["users"] if u["role"] == "superuser")
    assert authenticate(
        RequestFactory().get("/"), username=superuser["username"], password=superuser["password"]
    ).is_superuser


def test_printed_credentials_are_the_stored_ones() -> None:
    data = seed()

    for user in data["users"]:
        sign_in(user["username"], user["password"])
    api_client = ApiClient.objects.select_related("application").get()
    assert api_client.application.client_id == data["api_client"]["client_id"]
    assert check_password(data["api_client"]["client_secret"], api_client.application.client_secret)
    assert api_client.application.client_secret != data["api_client"]["client_secret"]
    assert SmapiKey.objects.get().key_hash == token_hash(data["smapi_key"])
    for workflow in data["call_to_text"]:
        token = workflow["url"].split("/")[-2]
        assert CallToTextWorkflow.objects.get(id=workflow["id"]).token_hash == token_hash(token)


def test_the_one_way_practice_answers_and_closes() -> None:
    data = seed()
    one_way = Practice.objects.get(id=data["practices"][2]["id"])
    line = one_way.lines.get()
    automation = InboundAutomation.objects.get(practice=one_way)
    assert automation.condition == "one_way"
    assert automation.close_channel

    message = message_receive_inbound(
        to=line.phone_number.as_e164,
        from_="+18185550123",
        body="Can I move it?",
        provider_message_id="SMx",
    )

    channel = PatientChannel.objects.get(pk=message.channel_id)
    assert channel.status == "closed"
    reply = channel.messages.get(direction="outbound")
    assert "not monitored" in reply.body
    assert "Acme Health" in reply.body


def test_running_twice_creates_nothing_new_and_prints_the_same() -> None:
    first = seed()
    counts = _row_counts()

    second = seed()

    assert _row_counts() == counts
    assert second == first


def test_a_second_name_makes_an_independent_enterprise() -> None:
    acme = seed()
    other = seed("--name", "Other Health")

    assert other["enterprise"]["id"] != acme["enterprise"]["id"]
    acme_lines = {line["phone"] for p in acme["practices"] for line in p["lines"]}
    other_lines = {line["phone"] for p in other["practices"] for line in p["lines"]}
    assert not acme_lines & other_lines
    # Only the platform superuser is the same for both.
    shared = {u["username"] for u in acme["users"]} & {u["username"] for u in other["users"]}
    assert shared == {u["username"] for u in acme["users"] if u["role"] == "superuser"}
    assert Patient.objects.filter(enterprise_id=other["enterprise"]["id"]).count() == len(
        other["patients"]
    )


def test_other_enterprise_staff_see_nothing_of_the_first() -> None:
    seed()
    other = seed("--name", "Other Health")
    acme_channels = [
        f'id="channel-{pk}"'
        for pk in PatientChannel.objects.filter(
            practice__enterprise__name="Acme Health"
        ).values_list("id", flat=True)
    ]
    other_channels = PatientChannel.objects.filter(practice__enterprise__name="Other Health")
    assert acme_channels
    assert other_channels.exists()

    for user in other["users"]:
        if not user["practice_ids"]:
            continue  # the superuser and the enterprise administrator work in no practice
        client = sign_in(user["username"], user["password"])
        page = client.get("/inbox/?status=all").content.decode()
        assert 'id="channel-' in page, "the user should see their own channels"
        for marker in acme_channels:
            assert marker not in page


def test_acme_staff_see_their_seeded_conversations() -> None:
    data = seed()
    staff = next(u for u in data["users"] if u["role"] == "staff")
    client = sign_in(staff["username"], staff["password"])

    page = client.get("/inbox/?status=all").content.decode()

    assert "John Smith" in page


def test_the_smiths_shared_phone_gets_the_prompt_on_its_first_reply() -> None:
    """What the README promises: text from the Smiths' shared phone to the clinic's line and
    the shared-phone prompt comes back, naming both."""
    data = seed()
    clinic = next(p for p in data["practices"] if p["kind"] == "clinic")
    smiths = [p for p in data["patients"] if p["last_name"] == "Smith"]
    assert len({p["phone"] for p in smiths}) == 1

    message_receive_inbound(
        to=clinic["lines"][0]["phone"],
        from_=smiths[0]["phone"],
        body="Is this about my appointment?",
        provider_message_id="SM-smiths-1",
    )

    assert MpspPrompt.objects.filter(
        phone=smiths[0]["phone"], status=MpspPrompt.Status.PENDING
    ).exists()
    prompt = (
        Message.objects.filter(direction="outbound", to_number=smiths[0]["phone"])
        .order_by("-created_at")
        .first()
    )
    assert prompt is not None
    assert "John" in prompt.body
    assert "Mary" in prompt.body


@pytest.mark.parametrize(
    ("kind", "topics"),
    [
        ("call_center", ["DOB Request", "Est Patient or New Patient?", "Insurance Request"]),
        ("clinic", ["Scheduling", "Billing", "Directions"]),
    ],
)
def test_quick_responses_in_english_and_spanish(kind: str, topics: list[str]) -> None:
    data = seed()
    practice = next(p for p in data["practices"] if p["kind"] == kind)
    found = set(
        QuickResponse.objects.filter(practice_id=practice["id"]).values_list("topic", "language")
    )
    for topic in topics:
        assert {(topic, "en"), (topic, "es")} <= found
    if kind == "call_center":
        dob = QuickResponse.objects.get(
            practice_id=practice["id"], topic="DOB Request", language="en"
        )
        assert dob.text == "!!May I have the date of birth please?"


def test_one_platform_superuser_and_one_enterprise_administrator_per_enterprise() -> None:
    acme = seed()
    other = seed("--name", "Other Health")
    user_model = get_user_model()

    assert user_model.objects.filter(is_superuser=True).count() == 1
    for data in (acme, other):
        admin_user = next(u for u in data["users"] if u["role"] == "enterprise_admin")
        stored = user_model.objects.get(username=admin_user["username"])
        assert stored.is_staff
        assert not stored.is_superuser
        assert EnterpriseAdministrator.objects.get(user=stored).enterprise_id == uuid.UUID(
            data["enterprise"]["id"]
        )
        client = sign_in(admin_user["username"], admin_user["password"])
        listed = client.get("/admin/practices/practice/").context["cl"].result_list
        assert {str(p.enterprise_id) for p in listed} == {data["enterprise"]["id"]}
        manager = next(u for u in data["users"] if u["role"] == "manager")
        client = sign_in(manager["username"], manager["password"])
        listed = client.get("/admin/practices/practice/").context["cl"].result_list
        assert sorted(str(p.pk) for p in listed) == sorted(manager["practice_ids"])


def test_reseeding_keeps_the_roles() -> None:
    first = seed()
    again = seed()
    assert [(u["username"], u["role"]) for u in first["users"]] == [
        (u["username"], u["role"]) for u in again["users"]
    ]
    assert EnterpriseAdministrator.objects.count() == 1
