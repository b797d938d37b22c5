"""The call-to-text workflow's "Line" choices: on the add page, only the administrator's lines,
each tagged with its practice for the script that shows the picked practice's only; on the
change page, only the workflow's practice's lines; and the server refuses another practice's
line on save either way."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from practices.models import EnterpriseAdministrator, Line
from tests.factories import EnterpriseFactory, LineFactory, PracticeFactory, UserFactory
from tests.support import client_for
from tests.support.admin import admin_url, errors_of, form_data
from webhooks.models import CallToTextWorkflow
from webhooks.services import call_to_text_workflow_create

pytestmark = pytest.mark.django_db

OPTION = re.compile(r'<option value="([^"]+)" data-practice="([^"]+)"')


@pytest.fixture
def setup(db: None) -> dict[str, Any]:
    acme = EnterpriseFactory()
    harbor, hill = PracticeFactory(enterprise=acme), PracticeFactory(enterprise=acme)
    lines = {
        "harbor": LineFactory(practice=harbor),
        "harbor_2": LineFactory(practice=harbor, is_default=False),
        "hill": LineFactory(practice=hill),
        "elsewhere": LineFactory(),  # another enterprise's
    }
    ada = UserFactory(is_staff=True)
    EnterpriseAdministrator.objects.create(user=ada, enterprise=acme)
    return {"harbor": harbor, "hill": hill, "lines": lines, "client": client_for(ada)}


def line_options(client: Client, url: str) -> str:
    content = client.get(url).content.decode()
    return content[content.index('name="line"') :].split("</select>")[0]


def test_add_page_tags_each_of_the_enterprise_lines_with_its_practice(
    setup: dict[str, Any],
) -> None:
    page = setup["client"].get(admin_url(CallToTextWorkflow, "add")).content.decode()
    assert "webhooks/line_by_practice.js" in page
    assert 'data-practice-field="practice"' in page
    lines: dict[str, Line] = setup["lines"]
    tagged = dict(OPTION.findall(page))
    assert tagged == {
        str(lines[name].pk): str(lines[name].practice_id) for name in ("harbor", "harbor_2", "hill")
    }


def test_change_page_lists_the_workflow_practice_lines_only(setup: dict[str, Any]) -> None:
    lines: dict[str, Line] = setup["lines"]
    workflow, _ = call_to_text_workflow_create(
        practice=setup["harbor"], line=lines["harbor"], kind="call_to_text", message="Hi."
    )
    options = line_options(setup["client"], admin_url(CallToTextWorkflow, "change", workflow.pk))
    assert str(lines["harbor"].pk) in options
    assert str(lines["harbor_2"].pk) in options
    assert str(lines["hill"].pk) not in options
    assert str(lines["elsewhere"].pk) not in options


def test_a_line_of_another_practice_is_still_refused_on_save(setup: dict[str, Any]) -> None:
    lines: dict[str, Line] = setup["lines"]
    client: Client = setup["client"]
    data = form_data(client, admin_url(CallToTextWorkflow, "add"))
    data.update(
        practice=str(setup["harbor"].pk),
        line=str(lines["hill"].pk),
        kind="call_to_text",
        message="Text us instead of waiting on hold.",
    )
    response = client.post(admin_url(CallToTextWorkflow, "add"), data)
    assert "This line belongs to another practice." in errors_of(response)
    data["line"] = str(lines["elsewhere"].pk)
    response = client.post(admin_url(CallToTextWorkflow, "add"), data)
    assert "Select a valid choice" in errors_of(response)
    assert not CallToTextWorkflow.objects.exists()
