"""The idle sign-out in a real browser (Debian's Chromium driven by Playwright), with a session of
seconds so it runs fast: the warning and "Stay signed in", another tab's activity keeping
this tab signed in, the return to the same page after signing in again, the notice that an unsent
draft was discarded, and no browser storage left behind."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from channels_app.models import PatientChannel
from tests.factories import TEST_PASSWORD, PatientChannelFactory, PatientFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Generous: the session lasts seconds, but the machine may be busy. These are waits for
# something to appear, not limits on how long it may take.
WAIT = 30_000


# A session of seconds, warned about its second half: the warning comes soon, a busy machine
# still has seconds to press the button (or reload the other tab) before the end, and a session
# extended elsewhere is well outside the warning when the page next asks (every 1.5 s while it
# warns), so the warning closes.
IDLE_SECONDS = 12
WARN_SECONDS = 6


@pytest.fixture(autouse=True)
def _short_session(settings: Any) -> None:
    settings.SESSION_COOKIE_AGE = IDLE_SECONDS
    settings.SESSION_WARN_SECONDS = WARN_SECONDS


@pytest.fixture
def channel(practice_a: Any) -> PatientChannel:
    patient = PatientFactory(enterprise=practice_a.enterprise, first_name="Ana", last_name="Lopez")
    return PatientChannelFactory(line=practice_a.lines.get(), patient=patient)


def _sign_in(page: Page) -> None:
    page.get_by_label("Username").fill("staff_a")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


STORE_PHI = """async () => {
  localStorage.setItem("draft", "Ana Lopez DOB 1970-01-01");
  sessionStorage.setItem("draft", "Ana Lopez DOB 1970-01-01");
  await new Promise((resolve, reject) => {
    const open = indexedDB.open("phi", 1);
    open.onupgradeneeded = () => open.result.createObjectStore("drafts");
    open.onsuccess = () => { open.result.close(); resolve(); };
    open.onerror = () => reject(open.error);
  });
  const cache = await caches.open("phi");
  await cache.put("/phi", new Response("Ana Lopez"));
}"""

STORAGE_EMPTY = """async () => {
  const dbs = await indexedDB.databases();
  const keys = await caches.keys();
  return localStorage.length === 0 && sessionStorage.length === 0 && dbs.length === 0 &&
         keys.length === 0;
}"""


def test_warning_stay_signed_in_then_sign_out_and_back_to_the_same_page(  # type: ignore[no-untyped-def]
    page: Page, live_server, staff_a, channel: PatientChannel
) -> None:
    errors = _errors(page)
    thread = f"/inbox/channels/{channel.pk}/"
    page.goto(f"{live_server.url}{thread}")
    _sign_in(page)
    expect(page).to_have_url(f"{live_server.url}{thread}")

    # The warning: an alert dialog whose button has the focus.
    dialog = page.get_by_role("alertdialog", name="You'll be signed out soon")
    expect(dialog).to_be_visible(timeout=WAIT)
    stay = dialog.get_by_role("button", name="Stay signed in")
    expect(stay).to_be_focused()
    expect(dialog.get_by_text("not sent")).to_be_hidden()
    stay.click()
    expect(dialog).to_be_hidden()
    expect(page).to_have_url(f"{live_server.url}{thread}")

    # Something a page (or an extension of it) might keep in storage, and a draft in the
    # composer; then nobody touches the page.
    page.evaluate(STORE_PHI)
    page.get_by_label("Message to Ana Lopez").fill("Your results are in, please call us")
    expect(dialog).to_be_visible(timeout=WAIT)
    expect(dialog.get_by_text("It will be discarded if you are signed out")).to_be_visible()

    expect(page).to_have_url(
        re.compile(r"/accounts/login/\?next=" + re.escape(thread.replace("/", "%2F"))),
        timeout=WAIT,
    )
    assert "idle=1" in page.url
    assert "unsent=1" in page.url
    expect(page.get_by_text("You were signed out after a while without activity")).to_be_visible()
    expect(page.get_by_text("A reply or note you had not sent was discarded")).to_be_visible()
    page.wait_for_function(STORAGE_EMPTY, timeout=WAIT)
    assert "Your results are in" not in page.content()

    _sign_in(page)
    expect(page).to_have_url(f"{live_server.url}{thread}")
    expect(page.get_by_role("heading", name="Ana Lopez")).to_be_visible()
    assert errors == [], errors


def test_activity_in_another_tab_keeps_this_tab_signed_in(  # type: ignore[no-untyped-def]
    context: BrowserContext, live_server, staff_a, channel: PatientChannel
) -> None:
    thread_tab = context.new_page()
    errors = _errors(thread_tab)
    thread = f"{live_server.url}/inbox/channels/{channel.pk}/"
    thread_tab.goto(thread)
    _sign_in(thread_tab)
    expect(thread_tab).to_have_url(thread)
    inbox_tab = context.new_page()
    inbox_tab.goto(f"{live_server.url}/inbox/?status=all")
    expect(inbox_tab.get_by_role("heading", name="Inbox")).to_be_visible()

    dialog = thread_tab.get_by_role("alertdialog")
    # Rounds until the thread tab's own last request is well past a session's length: only the
    # other tab's requests keep it alive, and the thread tab learns so from the server.
    thread_tab_last_request = time.monotonic()
    rounds = 0
    while rounds < 2 or time.monotonic() < thread_tab_last_request + 1.5 * IDLE_SECONDS:
        rounds += 1
        expect(dialog).to_be_visible(timeout=WAIT)
        inbox_tab.reload()
        expect(inbox_tab.get_by_role("heading", name="Inbox")).to_be_visible()
        expect(dialog).to_be_hidden(timeout=WAIT)
        expect(thread_tab).to_have_url(thread)

    # Nobody works anywhere any more: both tabs end at the sign-in form, each with its own page.
    expect(thread_tab).to_have_url(
        re.compile(r"/accounts/login/\?next=%2Finbox%2Fchannels%2F"), timeout=WAIT
    )
    assert "unsent=1" not in thread_tab.url
    expect(inbox_tab).to_have_url(
        re.compile(r"/accounts/login/\?next=%2Finbox%2F%3Fstatus%3Dall"), timeout=WAIT
    )
    _sign_in(inbox_tab)
    expect(inbox_tab).to_have_url(f"{live_server.url}/inbox/?status=all")
    assert errors == [], errors
