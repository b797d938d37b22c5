"""The portal session: its own key in the session, bound to one link, ended after 15 idle
minutes; never a Django login."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.contrib.auth import SESSION_KEY as AUTH_SESSION_KEY
from django.utils import timezone

from messaging.models import Message
from tests.support.portal import SECRET_TEXT, Visitor, link_token

pytestmark = pytest.mark.django_db


def idle(me: Visitor, minutes: float) -> None:
    session = me.client.session
    state = session["secure_portal"]
    state["last_seen"] = (timezone.now() - datetime.timedelta(minutes=minutes)).isoformat()
    session["secure_portal"] = state
    session.save()


def test_the_portal_session_is_not_a_login(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    me = visitor(link_token(send_secure()))
    before = me.client.cookies.get("sessionid")
    me.dob()
    session = me.client.session
    assert AUTH_SESSION_KEY not in session
    assert session["secure_portal"]["stage"] == "verified"
    assert me.client.get("/inbox/").status_code == 302  # to the staff sign-in
    after = me.client.cookies["sessionid"].value
    assert before is None or before.value != after  # a new key once verified


def test_idle_for_15_minutes_ends_the_session(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    me = visitor(link_token(send_secure()))
    me.dob()
    idle(me, 14)
    assert SECRET_TEXT in me.thread().content.decode()  # and that visit counts as activity
    idle(me, 15.5)
    response = me.thread()
    assert response.redirect_chain[-1][0] == me.base
    assert SECRET_TEXT not in response.content.decode()
    assert "You were away for a while" in response.content.decode()
    assert "secure_portal" not in me.client.session


def test_the_session_opens_only_its_own_link(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    first, second = send_secure(body="First note"), send_secure(body="Second note")
    me = visitor(link_token(second))
    me.dob()
    other = Visitor(token=link_token(first), client=me.client, capture=me.capture)
    response = other.thread()
    assert response.redirect_chain[-1][0] == other.base
    assert "First note" not in response.content.decode()


def test_leaving_ends_the_session(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    me = visitor(link_token(send_secure()))
    me.dob()
    left = me.client.post(me.base + "leave/", me._form())
    assert "Your messages are closed" in left.content.decode()
    assert SECRET_TEXT not in me.thread().content.decode()
