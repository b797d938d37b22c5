"""The staff workspace in a real browser (Debian's Chromium through Playwright): the split pane,
the patient beside the thread, triage, search, mentions, starting and handing over
conversations, the keyboard, and an axe-core check of the pages.

The split-pane screenshots go to $WORKSPACE_SCREENSHOTS (default test-results/workspace/).
"""

from __future__ import annotations

import datetime
import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from channels_app.models import PatientChannel
from messaging.models import Message
from practices.models import Practice
from tests.factories import (
    TEST_PASSWORD,
    MessageFactory,
    PatientChannelFactory,
    PatientFactory,
    PatientPhoneFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(
    os.environ.get("WORKSPACE_SCREENSHOTS")
    or Path(__file__).resolve().parents[2] / "test-results" / "workspace"
)


def sign_in(page: Page, live_server: Any, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    page.wait_for_load_state("load")  # the shortcuts' script is deferred


def conversation(
    practice: Practice, first: str, last: str, phone: str, texts: int = 3, **fields: Any
) -> PatientChannel:
    """A verified patient's conversation with `texts` texts a minute apart, the last one the
    patient's."""
    patient = PatientFactory(
        enterprise=practice.enterprise, first_name=first, last_name=last, **fields
    )
    PatientPhoneFactory(patient=patient, number=phone)
    channel: PatientChannel = PatientChannelFactory(
        line=practice.lines.get(), patient=patient, phone=phone
    )
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=2)
    for i in range(texts):
        inbound = (texts - i) % 2 == 1
        message = MessageFactory(
            channel=channel,
            body=f"{first} text {i}.",
            direction=Message.Direction.INBOUND if inbound else Message.Direction.OUTBOUND,
            sender_kind=Message.SenderKind.PATIENT if inbound else Message.SenderKind.API,
        )
        Message.objects.filter(pk=message.pk).update(
            created_at=start + datetime.timedelta(minutes=i)
        )
    PatientChannel.objects.filter(pk=channel.pk).update(
        last_activity_at=start + datetime.timedelta(minutes=texts), needs_action=True
    )
    return channel


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


def test_the_split_pane_switches_threads_without_a_reload_and_back_works(
    page: Page, live_server: Any, staff_a: Any, practice_a: Practice
) -> None:
    ana = conversation(practice_a, "Ana", "Lopez", "+18185550101", texts=40)
    ben = conversation(practice_a, "Ben", "Okafor", "+18185550102")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, live_server, "staff_a")
    page.evaluate("window.__sameDocument = true")

    list_pane = page.locator("#list-pane")
    thread_pane = page.locator("#thread-pane")
    expect(thread_pane.get_by_text("No conversation open")).to_be_visible()
    list_pane.get_by_role("link", name="Ana Lopez").click()
    expect(page).to_have_url(re.compile(rf"/inbox/channels/{ana.pk}/"))
    expect(thread_pane.get_by_role("heading", name="Ana Lopez")).to_be_visible()
    # The list stays beside the thread, the open row marked; the thread opens at its newest.
    expect(list_pane.get_by_role("link", name="Ben Okafor")).to_be_visible()
    expect(page.locator(f"#open-{ana.pk}")).to_have_attribute("aria-current", "page")
    expect(page.locator("#thread-scroll").get_by_text("Ana text 39.")).to_be_in_viewport()
    expect(page).to_have_title(re.compile("Ana Lopez"))
    shot(page, "split-1440.png")

    list_pane.get_by_role("link", name="Ben Okafor").click()
    expect(page).to_have_url(re.compile(rf"/inbox/channels/{ben.pk}/"))
    expect(thread_pane.get_by_role("heading", name="Ben Okafor")).to_be_visible()
    expect(page.get_by_label("Message to Ben Okafor")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True  # no full page load

    page.go_back()
    expect(page).to_have_url(re.compile(rf"/inbox/channels/{ana.pk}/"))
    expect(thread_pane.get_by_role("heading", name="Ana Lopez")).to_be_visible()
    expect(list_pane.get_by_role("link", name="Ben Okafor")).to_be_visible()
    page.go_back()
    expect(page).to_have_url(re.compile(r"/inbox/$"))
    expect(thread_pane.get_by_text("No conversation open")).to_be_visible()
    page.go_forward()
    expect(thread_pane.get_by_role("heading", name="Ana Lopez")).to_be_visible()

    # Replying in the pane works as on the thread page.
    page.get_by_label("Message to Ana Lopez").fill("See you at 10.")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#timeline")).to_contain_text("See you at 10.", timeout=8_000)
    assert errors == [], errors


def test_one_column_on_a_phone_with_the_reply_box_at_the_bottom(
    page: Page, live_server: Any, staff_a: Any, practice_a: Practice
) -> None:
    conversation(practice_a, "Ana", "Lopez", "+18185550101", texts=40)
    conversation(practice_a, "Ben", "Okafor", "+18185550102")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, "staff_a")

    expect(page.locator("#thread-pane")).to_be_hidden()
    page.get_by_role("link", name="Ana Lopez").click()
    expect(page.get_by_role("heading", name="Ana Lopez")).to_be_visible()
    expect(page.locator("#list-pane")).to_be_hidden()
    # Opens at the newest text, with the reply box on screen at the bottom.
    expect(page.locator("#timeline").get_by_text("Ana text 39.")).to_be_in_viewport()
    composer = page.get_by_label("Message to Ana Lopez")
    expect(composer).to_be_in_viewport()
    box = page.locator(".composer-area").bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= 844 + 1
    shot(page, "split-390.png")
    # Scrolled up to older texts, the reply box stays at the bottom of the screen.
    page.locator("#timeline").get_by_text("Ana text 12.").scroll_into_view_if_needed()
    expect(composer).to_be_in_viewport()

    page.go_back()
    expect(page.locator("#list-pane")).to_be_visible()
    expect(page.locator("#thread-pane")).to_be_hidden()
    assert errors == [], errors


def test_the_patient_beside_the_thread_and_an_opted_out_composer(
    page: Page, live_server: Any, staff_a: Any, practice_a: Practice
) -> None:
    ana = conversation(
        practice_a, "Ana", "Lopez", "+18185550101", mrn="MRN-4242", preferred_language="es"
    )
    ben = conversation(practice_a, "Ben", "Okafor", "+18185550102")
    line_phone = practice_a.lines.get().phone_number.as_e164
    response = page.request.post(
        f"{live_server.url}/simulator/api/inbound",
        data={"from": "+18185550101", "to": line_phone, "body": "STOP"},
    )
    assert response.status == 202, response.text()
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, live_server, "staff_a")

    page.locator(f"#open-{ana.pk}").click()
    side = page.locator("#patient-panel")
    expect(side).to_contain_text("MRN-4242")
    expect(side).to_contain_text("Jan 1, 1980")
    expect(side).to_contain_text("Spanish")
    expect(side).to_contain_text("Verified")
    expect(side.locator("#patient-optout")).to_contain_text("Opted out")
    # The composer says why before anyone types, and cannot send.
    expect(page.locator("#composer-blocked")).to_contain_text("opted out of texts from this line")
    expect(page.get_by_label("Message to Ana Lopez")).to_be_disabled()
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_disabled()
    shot(page, "patient-panel.png")

    page.locator(f"#open-{ben.pk}").click()
    expect(page.get_by_label("Message to Ben Okafor")).to_be_enabled()
    expect(page.locator("#patient-optout")).to_contain_text("Subscribed")


def test_triage_longest_waiting_first_and_starred(
    page: Page, live_server: Any, staff_a: Any, practice_a: Practice
) -> None:
    from channels_app.services import channel_record_inbound

    now = datetime.datetime.now(datetime.UTC)
    long_wait = conversation(practice_a, "Ana", "Lopez", "+18185550101")
    short_wait = conversation(practice_a, "Ben", "Okafor", "+18185550102")
    channel_record_inbound(channel=long_wait, at=now - datetime.timedelta(hours=3))
    channel_record_inbound(channel=short_wait, at=now - datetime.timedelta(minutes=10))
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, live_server, "staff_a")

    rows = page.locator("#channel-list .channel-row")
    expect(rows.first).to_contain_text("Ben Okafor")  # newest activity first
    page.get_by_role("link", name="Longest waiting").click()
    expect(rows.first).to_contain_text("Ana Lopez")
    expect(rows.first.locator(".waiting")).to_have_text("Waiting 3\xa0hours")

    page.locator(f"#open-{short_wait.pk}").click()
    page.get_by_role("button", name="☆ Star").click()
    expect(page.get_by_role("button", name="★ Starred")).to_be_visible()
    page.get_by_role("link", name="Starred", exact=True).click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Ben Okafor")


def test_search_finds_an_old_message_by_its_words(
    page: Page, live_server: Any, staff_a: Any, practice_a: Practice
) -> None:
    ana = conversation(practice_a, "Ana", "Lopez", "+18185550101", texts=230)
    Message.objects.filter(channel=ana, body="Ana text 3.").update(
        body="My insurance changed to Blue Harbor last spring."
    )
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, live_server, "staff_a")

    page.keyboard.press("/")
    expect(page.get_by_label("Search by name, phone or message text")).to_be_focused()
    page.keyboard.type("harbor insurance")
    page.keyboard.press("Enter")
    hits = page.locator(".message-hits")
    expect(hits).to_contain_text("My insurance changed to Blue Harbor last spring.")
    hits.get_by_role("link", name="Ana Lopez").click()
    expect(page.locator("#thread-pane").get_by_role("heading", name="Ana Lopez")).to_be_visible()
    # The thread opens at the hit, marked, with the texts around it.
    hit = page.locator("#timeline .msg.is-hit")
    expect(hit).to_contain_text("Blue Harbor")
    expect(hit).to_be_in_viewport()
    expect(page.locator("#timeline").get_by_text("Ana text 0.", exact=True)).to_have_count(1)


def test_a_mention_autocompletes_a_display_name_and_notifies_that_member(
    page: Page, browser: Any, live_server: Any, staff_a: Any, practice_a: Practice
) -> None:
    from tests.factories import MembershipFactory

    MembershipFactory(
        practice=practice_a,
        user__username="dana",
        user__first_name="Dana",
        user__last_name="Reyes",
    )
    MembershipFactory(
        practice=practice_a,
        user__username="dmitri",
        user__first_name="Dmitri",
        user__last_name="Volkov",
    )
    ana = conversation(practice_a, "Ana", "Lopez", "+18185550101")
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, live_server, "staff_a")
    page.locator(f"#open-{ana.pk}").click()

    note = page.get_by_label("Internal note")
    note.click()
    page.keyboard.type("Please call her @re")
    options = page.locator("#mention-list").get_by_role("option")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("Dana Reyes")
    page.keyboard.press("Enter")
    expect(note).to_have_value("Please call her @dana ")
    page.keyboard.type("thanks @d")
    expect(options).to_have_count(2)
    page.keyboard.press("Escape")
    expect(page.locator("#mention-list")).to_be_hidden()
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#timeline mark.mention")).to_have_text("@Dana Reyes", timeout=8_000)

    dana = browser.new_context(viewport={"width": 1440, "height": 900})
    other = dana.new_page()
    sign_in(other, live_server, "dana")
    expect(other.get_by_role("link", name="1 new mention")).to_be_visible()
    dana.close()


def test_start_a_conversation_with_any_number_and_hand_it_over(
    page: Page, live_server: Any, staff_a: Any, practice_a: Practice
) -> None:
    from tests.factories import LineFactory, MembershipFactory
    from tests.support import make_practice

    evening = LineFactory(practice=practice_a, name="A evening", is_default=False)
    clinic = make_practice(practice_a.enterprise, "Cardiology Clinic")
    MembershipFactory(practice=clinic, user=staff_a)
    page.on("dialog", lambda dialog: dialog.accept())
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, live_server, "staff_a")

    page.get_by_role("link", name="New conversation").click()
    expect(page).to_have_url(re.compile(r"/inbox/new/$"))
    page.get_by_label("From line").select_option(value=str(evening.pk))
    page.get_by_label("To (US phone number)").fill("(818) 555-0177")
    page.get_by_label("Message", exact=True).fill("Hello from the evening line")
    page.get_by_role("button", name="Send and open").click()
    expect(page.get_by_role("heading", name="(818) 555-0177")).to_be_visible()
    expect(page.locator("#timeline")).to_contain_text("Hello from the evening line")
    expect(page.locator("#thread-header")).to_contain_text("A evening")
    texts = page.request.get(f"{live_server.url}/simulator/api/messages?to=%2B18185550177")
    assert [t["body"] for t in texts.json()["results"]] == ["Hello from the evening line"]

    page.get_by_label("Move to practice").select_option(label="Cardiology Clinic")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(page.locator("#timeline")).to_contain_text("moved the conversation here from Practice A")
    expect(page.locator("#thread-header")).to_contain_text("Cardiology Clinic")


def test_quick_responses_with_slash_one_picker_at_a_time_and_the_filled_in_count(
    page: Page, live_server: Any, staff_a: Any, practice_a: Practice
) -> None:
    from tests.factories import QuickResponseFactory

    QuickResponseFactory(practice=practice_a, topic="Directions", text="!! Parking is in Lot B.")
    QuickResponseFactory(practice=practice_a, topic="Scheduling", text="Please call to reschedule.")
    ben = conversation(practice_a, "Bartholomew", "Okafor", "+18185550102")
    PatientChannel.objects.filter(pk=ben.pk).update(patient=None)  # an unverified number
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, live_server, "staff_a")
    page.locator(f"#open-{ben.pk}").click()

    composer = page.get_by_label("Message to (818) 555-0102")
    composer.click()
    page.keyboard.type("/park")
    options = page.locator("#slash-list").get_by_role("option")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("Parking is in Lot B.")
    expect(options.first.get_by_text("Plain SMS")).to_be_visible()
    page.keyboard.press("Enter")
    expect(composer).to_have_value("!! Parking is in Lot B.")
    page.keyboard.type(" /")
    expect(options).to_have_count(2)
    page.keyboard.press("Escape")
    expect(page.locator("#slash-list")).to_be_hidden()

    # One picker at a time; a click outside closes it; the search box filters.
    quick, phrases = page.locator("#quick-responses"), page.locator("#smart-phrases")
    quick.locator("summary").click()
    expect(page.locator("#quick-search")).to_be_focused()
    page.keyboard.type("resched")
    expect(quick.get_by_role("button", name=re.compile("Parking"))).to_be_hidden()
    expect(quick.get_by_role("button", name=re.compile("reschedule"))).to_be_visible()
    phrases.locator("summary").click()
    expect(phrases).to_have_attribute("open", "")
    expect(quick).not_to_have_attribute("open", "")
    page.locator("#thread-header h1").click()
    expect(phrases).not_to_have_attribute("open", "")

    # The smart phrase is previewed filled in, and the counter counts the filled-in text.
    composer.fill("")
    phrases.locator("summary").click()
    expect(phrases.get_by_role("button", name=re.compile("practiceName"))).to_contain_text(
        "→ “Practice A”"
    )
    phrases.get_by_role("button", name=re.compile("practiceName")).click()
    expect(composer).to_have_value("{practiceName}")
    expect(page.locator("#segment-counter")).to_contain_text("10 characters · 1 segment")
    assert errors == [], errors


def test_the_keyboard_works_the_list_and_the_open_conversation(
    page: Page, live_server: Any, staff_a: Any, practice_a: Practice
) -> None:
    staff_a.first_name, staff_a.last_name = "Sam", "Front"
    staff_a.save()
    conversation(practice_a, "Ana", "Lopez", "+18185550101")
    ben = conversation(practice_a, "Ben", "Okafor", "+18185550102")
    PatientChannel.objects.filter(pk=ben.pk).update(
        last_activity_at=datetime.datetime.now(datetime.UTC)
    )
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, live_server, "staff_a")

    page.keyboard.press("j")
    expect(page.locator(f"#open-{ben.pk}")).to_be_focused()
    page.keyboard.press("j")
    expect(page.get_by_role("link", name="Ana Lopez")).to_be_focused()
    page.keyboard.press("k")
    expect(page.locator(f"#open-{ben.pk}")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#thread-pane").get_by_role("heading", name="Ben Okafor")).to_be_focused()

    page.keyboard.press("a")
    expect(page.locator("#assignee")).to_have_text("Assigned to Sam Front")
    page.keyboard.press("e")
    expect(page.get_by_role("button", name="Reopen")).to_be_visible()
    page.keyboard.press("r")
    expect(page.get_by_label("Message to Ben Okafor")).to_be_focused()
    page.keyboard.type("typing r and e here is just text")
    expect(page.get_by_role("button", name="Reopen")).to_be_visible()
    page.locator("#thread-header h1").focus()
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()
