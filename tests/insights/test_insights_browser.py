"""The dashboard in a real browser: a manager opens it from the navigation, changes the range,
reads a chart's table and downloads its CSV. The screenshot goes to $INSIGHTS_SCREENSHOT (or
test-results/insights/dashboard.png)."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from insights.rollup import rollup_rebuild
from tests.factories import TEST_PASSWORD
from tests.support.insights import EXPECTED, FIRST_DAY, RANGE, world_build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = Path(
    os.environ.get("INSIGHTS_SCREENSHOT")
    or Path(__file__).resolve().parents[2] / "test-results" / "insights" / "dashboard.png"
)


def test_a_manager_changes_the_range_and_downloads_the_csv(page: Page, live_server: Any) -> None:
    world = world_build()
    rollup_rebuild(first_day=FIRST_DAY)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(world.manager.username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Insights").click()
    expect(page.get_by_role("heading", name="Insights", level=1)).to_be_visible()

    page.get_by_label("From", exact=True).fill(RANGE["start"])
    page.get_by_label("To", exact=True).fill(RANGE["end"])
    page.get_by_role("button", name="Show").click()
    summary = page.get_by_role("region", name="At a glance")
    expect(summary.get_by_role("row", name="Texts sent")).to_contain_text("10")
    response = page.get_by_role("region", name="Response time to patients' texts")
    expect(response.get_by_role("img")).to_be_visible()
    expect(response.get_by_role("row", name="This period")).to_contain_text("414.0")

    with page.expect_download() as download_info:
        response.get_by_role("link", name="Download CSV").click()
    path = download_info.value.path()
    rows = list(csv.reader(io.StringIO(Path(path).read_text())))
    assert rows == EXPECTED["response"]

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
