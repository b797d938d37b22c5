"""Accessibility in the browser: axe-core (the `axe-playwright-python` package, which ships
axe.min.js) on the inbox, the thread, the portal and the simulator reports no serious or
critical violation (WCAG 2.2 A/AA rules, colour contrast included); the tab order reaches the
reply box before the status toggles; new messages are announced by a live region."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from channels_app.models import InternalNote
from messaging.models import Message
from messaging.services import Api, Staff, ToNumber, message_send
from practices.models import Practice
from tests.factories import PatientFactory, PatientPhoneFactory, QuickResponseFactory
from tests.support.portal import link_token

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Axe()
RULES = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
PHONE = "+18185550142"


def serious(page: Page) -> list[str]:
    """The serious and critical violations on the page as it is now, one line each."""
    results = AXE.run(page, options=RULES)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(
            f"{node['target'][0]} {node.get('failureSummary', '')[-120:]!r}"
            for node in v["nodes"][:6]
        )
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def rosa(practice_a: Practice) -> Any:
    patient = PatientFactory(
        enterprise=practice_a.enterprise,
        first_name="Rosa",
        last_name="Diaz",
        date_of_birth=datetime.date(1961, 7, 23),
    )
    PatientPhoneFactory(patient=patient, number=PHONE)
    return patient


@pytest.fixture(autouse=True)
def _links_reach_the_live_server(settings: Any, live_server: Any) -> None:
    settings.PUBLIC_BASE_URL = live_server.url


def test_inbox_and_thread_pages_have_no_serious_violations(
    page: Page, live_server: Any, staff_a: Any, practice_a: Practice, rosa: Any
) -> None:
    from tests.inbox.test_workspace_browser import sign_in

    QuickResponseFactory(practice=practice_a, topic="Parking", text="!! Lot B")
    first = message_send(
        to=ToNumber(practice_a, PHONE, patient=rosa), sender=Api(), body="Your visit is Friday."
    )
    channel = first.channel
    message_send(to=ToNumber(practice_a, PHONE, patient=rosa), sender=Staff(staff_a), body="Hi")
    InternalNote.objects.create(channel=channel, author=staff_a, body="@staff_a call her")
    Message.objects.filter(channel=channel).update(status="delivered")
    found: dict[str, list[str]] = {}
    for width, height in ((1440, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        sign_in(page, live_server, "staff_a")
        found[f"inbox {width}"] = serious(page)
        page.goto(f"{live_server.url}/inbox/?q=friday&status=all")
        found[f"search {width}"] = serious(page)
        page.goto(f"{live_server.url}/inbox/channels/{channel.pk}/")
        expect(page.locator("#timeline .msg-status", has_text="Delivered").first).to_be_visible()
        found[f"thread {width}"] = serious(page)
        page.locator("#quick-responses summary").click()
        found[f"quick responses {width}"] = serious(page)
        page.keyboard.press("Escape")
        page.locator("#thread-header h1").click()
        page.keyboard.press("?")
        expect(page.locator("#shortcuts")).to_be_visible()
        found[f"shortcuts {width}"] = serious(page)
        page.keyboard.press("Escape")
        page.goto(f"{live_server.url}/inbox/new/")
        found[f"new conversation {width}"] = serious(page)
        page.goto(f"{live_server.url}/inbox/mentions/")
        found[f"mentions {width}"] = serious(page)
        page.context.clear_cookies()

    problems = [f"{name}: {line}" for name, lines in found.items() for line in lines]
    assert not problems, "\n".join(problems)


def test_portal_and_simulator_pages_have_no_serious_violations(
    page: Page, live_server: Any, practice_a: Practice, rosa: Any
) -> None:
    message = message_send(
        to=ToNumber(practice_a, PHONE, patient=rosa),
        sender=Api(),
        body="Your results are ready.",
        secure=True,
    )
    found: dict[str, list[str]] = {}
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/secure/{link_token(message)}/")
    expect(page.get_by_role("heading", name="You have a secure message")).to_be_visible()
    found["portal date of birth"] = serious(page)
    page.get_by_label("Month").fill("7")
    page.get_by_label("Day").fill("24")
    page.get_by_label("Year").fill("1961")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_be_visible()
    found["portal wrong date"] = serious(page)
    page.get_by_label("Day").fill("23")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Your results are ready.")).to_be_visible()
    found["portal thread"] = serious(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/simulator/?number={PHONE.replace('+', '%2B')}")
    found["simulator"] = serious(page)

    problems = [f"{name}: {line}" for name, lines in found.items() for line in lines]
    assert not problems, "\n".join(problems)


def test_tab_order_reaches_the_reply_before_the_status_toggles_and_new_texts_are_announced(
    page: Page, live_server: Any, staff_a: Any, practice_a: Practice, rosa: Any
) -> None:
    from tests.inbox.test_workspace_browser import sign_in

    first = message_send(
        to=ToNumber(practice_a, PHONE, patient=rosa), sender=Api(), body="Your visit is Friday."
    )
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, live_server, "staff_a")
    page.goto(f"{live_server.url}/inbox/channels/{first.channel_id}/")

    # From the conversation's heading, Tab goes to the timeline, then into the reply box:
    # the status toggles of each message are not in the way.
    page.locator("#thread-header h1").focus()
    order: list[str] = []
    for _ in range(30):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate(
                "(el => el.closest('.msg-status') ? 'status toggle' : el.id || el.tagName)"
                "(document.activeElement)"
            )
        )
        if order[-1] == "composer-body":
            break
    assert "composer-body" in order, order
    before_reply = order[: order.index("composer-body")]
    assert "status toggle" not in before_reply, order
    assert "thread-scroll" in before_reply, order
    # In the timeline, the arrow keys reach the delivery details.
    page.locator("#thread-scroll").focus()
    page.keyboard.press("ArrowDown")
    expect(page.locator(".msg-status summary").first).to_be_focused()
    # The timeline is a log: new messages are announced politely.
    live = page.locator("#thread-scroll")
    expect(live).to_have_attribute("role", "log")
    expect(live).to_have_attribute("aria-live", "polite")
