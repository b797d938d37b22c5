"""Call-to-text workflows in Django admin: the URL shown once, the regenerate-token action, the
live character counter (a static file, no inline script) and the 255-character rule."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.contrib.admin.models import LogEntry
from django.test import Client

from artera.secrets import token_hash
from practices.models import Line, Practice
from tests.support import client_for
from tests.support.call_to_text import Hit
from webhooks.models import CallToTextWorkflow

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/webhooks/calltotextworkflow/"
URL_PREFIX = django_settings.PUBLIC_BASE_URL + "/webhook/call-to-text/"


@pytest.fixture
def root(superuser: Any) -> Client:
    return client_for(superuser)


def _codes(response: Any) -> list[str]:
    return re.findall(r"<code>([^<]+)</code>", response.content.decode())


def _add_data(line: Line, **fields: Any) -> dict[str, Any]:
    data = {
        "practice": line.practice_id,
        "line": line.pk,
        "kind": "abandoned_call",
        "language": "es",
        "message": "Perdimos su llamada a {practiceName}. Responda aquí.",
        "after_hours_message": "",
        "name": "IVR español",
        "allowed_ips": "",
    }
    data.update(fields)
    return data


def _token_of(url: str) -> str:
    assert url.startswith(URL_PREFIX), url
    return url.removeprefix(URL_PREFIX).rstrip("/")


def test_add_shows_the_url_once_and_it_works(root: Client, line: Line, hit: Hit) -> None:
    response = root.post(ADD_URL + "add/", _add_data(line), follow=True)
    (url,) = _codes(response)
    token = _token_of(url)
    workflow = CallToTextWorkflow.objects.get()
    assert workflow.token_hash == token_hash(token)
    assert (workflow.kind, workflow.language) == ("abandoned_call", "es")
    page = root.get(f"{ADD_URL}{workflow.pk}/change/").content.decode()
    assert token not in page
    assert hit(token).status_code == 202


def test_regenerate_token_action(root: Client, line: Line, hit: Hit, make_workflow: Any) -> None:
    workflow, old = make_workflow()
    _, other_token = make_workflow(language="es")
    response = root.post(
        ADD_URL,
        {"action": "regenerate_token", "_selected_action": [str(workflow.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    (url,) = _codes(response)
    new = _token_of(url)
    assert new != old
    assert hit(old).status_code == 404
    assert hit(new).status_code == 202
    assert hit(other_token).status_code == 202  # not selected, not changed
    assert LogEntry.objects.filter(object_id=str(workflow.pk)).exists()
    # Shown once: the next page has no secret.
    assert _codes(root.get(ADD_URL)) == []


def test_regenerate_needs_change_permission(line: Line, make_workflow: Any) -> None:
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    workflow, token = make_workflow()
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_calltotextworkflow"))
    client_for(viewer).post(
        ADD_URL, {"action": "regenerate_token", "_selected_action": [str(workflow.pk)]}
    )
    workflow.refresh_from_db()
    assert workflow.token_hash == token_hash(token)


@pytest.mark.parametrize("page", ["add", "change"])
def test_counter_script_is_a_static_file(
    root: Client, line: Line, make_workflow: Any, page: str
) -> None:
    workflow, _ = make_workflow()
    url = ADD_URL + ("add/" if page == "add" else f"{workflow.pk}/change/")
    html = root.get(url).content.decode()
    assert 'src="/static/webhooks/char_counter.js"' in html
    assert html.count('data-char-counter="255"') == 2  # message and after-hours message
    assert "<script>" not in html.replace(" ", "")  # nothing inline (the CSP forbids it)
    script = Path(django_settings.BASE_DIR, "static/webhooks/char_counter.js").read_text()
    assert "data-char-counter" in script
    assert root.get("/static/webhooks/char_counter.js").status_code == 200


@pytest.mark.parametrize("field", ["message", "after_hours_message"])
def test_255_characters_at_most(root: Client, line: Line, field: str) -> None:
    ok = root.post(ADD_URL + "add/", _add_data(line, **{field: "x" * 255}))
    assert ok.status_code == 302
    CallToTextWorkflow.objects.all().delete()
    too_long = root.post(ADD_URL + "add/", _add_data(line, **{field: "x" * 256}))
    assert too_long.status_code == 200
    assert "Ensure this value has at most 255 characters (it has 256)." in (
        too_long.content.decode()
    )
    assert not CallToTextWorkflow.objects.exists()


def test_line_breaks_count_as_one_character(root: Client, line: Line) -> None:
    """Browsers post CRLF; the counter and the stored text count a line break once."""
    text = ("x" * 126 + "\r\n") * 2 + "x"  # 255 characters with LF line breaks
    response = root.post(ADD_URL + "add/", _add_data(line, message=text))
    assert response.status_code == 302
    assert CallToTextWorkflow.objects.get().message == text.replace("\r\n", "\n")


def test_after_hours_message_can_be_changed(root: Client, make_workflow: Any) -> None:
    workflow, _ = make_workflow()
    url = f"{ADD_URL}{workflow.pk}/change/"
    data = {
        "name": "",
        "kind": workflow.kind,
        "line": workflow.line_id,
        "language": "en",
        "message": workflow.message,
        "after_hours_message": "We're closed: reply and we'll answer in the morning.",
        "allowed_ips": "",
        "is_active": "on",
    }
    assert root.post(url, data).status_code == 302
    workflow.refresh_from_db()
    assert workflow.after_hours_message.startswith("We're closed")


def test_change_page_lists_recent_calls(root: Client, hit: Hit, make_workflow: Any) -> None:
    workflow, token = make_workflow()
    hit(token)
    hit(token)
    page = root.get(f"{ADD_URL}{workflow.pk}/change/").content.decode()
    assert "(818) 555-0142" in page
    assert "Texted" in page
    assert "Not texted: texted by this workflow minutes ago" in page


def test_recent_calls_are_in_the_practice_time_zone(
    root: Client, hit: Hit, make_workflow: Any
) -> None:
    workflow, token = make_workflow()
    Practice.objects.filter(pk=workflow.practice_id).update(timezone="Pacific/Honolulu")
    hit(token)
    call = workflow.calls.get()
    local = call.created_at.astimezone(ZoneInfo("Pacific/Honolulu"))
    page = root.get(f"{ADD_URL}{workflow.pk}/change/").content.decode()
    assert f"{local:%Y-%m-%d %H:%M} HST" in page
