"""The API docs page in a real browser: Swagger UI renders every operation and the OAuth flow,
with every request staying on this server and no CSP violation."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_docs_page_renders_from_this_server_only(page: Page, live_server: Any) -> None:
    off_server: list[str] = []
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith(live_server.url) or request.url.startswith("data:")
            else off_server.append(request.url)
        ),
    )
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)

    page.goto(f"{live_server.url}/api/docs/")
    expect(page.get_by_text("Artera messaging API").first).to_be_visible()
    for summary in (
        "Send a text",
        "Read a message and its delivery status",
        "Send a text (legacy SMAPI)",
    ):
        expect(page.get_by_text(summary, exact=True)).to_be_visible()
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_text("clientCredentials", exact=False).first).to_be_visible()
    expect(page.get_by_text("messages:send").first).to_be_visible()

    assert off_server == []
    assert not [p for p in problems if "Content Security Policy" in p], problems
