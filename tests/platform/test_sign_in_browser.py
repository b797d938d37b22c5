"""Sign-in and the inbox in a real browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from channels_app.models import PatientChannel
from tests.factories import TEST_PASSWORD, PatientChannelFactory, PatientFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _collect_console_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def test_staff_signs_in_and_sees_only_their_practice(  # type: ignore[no-untyped-def]
    page: Page, live_server, staff_a, practice_a, practice_b
) -> None:
    mine = PatientFactory(enterprise=practice_a.enterprise, first_name="Ana", last_name="Lopez")
    theirs = PatientFactory(enterprise=practice_b.enterprise, first_name="Zed", last_name="Other")
    PatientChannelFactory(line=practice_a.lines.get(), patient=mine, needs_action=True)
    PatientChannelFactory(line=practice_b.lines.get(), patient=theirs)
    errors = _collect_console_errors(page)

    page.goto(f"{live_server.url}/inbox/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/inbox/$"))
    page.get_by_label("Username").fill("staff_a")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{live_server.url}/inbox/")
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    row = page.locator(".channel-row", has_text="Ana Lopez")
    expect(row).to_be_visible()
    expect(row.get_by_text("Needs action")).to_be_visible()
    expect(page.get_by_text("Zed Other")).to_have_count(0)
    assert errors == [], errors


def test_wrong_password_is_a_visible_form_error(page: Page, live_server, staff_a) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("staff_a")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("correct username and password")


def test_status_filter_and_sign_out(page: Page, live_server, staff_a, practice_a) -> None:  # type: ignore[no-untyped-def]
    closed = PatientFactory(enterprise=practice_a.enterprise, first_name="Cleo", last_name="Closed")
    PatientChannelFactory(
        line=practice_a.lines.get(), patient=closed, status=PatientChannel.Status.CLOSED
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("staff_a")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_text("Cleo Closed")).to_have_count(0)
    page.get_by_role("link", name="Closed").click()
    expect(page.get_by_text("Cleo Closed")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    page.goto(f"{live_server.url}/inbox/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
