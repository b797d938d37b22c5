"""The shared-phone prompt in a real browser: John and Mary share a phone and both got a text;
playing the patient on the simulator page, a reply gets the prompt, the answer "2" routes it to
Mary, and staff find it in Mary's conversation in the inbox."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from channels_app.models import PatientChannel
from messaging.models import Message, MpspPrompt
from messaging.services import Api, ToNumber, message_send
from practices.models import Line
from tests.factories import TEST_PASSWORD, MembershipFactory, PatientFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = "+18188882222"
PROMPT = (
    "Sunrise Clinic: Please respond with the name or number: (1) John, (2) Mary, (3) (818) 888-2222"
)


def test_patient_answers_the_shared_phone_prompt(
    page: Page, live_server: Any, line: Line, tmp_path: Path
) -> None:
    practice = line.practice
    practice.name = "Sunrise Clinic"
    practice.save(update_fields=["name"])
    MembershipFactory(practice=practice, user__username="front_desk")
    john = PatientFactory(enterprise=practice.enterprise, first_name="John", last_name="Smith")
    mary = PatientFactory(enterprise=practice.enterprise, first_name="Mary", last_name="Smith")
    for patient in (john, mary):
        message_send(
            to=ToNumber(practice, PHONE, patient=patient),
            sender=Api(),
            body=f"Hi {patient.first_name}, your flu shot is due. Reply to book.",
        )
    console_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)

    page.goto(f"{live_server.url}/simulator/?number={PHONE}")
    thread = page.locator("#thread")
    expect(thread.locator(".bubble-in", has_text="Hi Mary")).to_be_visible()

    page.get_by_label("Text message").fill("Can I come Friday morning?")
    page.get_by_role("button", name="Send").click()
    expect(thread.locator(".bubble-in", has_text=PROMPT)).to_be_visible(timeout=10_000)

    page.get_by_label("Text message").fill("2")
    page.get_by_role("button", name="Send").click()
    answer = thread.locator(".bubble-out").filter(
        has=page.locator(".bubble-body", has_text=re.compile(r"^\s*2\s*$"))
    )
    expect(answer).to_contain_text("Received by Sunrise Clinic")

    held = Message.objects.get(body="Can I come Friday morning?")
    mary_channel = PatientChannel.objects.get(line=line, patient=mary)
    assert held.channel_id == mary_channel.pk
    assert MpspPrompt.objects.get().chosen_channel_id == mary_channel.pk
    page.screenshot(path=str(tmp_path / "mpsp-simulator.png"), full_page=True)

    # Staff see it in Mary's conversation, needing action; John's has nothing from the patient.
    page.goto(f"{live_server.url}/accounts/login/?next=/inbox/")
    page.get_by_label("Username").fill("front_desk")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    mary_row = page.locator(f"#channel-{mary_channel.pk}")
    expect(mary_row).to_contain_text("Mary Smith")
    expect(mary_row.get_by_text("Needs action")).to_be_visible()
    john_channel = PatientChannel.objects.get(line=line, patient=john)
    expect(page.locator(f"#channel-{john_channel.pk}").get_by_text("Needs action")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "mpsp-inbox.png"), full_page=True)
    if os.environ.get("MPSP_SCREENSHOTS"):
        for name in ("mpsp-simulator.png", "mpsp-inbox.png"):
            shutil.copy(tmp_path / name, Path(os.environ["MPSP_SCREENSHOTS"]) / name)
    assert console_errors == []
