"""The collaborative inbox in a real browser (Debian's Chromium driven by Playwright).

Screenshots of the inbox and a thread are kept in test-results/inbox/ (git-ignored), or in
$INBOX_SCREENSHOTS when set: pytest-playwright empties test-results/ whenever a pytest session
starts in this directory, so a parallel run can take them away.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from channels_app.models import PatientChannel
from messaging.models import Message
from messaging.services import Api, Staff, ToChannel, ToNumber, message_send
from practices.models import Practice
from tests.factories import (
    TEST_PASSWORD,
    MessageFactory,
    PatientFactory,
    PatientPhoneFactory,
    QuickResponseFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(
    os.environ.get("INBOX_SCREENSHOTS")
    or Path(__file__).resolve().parents[2] / "test-results" / "inbox"
)
PHONE = "+18185550101"
HOSTILE = '<script>alert("x")</script><img src=x onerror="alert(1)"> hi'


def _sign_in(page: Page, live_server: Any, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()


def _patient_texts(page: Page, live_server: Any, line_phone: str, body: str) -> None:
    response = page.request.post(
        f"{live_server.url}/simulator/api/inbound",
        data=json.dumps({"from": PHONE, "to": line_phone, "body": body}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 202, response.text()


def _carried_to_patient(page: Page, live_server: Any) -> list[str]:
    response = page.request.get(f"{live_server.url}/simulator/api/messages?to={PHONE}")
    return [text["body"] for text in response.json()["results"]]


def _screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


@pytest.fixture
def ana(practice_a: Practice) -> Any:
    patient = PatientFactory(enterprise=practice_a.enterprise, first_name="Ana", last_name="Lopez")
    PatientPhoneFactory(patient=patient, number=PHONE)
    return patient


def test_staff_work_a_conversation_end_to_end(
    page: Page, live_server: Any, staff_a: Any, practice_a: Practice, ana: Any
) -> None:
    staff_a.first_name, staff_a.last_name = "Sam", "Front"
    staff_a.save()
    QuickResponseFactory(practice=practice_a, topic="Directions", text="!! Parking is in Lot B.")
    QuickResponseFactory(
        practice=practice_a, topic="Scheduling", text="Please call us to reschedule."
    )
    line = practice_a.lines.get()
    line_phone = line.phone_number.as_e164
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size({"width": 1200, "height": 900})

    _sign_in(page, live_server, "staff_a")
    expect(page.get_by_text("No open conversations")).to_be_visible()

    # A MAPI text, then the patient's reply, show up without a reload.
    message_send(
        to=ToNumber(practice_a, PHONE, patient=ana), sender=Api(), body="Your visit is Friday 9:00."
    )
    row = page.locator(".channel-row", has_text="Ana Lopez")
    expect(row).to_contain_text("Your visit is Friday 9:00.", timeout=8_000)
    _patient_texts(page, live_server, line_phone, "Can I come at 10 instead?")
    expect(row).to_contain_text("Can I come at 10 instead?", timeout=8_000)
    expect(row.get_by_text("Needs action")).to_be_visible()
    _screenshot(page, "inbox.png")

    # Open the thread: the secure lock is on for a verified patient.
    row.get_by_role("link", name="Ana Lopez").click()
    expect(page.get_by_role("heading", name="Ana Lopez")).to_be_visible()
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Can I come at 10 instead?")
    lock = page.get_by_role("checkbox", name="Secure")
    expect(lock).to_be_checked()

    composer = page.get_by_label("Message to Ana Lopez")
    composer.fill("Hi {patientFirstName}, 10:00 works.")
    expect(page.locator("#composer-mode")).to_contain_text("secure link")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(timeline).to_contain_text("Hi Ana, 10:00 works.", timeout=8_000)
    expect(timeline.locator(".msg-outbound.msg-secure")).to_have_count(1)
    expect(page.get_by_label("Message to Ana Lopez")).to_have_value("")
    carried = _carried_to_patient(page, live_server)
    assert any("/secure/" in body for body in carried), carried
    assert not any("10:00 works" in body for body in carried), carried

    # `!!` overrides the lock: plain SMS, prefix removed. The counter counts the SMS.
    composer = page.get_by_label("Message to Ana Lopez")
    composer.fill("!! Bring your insurance card.")
    expect(page.locator("#composer-mode")).to_contain_text("plain SMS")
    expect(page.locator("#segment-counter")).to_contain_text("26 characters · 1 segment")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(timeline).to_contain_text("Bring your insurance card.", timeout=8_000)
    _wait_for(lambda: "Bring your insurance card." in _carried_to_patient(page, live_server))

    # A quick response goes into the composer at the cursor.
    page.get_by_text("Quick responses").click()
    _screenshot(page, "quick-responses.png")
    page.get_by_role("button", name=re.compile("Parking is in Lot B")).click()
    expect(page.get_by_label("Message to Ana Lopez")).to_have_value("!! Parking is in Lot B.")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(timeline).to_contain_text("Parking is in Lot B.", timeout=8_000)
    _wait_for(lambda: "Parking is in Lot B." in _carried_to_patient(page, live_server))
    expect(timeline.locator(".msg-status", has_text="Delivered").first).to_be_visible(
        timeout=10_000
    )

    # Assign to me, then close.
    page.get_by_role("button", name="Assign to me").click()
    expect(page.locator("#assignee")).to_have_text("Assigned to Sam Front")
    page.get_by_role("button", name="Close", exact=True).click()
    expect(page.get_by_role("button", name="Reopen")).to_be_visible()
    expect(timeline).to_contain_text("Sam Front closed the conversation", timeout=8_000)
    _screenshot(page, "thread.png")

    # The filters: closed is not in the open folder; assigned=me finds it.
    page.get_by_role("link", name="← Inbox").click()
    expect(page.get_by_text("Ana Lopez")).to_have_count(0)
    page.get_by_role("link", name="Closed", exact=True).click()
    expect(page.locator(".channel-row", has_text="Ana Lopez")).to_be_visible()
    page.get_by_role("link", name="Mine", exact=True).click()
    expect(page).to_have_url(re.compile(r"assigned=me"))
    expect(page.locator(".channel-row", has_text="Ana Lopez")).to_be_visible()
    page.get_by_role("link", name="Unassigned", exact=True).click()
    expect(page.get_by_text("Ana Lopez")).to_have_count(0)

    # Reopen from the thread.
    page.goto(f"{live_server.url}/inbox/?status=closed")
    page.get_by_role("link", name="Ana Lopez").click()
    page.get_by_role("button", name="Reopen").click()
    expect(page.get_by_role("button", name="Close", exact=True)).to_be_visible()
    assert PatientChannel.objects.get().status == "open"

    # Phone-sized screens.
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_label("Internal note").fill("@staff_a check the insurance card")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#timeline .note")).to_be_visible(timeout=8_000)
    _screenshot(page, "thread-mobile.png")
    page.goto(f"{live_server.url}/inbox/?status=all")
    _screenshot(page, "inbox-mobile.png")
    assert errors == [], errors


def _wait_for(condition: Any, timeout: float = 8.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_staff_of_another_practice_gets_404_on_the_thread(
    page: Page, live_server: Any, staff_b: Any, practice_a: Practice, ana: Any
) -> None:
    message = message_send(to=ToNumber(practice_a, PHONE, patient=ana), sender=Api(), body="Hi")
    _sign_in(page, live_server, "staff_b")

    response = page.goto(f"{live_server.url}/inbox/channels/{message.channel_id}/")

    assert response is not None
    assert response.status == 404
    expect(page.get_by_text("Ana Lopez")).to_have_count(0)


def test_a_hostile_body_stays_inert(
    page: Page, live_server: Any, staff_a: Any, practice_a: Practice
) -> None:
    dialogs: list[str] = []
    errors: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_in(page, live_server, "staff_a")

    _patient_texts(page, live_server, practice_a.lines.get().phone_number.as_e164, HOSTILE)
    row = page.locator(".channel-row", has_text="(818) 555-0101")
    expect(row).to_contain_text('<script>alert("x")</script>', timeout=8_000)
    row.get_by_role("link").click()
    expect(page.locator("#timeline .msg-body")).to_have_text(HOSTILE)
    page.get_by_label("Internal note").fill(HOSTILE)
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#timeline .note-body")).to_have_text(HOSTILE, timeout=8_000)
    page.wait_for_timeout(500)

    assert dialogs == []
    assert page.locator("#timeline img").count() == 0
    assert errors == [], errors


def test_a_colleagues_reply_while_typing_needs_a_second_click(
    page: Page, live_server: Any, staff_a: Any, practice_a: Practice, ana: Any
) -> None:
    from tests.factories import MembershipFactory

    dana = MembershipFactory(
        practice=practice_a, user__username="dana", user__first_name="Dana", user__last_name="Reyes"
    ).user
    first = message_send(
        to=ToNumber(practice_a, PHONE, patient=ana), sender=Api(), body="Reminder: Friday"
    )
    channel = first.channel
    _sign_in(page, live_server, "staff_a")
    page.goto(f"{live_server.url}/inbox/channels/{channel.pk}/")
    page.get_by_label("Message to Ana Lopez").fill("I will call you")

    message_send(to=ToChannel(channel), sender=Staff(dana), body="Dana here: all set.")
    page.get_by_role("button", name="Send", exact=True).click()

    expect(page.get_by_role("alert")).to_contain_text("Dana Reyes replied while you were typing")
    page.get_by_role("button", name="Send anyway").click()
    expect(page.locator("#timeline")).to_contain_text("I will call you", timeout=8_000)


def test_earlier_messages_load_back_to_the_first_without_losing_the_place(
    page: Page, live_server: Any, staff_a: Any, practice_a: Practice, ana: Any
) -> None:
    """A 230-message conversation opens at its newest text; "Load earlier messages" brings
    older pages in above, keeping the text the reader was on in view, back to the first."""
    first = message_send(to=ToNumber(practice_a, PHONE, patient=ana), sender=Api(), body="Note 0.")
    start = first.created_at
    later = [MessageFactory.build(channel=first.channel, body=f"Note {i}.") for i in range(1, 230)]
    Message.objects.bulk_create(later)
    for i, message in enumerate(later, start=1):
        message.created_at = start + datetime.timedelta(seconds=i)
    Message.objects.bulk_update(later, ["created_at"])
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size({"width": 1200, "height": 900})
    _sign_in(page, live_server, "staff_a")
    page.locator(".channel-row", has_text="Ana Lopez").click()

    scroll = page.locator("#thread-scroll")
    expect(scroll.get_by_text("Note 229.", exact=True)).to_be_in_viewport()
    expect(scroll.get_by_text("Note 179.", exact=True)).to_have_count(0)

    for oldest_shown in (180, 130, 80, 30):
        scroll.evaluate("box => { box.scrollTop = 0; }")
        page.get_by_role("link", name="Load earlier messages").click()
        expect(scroll.get_by_text(f"Note {oldest_shown - 1}.", exact=True)).to_have_count(1)
        # The page went in above: the text that was at the top is still in view.
        expect(scroll.get_by_text(f"Note {oldest_shown}.", exact=True)).to_be_in_viewport()

    expect(scroll.get_by_text("Note 0.", exact=True)).to_have_count(1)
    expect(scroll.get_by_text("The beginning of the conversation.")).to_be_visible()
    expect(page.get_by_role("link", name="Load earlier messages")).to_have_count(0)
    _screenshot(page, "thread-earliest.png")
    assert errors == []
