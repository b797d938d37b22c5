"""The admin's live character counter, in a real browser (under the page's CSP)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from practices.models import Line
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_counter_counts_while_typing(page: Page, live_server: Any, line: Line) -> None:
    get_user_model().objects.create_superuser("root", "root@example.org", TEST_PASSWORD)
    errors: list[str] = []
    # Script errors, CSP refusals and failed assets (the admin has no favicon: not ours).
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )

    page.goto(f"{live_server.url}/admin/login/?next=/admin/webhooks/calltotextworkflow/add/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()

    message = page.locator("textarea[name=message]")
    counter = message.locator("xpath=following-sibling::div[contains(@class, 'char-counter')]")
    expect(counter).to_have_text("0 / 255 characters")
    message.fill("Hi from {practiceName}")
    expect(counter).to_have_text("22 / 255 characters")
    message.fill("x" * 260)
    expect(counter).to_have_text("260 / 255 characters: 5 too many")
    expect(counter).to_have_class("char-counter char-counter-over")
    after_hours = page.locator("textarea[name=after_hours_message]")
    expect(
        after_hours.locator("xpath=following-sibling::div[contains(@class, 'char-counter')]")
    ).to_have_text("0 / 255 characters")
    assert errors == [], errors
