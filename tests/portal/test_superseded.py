"""A newer secure message in the channel supersedes the older links: they still work, with the
code step; the newest link needs only the date of birth (within 24 hours)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from messaging.models import Message, SecureLink
from tests.support.portal import SECRET_TEXT, Visitor, carried_to, link_token

pytestmark = pytest.mark.django_db


def test_a_newer_link_supersedes_the_older_one(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    first = send_secure(body="First secure note")
    second = send_secure()
    old_link, new_link = (SecureLink.objects.get(message=m) for m in (first, second))
    assert old_link.is_superseded
    assert not new_link.is_superseded

    fresh = visitor(link_token(second)).dob()
    assert SECRET_TEXT in fresh.content.decode()
    assert len(carried_to()) == 2  # two notices, no code

    old = visitor(link_token(first))
    asked = old.dob()
    assert asked.redirect_chain[-1][0] == old.base + "code/"
    code = carried_to()[-1].split("security code is ")[1][:5]
    shown = old.code(code).content.decode()
    # The old link opens the same thread, the newer message included.
    assert "First secure note" in shown
    assert SECRET_TEXT in shown


def test_links_of_other_channels_are_not_superseded(
    send_secure: Callable[..., Message], practice: object, enterprise: object
) -> None:
    from tests.support import make_practice

    other_practice = make_practice(enterprise, "Acme Cardiology")  # type: ignore[arg-type]
    first = send_secure()
    send_secure(practice=other_practice)
    assert not SecureLink.objects.get(message=first).is_superseded
