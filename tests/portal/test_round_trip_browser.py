"""The whole round trip in a real browser (Debian's Chromium, a phone-sized viewport): an EMR
sends a secure message through MAPI with a real OAuth token; the patient's phone gets only a
notice and a link; the patient opens it, gets the date of birth wrong, then right, reads the
message and replies; the EMR receives a signed `patient.response` with `secure: true`."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect
from standardwebhooks import Webhook

from channels_app.models import PatientChannel
from messaging.models import Message, SecureAccessAttempt
from practices.models import Practice
from tests.support import Receiver
from tests.support.portal import PHONE, SECRET_TEXT, token_in
from webhooks.services import ApiClientCredentials

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPLY = "Thank you, doctor. Tuesday at 10 works for me."


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """A phone: the portal is for patients on their phones first."""
    return {
        **browser_context_args,
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    }


@pytest.fixture(autouse=True)
def _live_settings(settings: Any, live_server: Any) -> None:
    # Links in texts point at the server the browser can reach.
    settings.PUBLIC_BASE_URL = live_server.url
    settings.API_RATE_LIMIT_KEY_PREFIX = f"artera-test:secure:{uuid.uuid4().hex[:8]}"


def shot(page: Page, name: str) -> None:
    """Screenshots of each step, kept when SECURE_SCREENSHOTS_DIR names a folder."""
    folder = os.environ.get("SECURE_SCREENSHOTS_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_secure_round_trip(
    page: Page,
    live_server: Any,
    practice: Practice,
    credentials: ApiClientCredentials,
    receiver: Receiver,
) -> None:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # The EMR: a token from /oauth/token/, then a secure message to a verified patient.
    token = requests.post(
        f"{live_server.url}/oauth/token/",
        data={"grant_type": "client_credentials"},
        auth=(credentials.client_id, credentials.client_secret),
        timeout=10,
    ).json()["access_token"]
    sent = requests.post(
        f"{live_server.url}/api/v1/messages",
        json={
            "to": "(818) 555-0142",
            "body": SECRET_TEXT,
            "practice_id": str(practice.pk),
            "secure": True,
            "patient": {
                "mrn": "MRN-9001",
                "first_name": "Rosa",
                "last_name": "Diaz",
                "date_of_birth": "1961-07-23",
            },
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert sent.status_code == 202, sent.text
    assert sent.json()["secure"] is True
    patient_id = sent.json()["patient_id"]

    # The phone got a notice and a link, never the content.
    carried = requests.get(
        f"{live_server.url}/simulator/api/messages", params={"to": PHONE}, timeout=10
    ).json()["results"]
    (text,) = [t["body"] for t in carried]
    assert SECRET_TEXT not in text
    assert "biopsy" not in text
    assert text.startswith("Acme Clinic sent you a secure message. Open it here: ")
    link = f"{live_server.url}/secure/{token_in(text)}/"
    assert text.endswith(link)

    # The patient opens it.
    response = page.goto(link)
    assert response is not None
    assert response.headers["x-robots-tag"] == "noindex, nofollow"
    assert "no-store" in response.headers["cache-control"]
    expect(page.get_by_role("heading", name="You have a secure message")).to_be_visible()
    expect(page.get_by_text(SECRET_TEXT)).to_have_count(0)
    shot(page, "1-date-of-birth")

    page.get_by_label("Month").fill("7")
    page.get_by_label("Day").fill("24")
    page.get_by_label("Year").fill("1961")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "That date of birth does not match our records."
    )
    expect(page.get_by_text(SECRET_TEXT)).to_have_count(0)
    shot(page, "2-wrong-date-of-birth")

    page.get_by_label("Day").fill("23")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Secure messages")).to_be_visible()
    expect(page.get_by_text(SECRET_TEXT)).to_be_visible()
    shot(page, "3-thread")

    receiver.requests.clear()
    page.get_by_label("Your reply").fill(REPLY)
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("status")).to_contain_text("Your reply was sent to Acme Clinic.")
    expect(page.locator(".bubble-mine")).to_contain_text(REPLY)
    shot(page, "4-replied")

    # The EMR gets the answer, signed, with secure: true and the patient's id.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
        r.json()["type"] == "patient.response" for r in receiver.requests
    ):
        time.sleep(0.05)
    (request,) = [r for r in receiver.requests if r.json()["type"] == "patient.response"]
    payload = Webhook(credentials.webhook_secret).verify(request.body, request.headers)
    assert payload["type"] == "patient.response"
    data = payload["data"]
    assert data["secure"] is True
    assert data["patient_id"] == patient_id
    assert data["body"] == REPLY
    assert data["in_reply_to"] == sent.json()["id"]

    reply = Message.objects.get(pk=data["message_id"])
    assert reply.is_secure
    assert reply.direction == "inbound"
    assert reply.sender_kind == "patient"
    assert PatientChannel.objects.get(pk=reply.channel_id).needs_action
    outcomes = list(
        SecureAccessAttempt.objects.order_by("at", "id").values_list("outcome", flat=True)
    )
    assert outcomes == ["wrong", "ok"]
    assert errors == [], errors


def test_code_step_and_lockout_in_the_browser(
    page: Page, live_server: Any, send_secure: Any, receiver: Receiver
) -> None:
    """An old link asks for the texted code; five wrong answers show the lock."""
    from messaging.models import SecureLink, SimulatorText
    from tests.support.portal import age, link_token

    message = send_secure()
    age(SecureLink.objects.get(message=message), hours=30)
    page.goto(f"{live_server.url}/secure/{link_token(message)}/")
    page.get_by_label("Month").fill("07")
    page.get_by_label("Day").fill("23")
    page.get_by_label("Year").fill("1961")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    expect(page.get_by_text("phone ending in 0142")).to_be_visible()
    shot(page, "5-code")
    code_sms = SimulatorText.objects.order_by("-created_at").values_list("body", flat=True)[0]
    page.get_by_label("Code").fill(code_sms.split("security code is ")[1][:5])
    page.get_by_role("button", name="Open my message").click()
    expect(page.get_by_text(SECRET_TEXT)).to_be_visible()

    other = send_secure(body="Another note")
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/secure/{link_token(other)}/")
    for _ in range(5):
        page.get_by_label("Month").fill("1")
        page.get_by_label("Day").fill("1")
        page.get_by_label("Year").fill("1970")
        page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Too many tries")).to_be_visible()
    expect(page.get_by_text("Another note")).to_have_count(0)
    shot(page, "6-locked")
