"""Send later in a real browser: the composer's quick choice schedules the draft (nothing
reaches the carrier), the thread shows it with a Cancel button, and Cancel cancels it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from channels_app.models import PatientChannel
from messaging.models import Message, SimulatorText
from tests.factories import TEST_PASSWORD, PatientChannelFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(
    os.environ.get("INBOX_SCREENSHOTS")
    or Path(__file__).resolve().parents[2] / "test-results" / "inbox"
)


def test_send_later_then_cancel(
    page: Page, live_server: Any, staff_a: Any, practice_a: Any
) -> None:
    channel: PatientChannel = PatientChannelFactory(
        line=practice_a.lines.get(), phone="+18185550103"
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(staff_a.username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/inbox/channels/{channel.pk}/")

    page.locator("#composer-body").fill("See you in the morning.")
    page.get_by_text("Send later").click()
    page.get_by_role("button", name="Tomorrow 8:00").click()
    expect(page.get_by_text("Scheduled for")).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "send-later.png"), full_page=True)
    message = Message.objects.get()
    assert message.status == "scheduled"
    assert not SimulatorText.objects.exists()

    page.locator(".scheduled-cancel").get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("Scheduled for")).to_have_count(0)
    message.refresh_from_db()
    assert message.status == "canceled"
