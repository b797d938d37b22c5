"""How the inbox list reads its pages: each practice's newest conversations and each way of
matching a search are read on their own and merged (`channel_page_for_user`). The merged page
must be the one a plain sort of everything would give."""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.utils import timezone

from channels_app.models import PatientChannel
from messaging.models import Message
from practices.models import Membership, Practice
from tests.factories import (
    LineFactory,
    MessageFactory,
    PatientChannelFactory,
    PatientFactory,
    PatientPhoneFactory,
    PracticeFactory,
)
from tests.support import client_for

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def _at(channel: PatientChannel, minutes_ago: int) -> None:
    at = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    PatientChannel.objects.filter(pk=channel.pk).update(last_activity_at=at)


def _named(practice: Practice, first: str, last: str, **kwargs: Any) -> PatientChannel:
    patient = PatientFactory(enterprise=practice.enterprise, first_name=first, last_name=last)
    return PatientChannelFactory(line=practice.lines.get(), patient=patient, **kwargs)


def _walk(client: Any, url: str) -> list[str]:
    """Every page from `url` on, following the "Older" links: the names, in order."""
    seen: list[str] = []
    for _ in range(10):
        html = client.get(url).content.decode()
        seen += re.findall(r"(Person\d+) Merged", html)
        more = re.search(r'href="\?([^"]*after=[^"]+)"', html)
        if not more:
            return seen
        url = "/inbox/?" + more.group(1).replace("&amp;", "&")
    raise AssertionError("too many pages")


def test_a_member_of_two_practices_pages_through_both_newest_first(
    staff_a: Any, practice_a: Practice, monkeypatch: Any
) -> None:
    monkeypatch.setattr("inbox.views.INBOX_PAGE_SIZE", 3)
    sibling = PracticeFactory(enterprise=practice_a.enterprise, name="Sibling Clinic")
    LineFactory(practice=sibling)
    Membership.objects.create(user=staff_a, practice=sibling)
    for i in range(8):
        practice = practice_a if i % 3 else sibling
        _at(_named(practice, f"Person{i}", "Merged"), minutes_ago=i)

    seen = _walk(client_for(staff_a), "/inbox/")

    assert seen == [f"Person{i}" for i in range(8)]


def test_search_merges_names_known_numbers_and_digits_without_repeats(
    staff_a: Any, practice_a: Practice, monkeypatch: Any
) -> None:
    monkeypatch.setattr("inbox.views.INBOX_PAGE_SIZE", 2)
    by_name = _named(practice_a, "Person0", "Merged", phone="+18185550400")
    known = PatientFactory(
        enterprise=practice_a.enterprise, first_name="Person1", last_name="Merged"
    )
    PatientPhoneFactory(patient=known, number="+18185550401")
    by_known = PatientChannelFactory(
        line=practice_a.lines.get(), phone="+18185550401", known_patient=known
    )
    both = _named(practice_a, "Person2", "Merged", phone="+18185550402")
    _named(practice_a, "Someone", "Else", phone="+18185550999")
    for minutes, channel in enumerate([by_name, by_known, both]):
        _at(channel, minutes)
    client = client_for(staff_a)

    assert _walk(client, "/inbox/?q=merged") == ["Person0", "Person1", "Person2"]
    # "Person2 Merged" matches by name and by number: it is listed once.
    assert _walk(client, "/inbox/?q=merged 55504") == ["Person0", "Person1", "Person2"]
    assert _walk(client, "/inbox/?q=555-0402") == ["Person2"]


def test_search_by_a_common_name_finds_the_same_conversations(
    staff_a: Any, practice_a: Practice, monkeypatch: Any
) -> None:
    """Past `NAMED_PATIENTS_LISTED` patients, the names are matched by a subquery instead."""
    for i in range(4):
        _at(_named(practice_a, f"Person{i}", "Merged"), minutes_ago=i)
    client = client_for(staff_a)
    listed = _walk(client, "/inbox/?q=merged")

    monkeypatch.setattr("inbox.selectors.NAMED_PATIENTS_LISTED", 2)

    assert _walk(client, "/inbox/?q=merged") == listed == [f"Person{i}" for i in range(4)]


def test_hostile_names_and_previews_are_escaped_in_the_list(
    staff_a: Any, practice_a: Practice
) -> None:
    channel = _named(practice_a, HOSTILE, "Merged")
    MessageFactory(
        channel=channel,
        direction=Message.Direction.INBOUND,
        sender_kind=Message.SenderKind.PATIENT,
        body=HOSTILE,
    )

    content = client_for(staff_a).get("/inbox/").content.decode()

    assert "<script>alert" not in content
    assert "<img src=x" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
