"""The simulator's JSON API and page (no browser here; see test_simulator_browser.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from messaging.models import Message, SimulatorNumber
from messaging.services import Api, ToNumber, message_send
from practices.models import Line

pytestmark = pytest.mark.django_db

PATIENT = "+18185550101"


def post_json(client: Client, url: str, data: Any) -> Any:
    return client.post(url, data=json.dumps(data), content_type="application/json")


def send(line: Line, body: str, to: str = PATIENT) -> Message:
    return message_send(to=ToNumber(line.practice, to), sender=Api(), body=body)


def test_messages_to_a_number_oldest_first(
    client: Client, line: Line, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        send(line, "first")
        send(line, "second")
        send(line, "to someone else", to="+18185550102")
    response = client.get("/simulator/api/messages", {"to": "(818) 555-0101"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["body"] for r in results] == ["first", "second"]
    assert set(results[0]) == {"id", "from", "to", "body", "status", "created_at"}
    assert results[0]["to"] == PATIENT
    assert results[0]["from"] == line.phone_number.as_e164
    assert results[0]["status"] == "delivered"


def test_from_filter(client: Client, line: Line) -> None:
    post_json(
        client,
        "/simulator/api/inbound",
        {"from": PATIENT, "to": str(line.phone_number), "body": "hi"},
    )
    mine = client.get("/simulator/api/messages", {"from": PATIENT}).json()["results"]
    assert [(r["from"], r["to"], r["body"]) for r in mine] == [
        (PATIENT, line.phone_number.as_e164, "hi")
    ]
    assert client.get("/simulator/api/messages", {"to": PATIENT}).json()["results"] == []


def test_messages_needs_a_number(client: Client) -> None:
    response = client.get("/simulator/api/messages")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "number_required"
    bad = client.get("/simulator/api/messages", {"to": "nope"})
    assert (bad.status_code, bad.json()["error"]["field"]) == (400, "to")


def test_inbound_reaches_the_platform(client: Client, line: Line) -> None:
    response = post_json(
        client,
        "/simulator/api/inbound",
        {"from": "818-555-0101", "to": line.phone_number.as_e164, "body": "Can I reschedule?"},
    )
    assert response.status_code == 202
    message = Message.objects.get(direction="inbound")
    assert response.json()["message_id"] == str(message.id)
    assert response.json()["id"] == message.provider_message_id
    assert (message.body, message.from_number, message.line) == ("Can I reschedule?", PATIENT, line)
    assert message.channel.needs_action


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"from": PATIENT, "to": "+13105550199", "body": "hi"}, 404, "unknown_line"),
        ({"from": "nope", "to": "LINE", "body": "hi"}, 400, "invalid_phone"),
        ({"from": PATIENT, "to": "LINE"}, 400, "required"),
        ({"from": PATIENT, "to": "LINE", "body": "  "}, 400, "empty_body"),
        ([1, 2], 400, "invalid_json"),
    ],
)
def test_inbound_errors(client: Client, line: Line, payload: Any, status: int, code: str) -> None:
    if isinstance(payload, dict) and payload.get("to") == "LINE":
        payload["to"] = line.phone_number.as_e164
    response = post_json(client, "/simulator/api/inbound", payload)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert not Message.objects.exists()


def test_inbound_malformed_json(client: Client) -> None:
    response = client.post("/simulator/api/inbound", data="{", content_type="application/json")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_json")


def test_numbers_sets_how_the_carrier_treats_a_number(
    client: Client, line: Line, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    response = post_json(
        client, "/simulator/api/numbers", {"number": "8185550101", "type": "landline"}
    )
    assert response.status_code == 200
    assert response.json() == {"number": PATIENT, "type": "landline"}
    with django_capture_on_commit_callbacks(execute=True):
        message = send(line, "hello landline")
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", "landline")

    post_json(client, "/simulator/api/numbers", {"number": PATIENT, "type": "mobile"})
    assert SimulatorNumber.objects.get(number=PATIENT).kind == "mobile"


def test_numbers_rejects_unknown_types(client: Client) -> None:
    response = post_json(client, "/simulator/api/numbers", {"number": PATIENT, "type": "fax"})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid_number_type",
        "message": "type must be one of mobile, landline, unreachable.",
        "field": "type",
    }


def test_wrong_method(client: Client) -> None:
    assert client.get("/simulator/api/inbound").status_code == 405


@pytest.mark.parametrize(
    "url",
    ["/simulator/", "/simulator/api/messages?to=%2B18185550101", "/simulator/thread/?number=1"],
)
def test_everything_is_404_when_the_simulator_is_off(
    client: Client, settings: Any, url: str
) -> None:
    settings.SMS_BACKEND = "twilio"
    assert client.get(url).status_code == 404
    response = post_json(
        client, "/simulator/api/inbound", {"from": PATIENT, "to": PATIENT, "body": "x"}
    )
    assert response.status_code == 404


def test_page_shows_a_phone_and_its_texts(
    client: Client, line: Line, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        send(line, "Your appointment is tomorrow")
    page = client.get("/simulator/")
    assert page.status_code == 200
    assert PATIENT in page.content.decode()  # offered among recently texted numbers
    phone = client.get("/simulator/", {"number": "8185550101"}).content.decode()
    assert "Your appointment is tomorrow" in phone
    assert "Delivered" in phone
    assert f'value="{line.phone_number.as_e164}" selected' in phone


def test_page_reply_form_without_javascript(client: Client, line: Line) -> None:
    client_with_csrf = Client(enforce_csrf_checks=True)
    page = client_with_csrf.get("/simulator/", {"number": PATIENT})
    token = page.cookies["csrftoken"].value
    response = client_with_csrf.post(
        "/simulator/reply/",
        {
            "number": PATIENT,
            "line": line.phone_number.as_e164,
            "body": "On my way",
            "csrfmiddlewaretoken": token,
        },
    )
    assert response.status_code == 302
    assert Message.objects.get(direction="inbound").body == "On my way"
    assert "On my way" in client_with_csrf.get(response["Location"]).content.decode()


def test_page_with_a_bad_number_says_so(client: Client) -> None:
    page = client.get("/simulator/", {"number": "12"}).content.decode()
    assert "Enter a valid US phone number" in page
