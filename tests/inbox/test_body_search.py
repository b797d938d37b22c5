"""Search in message bodies: PostgreSQL full-text search on its GIN index (LIKE on SQLite),
within the user's practices, texts people wrote only; an old message of a long thread is found."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection

from channels_app.models import PatientChannel
from inbox.selectors import BODY_SEARCH_VECTOR, messages_search_for_user
from messaging.models import Message
from practices.models import Practice
from tests.factories import MessageFactory, PatientChannelFactory
from tests.support import client_for, make_practice

START = datetime.datetime(2025, 1, 6, 9, tzinfo=datetime.UTC)


def long_thread(channel: PatientChannel, count: int = 230) -> None:
    messages = [
        MessageFactory.build(channel=channel, body=f"Routine update number {i}.")
        for i in range(count)
    ]
    messages[2].body = "My insurance changed to Blue Harbor last spring."
    Message.objects.bulk_create(messages)
    for i, message in enumerate(messages):
        message.created_at = START + datetime.timedelta(hours=i)
    Message.objects.bulk_update(messages, ["created_at"])


def test_search_finds_an_old_message_of_a_long_thread(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    long_thread(verified_channel)

    html = client_for(staff_a).get("/inbox/?q=harbor&status=all").content.decode()

    assert "Messages with “harbor”" in html
    assert "My insurance changed to Blue Harbor last spring." in html
    assert f'href="/inbox/channels/{verified_channel.pk}/?status=all&amp;q=harbor&amp;at=' in html


def test_words_match_as_words_on_postgresql(staff_a: Any, verified_channel: PatientChannel) -> None:
    MessageFactory(channel=verified_channel, body="Two appointments are booked.")
    hits = messages_search_for_user(user=staff_a, q="appointment booking")
    if connection.vendor == "postgresql":
        assert [h.body for h in hits] == ["Two appointments are booked."]
    else:  # LIKE: each word as typed
        assert hits == []


def test_search_stays_in_the_users_practices(
    staff_a: Any, staff_b: Any, practice_a: Practice, practice_b: Practice
) -> None:
    neighbour = make_practice(practice_a.enterprise, "Neighbour clinic")
    for practice in (practice_a, practice_b, neighbour):
        channel = PatientChannelFactory(line=practice.lines.get(), phone="+18185550131")
        MessageFactory(channel=channel, body=f"Parking pass for {practice.name}")

    mine = [h.body for h in messages_search_for_user(user=staff_a, q="parking pass")]
    theirs = client_for(staff_b).get("/inbox/?q=parking").content.decode()
    one = messages_search_for_user(user=staff_a, q="parking", practice_id=str(practice_b.pk))

    assert mine == ["Parking pass for Practice A"]
    assert "Practice A" not in theirs
    assert "Parking pass for Practice B" in theirs
    assert one == []


def test_security_codes_and_automated_texts_are_not_searched(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    MessageFactory(
        channel=verified_channel,
        body="Your security code is 48213 for the portal",
        sender_kind=Message.SenderKind.AUTOMATION,
        kind=Message.Kind.SECURITY_CODE,
    )
    MessageFactory(
        channel=verified_channel,
        body="We are closed: portal questions tomorrow",
        sender_kind=Message.SenderKind.AUTOMATION,
        kind=Message.Kind.AFTER_HOURS,
    )
    assert messages_search_for_user(user=staff_a, q="portal") == []


@pytest.mark.parametrize("q", ["", "ab", "8185550101", "  "])
def test_numbers_and_short_queries_search_no_bodies(staff_a: Any, q: str) -> None:
    assert messages_search_for_user(user=staff_a, q=q) == []


def test_hostile_queries_are_just_words(staff_a: Any, verified_channel: PatientChannel) -> None:
    MessageFactory(channel=verified_channel, body="hello there")
    for q in ["hello & | !", "'); drop table x; --", "hello:*", "\\x00hello"]:
        response = client_for(staff_a).get("/inbox/", {"q": q})
        assert response.status_code == 200


def test_the_search_uses_the_index(verified_channel: PatientChannel) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the GIN index is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(
            f"EXPLAIN SELECT id FROM messaging_message WHERE {BODY_SEARCH_VECTOR} "  # noqa: S608
            "@@ plainto_tsquery('english'::regconfig, 'harbor')"
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    assert "message_body_search" in plan


def test_search_query_count_does_not_grow_with_hits(
    staff_a: Any, practice_a: Practice, django_assert_max_num_queries: Any
) -> None:
    client = client_for(staff_a)
    channel = PatientChannelFactory(line=practice_a.lines.get(), phone="+18185550131")
    MessageFactory(channel=channel, body="lab results ready")
    with django_assert_max_num_queries(20) as few:
        client.get("/inbox/?q=results")
    for i in range(15):
        other = PatientChannelFactory(line=practice_a.lines.get(), phone=f"+1818555{6000 + i}")
        MessageFactory(channel=other, body=f"lab results {i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get("/inbox/?q=results").content.decode()
    assert "lab results 14" in html


def test_a_hit_opens_its_thread_at_that_message(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    import re

    long_thread(verified_channel)
    hit = Message.objects.get(body__contains="Blue Harbor")  # the third of 230
    client = client_for(staff_a)

    search = client.get("/inbox/?q=harbor&status=all").content.decode()
    assert f"at={hit.pk}" in search
    html = client.get(f"/inbox/channels/{verified_channel.pk}/?at={hit.pk}").content.decode()

    thread = html[html.index('id="thread-pane"') :]
    assert f'data-focus="m-{hit.pk}"' in thread
    assert "Routine update number 0." in thread  # from before the hit…
    assert "Routine update number 229." in thread  # …to the newest, kept live from there
    assert "Load earlier messages" not in thread
    live = re.search(r'id="timeline"[^>]*hx-get="([^"]+)"', thread).group(1)
    assert "from=" in live


def test_a_hit_deep_in_the_thread_keeps_earlier_pages(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    long_thread(verified_channel)
    hit = Message.objects.get(body="Routine update number 100.")

    html = client_for(staff_a).get(f"/inbox/channels/{verified_channel.pk}/?at={hit.pk}")
    thread = html.content.decode()[html.content.decode().index('id="thread-pane"') :]

    assert "Routine update number 95." in thread
    assert "Routine update number 94." not in thread
    assert "Load earlier messages" in thread


def test_at_another_conversations_message_opens_the_thread_as_usual(
    staff_a: Any, staff_b: Any, practice_b: Practice, verified_channel: PatientChannel
) -> None:
    theirs = PatientChannelFactory(line=practice_b.lines.get(), phone="+18185550131")
    secret = MessageFactory(channel=theirs, body="someone else's secret")
    MessageFactory(channel=verified_channel, body="ours")

    html = (
        client_for(staff_a)
        .get(f"/inbox/channels/{verified_channel.pk}/?at={secret.pk}")
        .content.decode()
    )

    assert "someone else's secret" not in html
    assert "data-focus" not in html
    assert "ours" in html
    assert (
        client_for(staff_a).get(f"/inbox/channels/{verified_channel.pk}/?at=junk").status_code
        == 200
    )
