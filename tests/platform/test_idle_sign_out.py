"""The idle sign-out, on the server: how long a session has left (and that asking, or a poll,
does not extend it while any real request does), "Stay signed in", the sign-in form's return to
the page, and what sign-out tells the browser to forget. The browser side is
tests/platform/test_idle_sign_out_browser.py."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from artera import sessions
from tests.factories import TEST_PASSWORD, PatientChannelFactory
from tests.support import client_for

STATUS_URL = "/inbox/session/"


class Clock:
    """`time.time` of artera.sessions, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(sessions.time, "time", clock)
    return clock


@pytest.fixture(autouse=True)
def _idle_settings(settings: Any) -> None:
    settings.SESSION_COOKIE_AGE = 900
    settings.SESSION_WARN_SECONDS = 120


def _expire_date(client: Client) -> datetime.datetime:
    return Session.objects.get(session_key=client.session.session_key).expire_date


def test_status_counts_down_and_asking_does_not_extend(staff_a, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    c = client_for(staff_a)
    c.get("/inbox/")  # a real request: stamps the session
    expires = _expire_date(c)
    clock.now += 100

    response = c.get(STATUS_URL)

    assert response.status_code == 200
    assert response.json() == {
        "signed_in": True,
        "seconds_left": 800,
        "warn_seconds": 120,
        "idle_seconds": 900,
    }
    assert _expire_date(c) == expires  # asking saved nothing
    clock.now += 100
    assert c.get(STATUS_URL).json()["seconds_left"] == 700


def test_polls_do_not_extend_but_any_real_request_does(staff_a, practice_a, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    channel = PatientChannelFactory(line=practice_a.lines.get())
    tab_one = client_for(staff_a)
    tab_one.get("/inbox/")
    tab_two = Client()  # the same browser's other tab: the same session cookie
    tab_two.cookies = tab_one.cookies
    clock.now += 300

    tab_one.get("/inbox/live/", HTTP_HX_REQUEST="true")
    tab_one.get(f"/inbox/channels/{channel.pk}/live/", HTTP_HX_REQUEST="true")
    tab_one.post(f"/inbox/channels/{channel.pk}/presence/", HTTP_HX_REQUEST="true")
    assert tab_one.get(STATUS_URL).json()["seconds_left"] == 600

    tab_two.get(f"/inbox/channels/{channel.pk}/")  # the user works in the other tab
    assert tab_one.get(STATUS_URL).json()["seconds_left"] == 900


def test_stay_signed_in_extends_the_session(staff_a, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    c = client_for(staff_a)
    c.get("/inbox/")
    expires = _expire_date(c)
    clock.now += 800

    response = c.post(STATUS_URL)

    assert response.status_code == 200
    assert response.json()["signed_in"] is True
    assert response.json()["seconds_left"] == 900
    assert _expire_date(c) > expires
    assert c.get(STATUS_URL).json()["seconds_left"] == 900


def test_stay_signed_in_needs_the_csrf_token(staff_a) -> None:  # type: ignore[no-untyped-def]
    c = Client(enforce_csrf_checks=True)
    c.force_login(staff_a)
    page = c.get("/inbox/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None

    assert c.post(STATUS_URL).status_code == 403
    assert c.post(STATUS_URL, {"csrfmiddlewaretoken": token.group(1)}).status_code == 200
    assert c.post(STATUS_URL, HTTP_X_CSRFTOKEN=token.group(1)).status_code == 200


def test_an_ended_session_says_so_and_cannot_be_extended(staff_a) -> None:  # type: ignore[no-untyped-def]
    c = client_for(staff_a)
    c.get("/inbox/")
    Session.objects.filter(session_key=c.session.session_key).update(
        expire_date=timezone.now() - datetime.timedelta(seconds=1)
    )

    status = c.get(STATUS_URL)
    assert status.status_code == 200
    assert status.json()["signed_in"] is False
    assert status.json()["seconds_left"] == 0
    extend = c.post(STATUS_URL)
    assert extend.status_code == 401
    assert extend.json()["signed_in"] is False
    assert c.get("/inbox/").status_code == 302  # still signed out
    assert "no-store" in status["Cache-Control"]
    assert "no-store" in extend["Cache-Control"]


def test_anonymous_status_creates_no_session(db: None) -> None:
    c = Client()
    assert c.get(STATUS_URL).json()["signed_in"] is False
    assert Session.objects.count() == 0


def test_status_only_takes_get_and_post(staff_a) -> None:  # type: ignore[no-untyped-def]
    assert client_for(staff_a).put(STATUS_URL).status_code == 405


# --- Signing in again returns to the page ---------------------------------------------------------


def _sign_in(next_value: str) -> Any:
    c = Client()
    return c.post(
        "/accounts/login/",
        {"username": "staff_a", "password": TEST_PASSWORD, "next": next_value},
    )


@pytest.mark.parametrize(
    ("next_value", "lands_on"),
    [
        ("/inbox/channels/{channel}/", "/inbox/channels/{channel}/"),
        ("/inbox/?status=closed&q=Ana", "/inbox/?status=closed&q=Ana"),
        ("/inbox/mentions/", "/inbox/mentions/"),
        ("http://testserver/inbox/mentions/", "http://testserver/inbox/mentions/"),
        ("", "/inbox/"),
        ("https://evil.example/inbox/", "/inbox/"),
        ("//evil.example/inbox/", "/inbox/"),
        ("/\\evil.example/", "/inbox/"),
        ("javascript:alert(1)", "/inbox/"),
        ("http://testserver.evil.example/", "/inbox/"),
    ],
)
def test_sign_in_returns_to_the_page_and_only_to_this_site(  # type: ignore[no-untyped-def]
    staff_a, practice_a, next_value: str, lands_on: str
) -> None:
    channel = PatientChannelFactory(line=practice_a.lines.get())
    response = _sign_in(next_value.format(channel=channel.pk))
    assert response.status_code == 302
    assert response["Location"] == lands_on.format(channel=channel.pk)


def test_the_sign_in_page_says_why_and_whether_a_draft_was_discarded(db: None) -> None:
    plain = Client().get("/accounts/login/?next=/inbox/").content.decode()
    assert "You were signed out" not in plain
    idle = Client().get("/accounts/login/?next=/inbox/&idle=1").content.decode()
    assert "You were signed out after a while without activity" in idle
    assert "had not sent was discarded" not in idle
    unsent = Client().get("/accounts/login/?next=/inbox/&idle=1&unsent=1").content.decode()
    assert "had not sent was discarded" in unsent
    assert 'name="next" value="/inbox/"' in unsent
    assert "data-clear-storage" in unsent


# --- Nothing left behind --------------------------------------------------------------------------


def test_sign_out_tells_the_browser_to_forget_this_site(staff_a) -> None:  # type: ignore[no-untyped-def]
    c = client_for(staff_a)
    response = c.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert response["Clear-Site-Data"] == '"cache", "storage"'
    assert c.get("/inbox/").status_code == 302


def test_signed_in_pages_carry_the_warning_and_keep_no_htmx_history(staff_a) -> None:  # type: ignore[no-untyped-def]
    html = client_for(staff_a).get("/inbox/").content.decode()
    assert 'role="alertdialog"' in html
    assert 'data-status-url="/inbox/session/"' in html
    assert "Stay signed in" in html
    assert '"historyCacheSize": 0' in html
