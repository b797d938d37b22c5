"""Triage: how long a patient has waited, longest waiting first, needs-action and starred
filters, and previews of what people wrote rather than automated texts."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone

from channels_app.models import PatientChannel
from channels_app.services import channel_close, channel_record_inbound
from messaging.models import Message
from messaging.replies import channel_reply
from practices.models import Practice
from tests.factories import MessageFactory, PatientChannelFactory
from tests.support import client_for

NOW = timezone.now()


def waiting(practice: Practice, phone: str, minutes: int) -> PatientChannel:
    """A conversation whose patient texted `minutes` ago and got no answer."""
    channel: PatientChannel = PatientChannelFactory(line=practice.lines.get(), phone=phone)
    channel_record_inbound(channel=channel, at=NOW - datetime.timedelta(minutes=minutes))
    return channel


def order(html: str, *channels: PatientChannel) -> list[int]:
    return sorted(range(len(channels)), key=lambda i: html.index(f"channel-{channels[i].pk}"))


def test_the_first_unanswered_text_starts_the_wait_and_an_answer_ends_it(
    run: Any, staff_a: Any, practice_a: Practice
) -> None:
    channel = waiting(practice_a, "+18185550121", minutes=30)
    first = channel.waiting_since
    channel_record_inbound(channel=channel)  # a second text: still waiting since the first
    assert channel.waiting_since == first

    run(channel_reply, channel=channel, user=staff_a, body="On it", secure=False)

    channel.refresh_from_db()
    assert (channel.needs_action, channel.waiting_since) == (False, None)
    channel_record_inbound(channel=channel)
    channel_close(channel=channel, user=staff_a)
    channel.refresh_from_db()
    assert (channel.needs_action, channel.waiting_since) == (False, None)


def test_rows_say_how_long_the_patient_has_waited(staff_a: Any, practice_a: Practice) -> None:
    waiting(practice_a, "+18185550121", minutes=125)
    html = client_for(staff_a).get("/inbox/").content.decode()
    assert 'class="waiting">Waiting <time' in html
    assert "2\xa0hours</time>" in html


def test_longest_waiting_first_lists_only_those_waiting(staff_a: Any, practice_a: Practice) -> None:
    recent = waiting(practice_a, "+18185550121", minutes=5)
    longest = waiting(practice_a, "+18185550122", minutes=90)
    middle = waiting(practice_a, "+18185550123", minutes=30)
    answered = PatientChannelFactory(line=practice_a.lines.get(), phone="+18185550124")
    client = client_for(staff_a)

    newest_first = client.get("/inbox/").content.decode()
    by_wait = client.get("/inbox/?sort=waiting").content.decode()

    assert order(newest_first, recent, middle, longest) == [0, 1, 2]
    assert order(by_wait, longest, middle, recent) == [0, 1, 2]
    assert f"channel-{answered.pk}" not in by_wait


def test_longest_waiting_pages_walk_every_conversation_once(
    staff_a: Any, practice_a: Practice
) -> None:
    import re

    channels = [waiting(practice_a, f"+1818555{3000 + i}", minutes=200 - i) for i in range(7)]
    client = client_for(staff_a)
    seen: list[str] = []
    url = "/inbox/?sort=waiting"
    from inbox import views

    old = views.INBOX_PAGE_SIZE
    views.INBOX_PAGE_SIZE = 3
    try:
        while url:
            html = client.get(url).content.decode()
            seen += re.findall(r'id="channel-([0-9a-f-]{36})"', html)
            more = re.search(r'href="(\?[^"]*after=[^"]+)">Older', html)
            url = "/inbox/" + more.group(1).replace("&amp;", "&") if more else ""
    finally:
        views.INBOX_PAGE_SIZE = old
    assert seen == [str(c.pk) for c in channels]


def test_needs_action_and_starred_filters(
    staff_a: Any, colleague: Any, practice_a: Practice
) -> None:
    asking = waiting(practice_a, "+18185550121", minutes=5)
    starred = PatientChannelFactory(line=practice_a.lines.get(), phone="+18185550122")
    starred.starred_by.add(staff_a)
    theirs = PatientChannelFactory(line=practice_a.lines.get(), phone="+18185550123")
    theirs.starred_by.add(colleague)
    client = client_for(staff_a)

    action = client.get("/inbox/?flag=action").content.decode()
    mine = client.get("/inbox/?flag=starred").content.decode()

    assert f"channel-{asking.pk}" in action
    assert f"channel-{starred.pk}" not in action
    assert f"channel-{starred.pk}" in mine
    assert f"channel-{asking.pk}" not in mine
    assert f"channel-{theirs.pk}" not in mine  # a star is the user's own


def test_filters_never_reach_another_practice(
    staff_b: Any, practice_a: Practice, practice_b: Practice
) -> None:
    other = waiting(practice_a, "+18185550121", minutes=5)
    other.starred_by.add(staff_b)
    client = client_for(staff_b)
    for query in ("sort=waiting", "flag=action", "flag=starred"):
        assert str(other.pk) not in client.get(f"/inbox/?{query}").content.decode()


def test_the_preview_is_what_people_wrote_not_an_automated_text(
    staff_a: Any, unverified_channel: PatientChannel
) -> None:
    MessageFactory(
        channel=unverified_channel,
        direction=Message.Direction.INBOUND,
        sender_kind=Message.SenderKind.PATIENT,
        body="Is the clinic open Saturday?",
    )
    MessageFactory(
        channel=unverified_channel,
        sender_kind=Message.SenderKind.AUTOMATION,
        kind=Message.Kind.AFTER_HOURS,
        body="We are closed now; we will answer tomorrow.",
    )

    html = client_for(staff_a).get("/inbox/").content.decode()

    assert "Is the clinic open Saturday?" in html
    assert "we will answer tomorrow" not in html


def test_triage_query_counts_stay_constant(
    staff_a: Any, practice_a: Practice, django_assert_max_num_queries: Any
) -> None:
    client = client_for(staff_a)
    for i in range(2):
        waiting(practice_a, f"+1818555{4000 + i}", minutes=i + 1).starred_by.add(staff_a)
    urls = ["/inbox/?sort=waiting", "/inbox/?flag=starred", "/inbox/?flag=action"]
    counts = {}
    for url in urls:
        with django_assert_max_num_queries(12) as few:
            client.get(url)
        counts[url] = len(few.captured_queries)
    for i in range(20):
        waiting(practice_a, f"+1818555{5000 + i}", minutes=i + 10).starred_by.add(staff_a)
    for url in urls:
        with django_assert_max_num_queries(counts[url]):
            client.get(url)
