"""Five wrong answers lock a link for 15 minutes; every answer, refused ones too, is audited."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.utils import timezone

from messaging.models import Message, SecureAccessAttempt, SecureLink
from tests.support.portal import SECRET_TEXT, Visitor, carried_to, link_token

pytestmark = pytest.mark.django_db

WRONG = datetime.date(1970, 1, 1)


def outcomes(link: SecureLink) -> list[str]:
    return list(link.attempts.order_by("at", "id").values_list("outcome", flat=True))


def test_five_wrong_answers_lock_the_link(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    message = send_secure()
    me = visitor(link_token(message))
    for left in (4, 3, 2, 1):
        assert f"{left} attempt" in me.dob(WRONG).content.decode()
    fifth = me.dob(WRONG)
    assert fifth.status_code == 429
    assert "Too many tries" in fifth.content.decode()

    link = SecureLink.objects.get(message=message)
    assert link.locked_until is not None
    lock = link.locked_until - timezone.now()
    assert datetime.timedelta(minutes=14) < lock <= datetime.timedelta(minutes=15)

    # While locked even the right answer is refused, and audited as refused.
    right = me.dob()
    assert right.status_code == 429
    assert SECRET_TEXT not in right.content.decode()
    assert me.open().status_code == 429
    assert outcomes(link) == ["wrong"] * 5 + ["locked"]
    assert not SecureAccessAttempt.objects.filter(success=True).exists()


def test_the_lock_ends_after_the_window_and_then_asks_for_a_code(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    message = send_secure()
    me = visitor(link_token(message))
    for _ in range(5):
        me.dob(WRONG)
    link = SecureLink.objects.get(message=message)
    SecureLink.objects.filter(pk=link.pk).update(
        locked_until=timezone.now() - datetime.timedelta(seconds=1)
    )

    # Someone may have been guessing: after a lockout the link also asks for a texted code.
    response = me.dob()
    assert response.redirect_chain[-1][0] == me.base + "code/"
    code_text = carried_to()[-1]
    assert "security code is" in code_text
    code = code_text.split("security code is ")[1][:5]
    opened = me.code(code)
    assert SECRET_TEXT in opened.content.decode()
    assert outcomes(link) == ["wrong"] * 5 + ["ok", "ok"]


def test_a_right_answer_resets_the_count(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    message = send_secure()
    for _ in range(4):
        visitor(link_token(message)).dob(WRONG)
    assert SECRET_TEXT in visitor(link_token(message)).dob().content.decode()
    link = SecureLink.objects.get(message=message)
    assert (link.failed_attempts, link.locked_until) == (0, None)


def test_the_lock_is_per_link_not_per_browser(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    """Clearing cookies does not give a guesser five more tries."""
    message = send_secure()
    for _ in range(5):
        visitor(link_token(message)).dob(WRONG)
    assert visitor(link_token(message)).dob().status_code == 429


def test_lockout_settings(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor], settings: object
) -> None:
    settings.SECURE_LINK_MAX_FAILURES = 2  # type: ignore[attr-defined]
    settings.SECURE_LINK_LOCKOUT_MINUTES = 60  # type: ignore[attr-defined]
    message = send_secure()
    me = visitor(link_token(message))
    me.dob(WRONG)
    assert me.dob(WRONG).status_code == 429
    link = SecureLink.objects.get(message=message)
    assert link.locked_until is not None
    assert link.locked_until - timezone.now() > datetime.timedelta(minutes=59)
