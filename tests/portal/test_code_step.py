"""A link opened more than 24 hours after it was sent also asks for a 5-digit code, texted to
the patient through the send path."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

import pytest
from django.utils import timezone

from messaging.models import Message, SecureLink
from tests.support.portal import SECRET_TEXT, Visitor, age, carried_to, link_token

pytestmark = pytest.mark.django_db

CODE_RE = re.compile(r"security code is (\d{5})\.")


def texted_code() -> str:
    match = CODE_RE.search(carried_to()[-1])
    assert match, carried_to()[-1]
    return match.group(1)


def test_within_24_hours_no_code_is_asked(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    message = send_secure()
    age(SecureLink.objects.get(message=message), hours=23, minutes=59)
    response = visitor(link_token(message)).dob()
    assert SECRET_TEXT in response.content.decode()
    assert len(carried_to()) == 1  # the notice only


def test_after_24_hours_a_code_is_texted_and_asked_for(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    message = send_secure()
    link = SecureLink.objects.get(message=message)
    age(link, hours=24, minutes=1)
    me = visitor(link_token(message))

    response = me.dob()
    assert response.redirect_chain[-1][0] == me.base + "code/"
    assert "We texted a 5-digit code to your phone ending in 0142" in response.content.decode()
    assert SECRET_TEXT not in response.content.decode()
    assert me.thread().redirect_chain[-1][0] == me.base + "code/"

    code = texted_code()
    assert carried_to()[-1] == (
        f"Your Acme Clinic security code is {code}. It expires in 10 minutes. "
        "Do not share it with anyone."
    )
    sms = Message.objects.filter(sender_kind="automation").get()
    assert not sms.is_secure
    assert sms.channel_id == message.channel_id
    assert sms.status == "delivered"

    wrong = me.code("00000" if code != "00000" else "11111")
    assert "That code is not right." in wrong.content.decode()
    assert "4 attempts left" in wrong.content.decode()
    opened = me.code(code)
    assert SECRET_TEXT in opened.content.decode()
    kinds = list(link.attempts.order_by("at", "id").values_list("kind", "outcome"))
    assert kinds == [("dob", "ok"), ("code", "wrong"), ("code", "ok")]


def test_a_code_works_once(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    message = send_secure()
    age(SecureLink.objects.get(message=message), days=2)
    me = visitor(link_token(message))
    me.dob()
    code = texted_code()
    assert SECRET_TEXT in me.code(code).content.decode()

    # Another browser (within the resend minute, so no new code is texted) cannot reuse it.
    other = visitor(link_token(message))
    other.dob()
    stale = other.code(code)
    assert SECRET_TEXT not in stale.content.decode()
    assert "This code has expired" in stale.content.decode()


def test_an_expired_code_is_refused_without_counting(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    message = send_secure()
    link = SecureLink.objects.get(message=message)
    age(link, days=2)
    me = visitor(link_token(message))
    me.dob()
    code = texted_code()
    SecureLink.objects.filter(pk=link.pk).update(
        code_expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    response = me.code(code)
    assert "This code has expired" in response.content.decode()
    assert SECRET_TEXT not in response.content.decode()
    link.refresh_from_db()
    assert link.failed_attempts == 0
    assert link.attempts.filter(kind="code").get().outcome == "code_expired"


def test_a_new_code_at_most_once_a_minute(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    message = send_secure()
    link = SecureLink.objects.get(message=message)
    age(link, days=2)
    me = visitor(link_token(message))
    me.dob()
    first = texted_code()
    me.resend()
    assert len(carried_to()) == 2  # the notice and one code
    SecureLink.objects.filter(pk=link.pk).update(
        code_sent_at=timezone.now() - datetime.timedelta(seconds=61)
    )
    me.resend()
    assert len(carried_to()) == 3
    second = texted_code()
    if second != first:
        assert SECRET_TEXT not in me.code(first).content.decode()
    assert SECRET_TEXT in me.code(second).content.decode()


def test_the_code_is_asked_only_after_the_date_of_birth(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    """Nobody who lacks the date of birth can make us text the patient (SMS pumping, nagging)."""
    message = send_secure()
    age(SecureLink.objects.get(message=message), days=2)
    me = visitor(link_token(message))
    assert me.client.get(me.base + "code/").status_code == 302
    me.resend()
    me.dob(datetime.date(1990, 1, 1))
    assert len(carried_to()) == 1
