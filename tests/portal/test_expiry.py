"""A link works for SECURE_LINK_TTL_DAYS (7) after it was sent, and no longer."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.utils import timezone

from messaging.models import Message, SecureLink
from tests.support.portal import SECRET_TEXT, Visitor, link_token

pytestmark = pytest.mark.django_db


def test_a_link_expires_after_seven_days(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    message = send_secure()
    link = SecureLink.objects.get(message=message)
    week = link.expires_at - link.created_at
    assert datetime.timedelta(days=7) - week < datetime.timedelta(seconds=5)

    SecureLink.objects.filter(pk=link.pk).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    me = visitor(link_token(message))
    response = me.open()
    assert response.status_code == 410
    assert "This link has expired" in response.content.decode()
    assert "Acme Clinic" in response.content.decode()
    right = me.client.post(me.base, {"month": "7", "day": "23", "year": "1961"})
    assert right.status_code in (403, 410)
    assert not link.attempts.exists()


def test_an_open_portal_session_ends_when_the_link_expires(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    message = send_secure()
    me = visitor(link_token(message))
    assert SECRET_TEXT in me.dob().content.decode()
    SecureLink.objects.filter(message=message).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    response = me.thread()
    assert response.status_code == 410
    assert SECRET_TEXT not in response.content.decode()
    assert "secure_portal" not in me.client.session


def test_the_lifetime_is_a_setting(send_secure: Callable[..., Message], settings: object) -> None:
    settings.SECURE_LINK_TTL_DAYS = 2  # type: ignore[attr-defined]
    link = SecureLink.objects.get(message=send_secure())
    assert abs((link.expires_at - timezone.now()) - datetime.timedelta(days=2)) < (
        datetime.timedelta(seconds=5)
    )
