"""GET or POST, query string, form or JSON, the /webhook/jive/ alias; what comes back."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from channels_app.models import PatientChannel
from messaging.models import Message, OptOut
from tests.support.call_to_text import CALLER, Hit, simulator_texts
from webhooks.models import CallToTextCall, CallToTextWorkflow

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("via", ["query", "post-query", "form", "json"])
def test_each_way_of_passing_the_number(hit: Hit, token: str, via: str) -> None:
    response = hit(token, "8185550142", via=via)
    assert response.status_code == 202
    body = response.json()
    message = Message.objects.get()
    assert body == {"message_id": str(message.pk), "channel_id": str(message.channel_id)}
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "path",
    [
        "/webhook/jive/{token}/",
        "/webhook/jive/{token}",
        "/webhook/call-to-text/{token}",
    ],
)
def test_alias_and_missing_trailing_slash(hit: Hit, token: str, path: str) -> None:
    for via in ("query", "form"):
        Message.objects.all().delete()
        response = hit(token, path=path.format(token=token), via=via)
        assert response.status_code == 202, (path, via)


def test_the_caller_gets_the_workflow_text_from_its_line(
    hit: Hit, token: str, client: Client, workflow: CallToTextWorkflow
) -> None:
    response = hit(token)
    message = Message.objects.get(pk=response.json()["message_id"])
    assert message.sender_kind == Message.SenderKind.CALL_TO_TEXT
    assert message.sender_workflow == workflow
    assert message.line == workflow.line
    assert message.body.startswith("This is Patient Access Call Center. Sorry for the wait")
    assert message.status == "delivered"
    (text,) = simulator_texts(client, CALLER)
    assert (text["from"], text["body"]) == (workflow.line.phone_number.as_e164, message.body)


def test_the_channel_is_unverified_in_the_workflow_practice(
    hit: Hit, token: str, workflow: CallToTextWorkflow
) -> None:
    response = hit(token)
    channel = PatientChannel.objects.get(pk=response.json()["channel_id"])
    assert channel.practice == workflow.practice
    assert channel.line == workflow.line
    assert channel.patient is None
    assert not channel.is_verified
    assert channel.phone == CALLER


def test_json_without_content_type(token: str, client: Client) -> None:
    response = client.post(
        f"/webhook/call-to-text/{token}/",
        json.dumps({"CALLER_ID_NUMBER": "8185550142"}),
        content_type="text/plain",
    )
    assert response.status_code == 202


def test_query_string_wins_over_the_body(hit: Hit, token: str, client: Client) -> None:
    response = client.post(
        f"/webhook/call-to-text/{token}/?CALLER_ID_NUMBER=8185550142",
        json.dumps({"CALLER_ID_NUMBER": "nonsense"}),
        content_type="application/json",
    )
    assert response.status_code == 202


def test_malformed_json_is_400(token: str, client: Client) -> None:
    response = client.post(
        f"/webhook/call-to-text/{token}/", "{nope", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


def test_a_huge_body_is_413(token: str, client: Client) -> None:
    response = client.post(
        f"/webhook/call-to-text/{token}/",
        {"CALLER_ID_NUMBER": "8185550142", "junk": "x" * 20_000},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert not Message.objects.exists()


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_are_405(token: str, client: Client, method: str) -> None:
    response = getattr(client, method)(f"/webhook/call-to-text/{token}/")
    assert response.status_code == 405
    assert response["Allow"] == "GET, POST"
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_responses_are_not_cached(hit: Hit, token: str) -> None:
    response = hit(token)
    assert "no-store" in response["Cache-Control"]


def test_opted_out_caller_is_422_and_not_texted(
    hit: Hit, token: str, workflow: CallToTextWorkflow
) -> None:
    OptOut.objects.create(line=workflow.line, phone=CALLER, keyword="STOP")
    response = hit(token)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "recipient_opted_out"
    assert not Message.objects.exists()
    call = CallToTextCall.objects.get()
    assert (call.outcome, call.error_code, call.caller) == (
        "refused",
        "recipient_opted_out",
        CALLER,
    )


def test_inactive_line_is_422(hit: Hit, token: str, workflow: CallToTextWorkflow) -> None:
    workflow.line.is_active = False
    workflow.line.save(update_fields=["is_active"])
    response = hit(token)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "line_inactive"
