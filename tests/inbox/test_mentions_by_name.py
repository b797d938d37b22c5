"""Mentions by name: the note form lists the practice's members by display name, a note shows
the mentions of real members by name, and only they are notified."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

from channels_app.models import Notification, PatientChannel
from tests.factories import MembershipFactory
from tests.support import channel_url, client_for


def test_the_note_form_lists_the_practices_members_by_name(
    staff_a: Any, colleague: Any, staff_b: Any, verified_channel: PatientChannel
) -> None:
    html = client_for(staff_a).get(channel_url(verified_channel)).content.decode()

    members = json.loads(unescape(re.search(r'data-members="([^"]*)"', html).group(1)))
    assert {"username": "dana", "name": "Dana Reyes"} in members
    assert "staff_b" not in {m["username"] for m in members}


def test_only_real_members_are_highlighted_and_notified(
    staff_a: Any, colleague: Any, staff_b: Any, verified_channel: PatientChannel
) -> None:
    client = client_for(staff_a)
    client.post(
        channel_url(verified_channel, "notes/"),
        {"body": "@dana please call; cc @staff_b and @nobody."},
        HTTP_HX_REQUEST="true",
    )

    html = client.get(channel_url(verified_channel)).content.decode()

    assert '<mark class="mention" title="@dana">@Dana Reyes</mark>' in html
    assert "cc @staff_b and @nobody." in html  # plain text: not members of this practice
    assert list(Notification.objects.values_list("user__username", flat=True)) == ["dana"]


def test_the_note_form_after_a_note_still_knows_the_members(
    staff_a: Any, colleague: Any, verified_channel: PatientChannel
) -> None:
    MembershipFactory(
        practice=verified_channel.practice, user__username="lee", user__first_name="Lee"
    )
    response = client_for(staff_a).post(
        channel_url(verified_channel, "notes/"), {"body": "hi"}, HTTP_HX_REQUEST="true"
    )
    assert "Dana Reyes" in unescape(response.content.decode())
    assert "lee" in unescape(response.content.decode())
