"""An enterprise administrator sets up a practice in a real browser, and its manager then
edits the after-hours message (Django admin's own widgets: inlines, select2 autocomplete)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from practices.models import EnterpriseAdministrator, Membership, Practice
from tests.factories import (
    TEST_PASSWORD,
    EnterpriseFactory,
    LineFactory,
    PracticeFactory,
    UserFactory,
)
from webhooks.models import CallToTextWorkflow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page: Page, base: str, username: str, next_path: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/admin/login/?next={next_path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def add_row(page: Page, prefix: str) -> None:
    page.locator(f"#{prefix}-group .add-row a").click()


def pick(page: Page, field: str, text: str) -> None:
    """Choose `text` in an autocomplete (select2) field."""
    page.locator(f".field-{field} .select2-selection").click()
    page.locator(".select2-search__field").fill(text)
    page.locator(".select2-results__option", has_text=text).first.click()


def test_enterprise_admin_sets_up_a_practice_and_its_manager_edits_it(
    page: Page, live_server: Any
) -> None:
    acme = EnterpriseFactory(name="Acme Health")
    PracticeFactory(name="Other Enterprise Clinic")  # never offered to Ada
    hill = PracticeFactory(enterprise=acme, name="Hill Clinic")
    hill_line = LineFactory(practice=hill, name="Hill desk")
    ada = UserFactory(username="ada", is_staff=True)
    EnterpriseAdministrator.objects.create(user=ada, enterprise=acme)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    base = live_server.url

    sign_in(page, base, "ada", "/admin/practices/practice/add/")
    expect(page.locator(".field-enterprise")).to_contain_text("Acme Health")
    page.locator("input[name=name]").fill("Harbor Clinic")
    add_row(page, "lines")
    page.locator("input[name=lines-0-name]").fill("Front desk")
    page.locator("input[name=lines-0-phone_number]").fill("(818) 555-0142")
    page.locator("input[name=lines-0-is_default]").check()
    add_row(page, "hours")
    page.locator("select[name=hours-0-weekday]").select_option(label="Monday")
    page.locator("input[name=hours-0-opens_at]").fill("08:00")
    page.locator("input[name=hours-0-closes_at]").fill("17:00")
    add_row(page, "holidays")
    page.locator("input[name=holidays-0-date]").fill("2027-12-25")
    page.locator("input[name=holidays-0-name]").fill("Christmas")
    page.locator("input[name=holidays-0-repeats_yearly]").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    practice = Practice.objects.get(name="Harbor Clinic")
    assert practice.enterprise == acme
    assert practice.lines.get().phone_number == "+18185550142"
    assert practice.hours.count() == 1
    christmas = practice.holidays.get()
    assert (christmas.name, christmas.repeats_yearly) == ("Christmas", True)

    page.goto(f"{base}/admin/webhooks/calltotextworkflow/add/")
    line_choices = page.locator("select[name=line] option:not([hidden])")
    expect(line_choices).to_have_text(["---------"])  # no practice picked yet
    page.locator(".field-practice .select2-selection").click()
    options = page.locator(".select2-results__option")
    expect(options).to_have_text(["Harbor Clinic", "Hill Clinic"])
    options.filter(has_text="Hill Clinic").click()
    expect(line_choices).to_have_text(["---------", str(hill_line)])
    page.locator("select[name=line]").select_option(label=str(hill_line))
    pick(page, "practice", "Harbor Clinic")
    harbor_line = practice.lines.get()
    # Another practice's line is dropped when the practice changes.
    expect(page.locator("select[name=line]")).to_have_value("")
    expect(line_choices).to_have_text(["---------", str(harbor_line)])
    page.locator("select[name=line]").select_option(label=str(harbor_line))
    page.locator("select[name=kind]").select_option(index=1)
    page.locator("textarea[name=message]").fill("Text us instead of waiting on hold.")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("Copy this URL now")
    workflow = CallToTextWorkflow.objects.get()
    assert workflow.practice == practice
    assert workflow.line == harbor_line

    mia = UserFactory(username="mia", is_staff=True)
    Membership.objects.create(user=mia, practice=practice, role=Membership.Role.MANAGER)
    sign_in(page, base, "mia", f"/admin/practices/practice/{practice.pk}/change/")
    expect(page.locator("input[name=name]")).to_have_count(0)  # read-only for a manager
    page.locator("textarea[name=after_hours_message]").fill("We are closed. Call 911 if urgent.")
    page.locator("input[name=after_hours_enabled]").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    practice.refresh_from_db()
    assert practice.after_hours_enabled
    assert practice.after_hours_message == "We are closed. Call 911 if urgent."
    assert errors == [], errors
