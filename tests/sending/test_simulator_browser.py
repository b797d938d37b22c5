"""The simulator page in a real browser: open a patient's phone, read the texts the carrier
delivered to it, type a reply as the patient, and see it arrive on the platform."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from channels_app.models import PatientChannel
from messaging.models import Message
from messaging.services import Api, Staff, ToChannel, ToNumber, message_send
from practices.models import Line

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PATIENT = "+18185550101"


def test_patient_replies_from_the_simulator_page(
    page: Page, live_server: Any, line: Line, tmp_path: Path
) -> None:
    line.practice.name = "Sunrise Clinic"
    line.practice.save(update_fields=["name"])
    outbound = message_send(
        to=ToNumber(line.practice, PATIENT),
        sender=Api(),
        body="Reminder: your appointment is tomorrow at 9:00. Reply to reach us.",
    )
    assert Message.objects.get(pk=outbound.pk).status == "delivered"

    off_server: list[str] = []
    page.on(
        "request",
        lambda request: (
            None if request.url.startswith(live_server.url) else off_server.append(request.url)
        ),
    )
    console_errors: list[str] = []
    page.on(
        "console",
        lambda msg: console_errors.append(msg.text) if msg.type == "error" else None,
    )

    page.goto(f"{live_server.url}/simulator/")
    page.get_by_label("Patient's phone").fill("(818) 555-0101")
    page.get_by_role("button", name="Open").click()

    thread = page.locator("#thread")
    delivered = thread.locator(".bubble-in", has_text="your appointment is tomorrow")
    expect(delivered).to_be_visible()
    expect(delivered).to_contain_text("Delivered")
    expect(page.get_by_label("To")).to_have_value(line.phone_number.as_e164)

    page.get_by_label("Text message").fill("Can we make it 10:30 instead?")
    page.get_by_role("button", name="Send").click()

    reply = thread.locator(".bubble-out", has_text="Can we make it 10:30 instead?")
    expect(reply).to_be_visible()
    expect(reply).to_contain_text(re.compile(r"Received by Sunrise Clinic"))
    expect(page.get_by_label("Text message")).to_have_value("")

    inbound = Message.objects.get(direction="inbound")
    assert inbound.body == "Can we make it 10:30 instead?"
    assert inbound.channel_id == outbound.channel_id
    channel = PatientChannel.objects.get(pk=inbound.channel_id)
    assert channel.needs_action

    # The thread keeps itself up to date: a text the practice sends now shows up unasked.
    message_send(to=ToChannel(channel), sender=Staff(), body="10:30 works. See you then!")
    expect(thread.locator(".bubble-in", has_text="10:30 works")).to_be_visible(timeout=10_000)

    screenshot = tmp_path / "simulator.png"
    page.screenshot(path=str(screenshot), full_page=True)
    if os.environ.get("SIMULATOR_SCREENSHOT"):
        shutil.copy(screenshot, os.environ["SIMULATOR_SCREENSHOT"])
    assert off_server == []
    assert console_errors == []
