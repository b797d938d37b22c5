"""A thread opens on its latest messages and loads earlier ones a page at a time (keyset), back
to the first; the live timeline keeps what the open page showed while new texts arrive."""

from __future__ import annotations

import datetime
import re
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.test import Client

from channels_app.models import InternalNote, PatientChannel
from inbox.selectors import THREAD_PAGE_SIZE
from messaging.models import Message
from tests.factories import MessageFactory, PatientChannelFactory
from tests.support import channel_url, client_for

START = datetime.datetime(2025, 3, 1, 12, tzinfo=datetime.UTC)  # before the texts of "now"
OLDER_RE = re.compile(r'class="older-more"><a class="button" href="([^"]+)"')
BODY_RE = re.compile(r"Text number (\d+)\b")


def conversation(channel: PatientChannel, count: int, *, same_time: bool = False) -> None:
    """`count` texts "Text number 0" … a minute apart (or all at one instant, where only the
    ids keep the order), alternating patient and staff."""
    messages = [
        MessageFactory.build(
            channel=channel,
            body=f"Text number {i}",
            direction=Message.Direction.INBOUND if i % 2 else Message.Direction.OUTBOUND,
            sender_kind=Message.SenderKind.PATIENT if i % 2 else Message.SenderKind.STAFF,
        )
        for i in range(count)
    ]
    Message.objects.bulk_create(messages)
    for i, message in enumerate(messages):
        message.created_at = START if same_time else START + datetime.timedelta(minutes=i)
    Message.objects.bulk_update(messages, ["created_at"])


def numbers(html: str) -> list[int]:
    """The texts shown in the thread (the workspace's list beside it previews the last one)."""
    _, found, thread = html.partition('id="thread-pane"')
    return [int(n) for n in BODY_RE.findall(thread if found else html)]


def read_back_to_the_start(client: Client, channel: PatientChannel) -> tuple[list[int], int]:
    """Open the thread and follow "Load earlier messages" to the first text: every number
    shown, oldest first, and how many pages it took."""
    page = client.get(channel_url(channel)).content.decode()
    shown = numbers(page)
    pages = 1
    link = OLDER_RE.search(page)
    while link:
        older = client.get(unescape(link.group(1)), HTTP_HX_REQUEST="true")
        assert older.status_code == 200
        html = older.content.decode()
        shown = numbers(html) + shown
        pages += 1
        link = OLDER_RE.search(html)
        if link is None:
            assert "The beginning of the conversation." in html
    return shown, pages


def test_a_long_thread_opens_on_its_latest_page(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    conversation(verified_channel, 230)

    page = client_for(staff_a).get(channel_url(verified_channel)).content.decode()

    assert numbers(page) == list(range(230 - THREAD_PAGE_SIZE, 230))
    assert "Load earlier messages" in page


def test_the_first_message_of_230_is_reachable_and_none_is_shown_twice(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    conversation(verified_channel, 230)

    shown, pages = read_back_to_the_start(client_for(staff_a), verified_channel)

    assert shown == list(range(230))
    assert pages == 5  # 50 + 50 + 50 + 50 + 30


def test_texts_of_the_same_instant_page_by_id(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    conversation(verified_channel, THREAD_PAGE_SIZE * 2 + 3, same_time=True)

    shown, _ = read_back_to_the_start(client_for(staff_a), verified_channel)

    assert sorted(shown) == list(range(THREAD_PAGE_SIZE * 2 + 3))
    assert len(set(shown)) == len(shown)


def test_a_short_thread_has_no_earlier_page(staff_a: Any, verified_channel: PatientChannel) -> None:
    conversation(verified_channel, 3)

    page = client_for(staff_a).get(channel_url(verified_channel)).content.decode()

    assert numbers(page) == [0, 1, 2]
    assert "Load earlier messages" not in page


def test_notes_come_with_the_page_of_their_time_exactly_once(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    conversation(verified_channel, 120)
    for minute in (5, 60, 100):  # on the third, second and first page
        note = InternalNote.objects.create(
            channel=verified_channel, author=staff_a, body=f"Note at minute {minute}"
        )
        InternalNote.objects.filter(pk=note.pk).update(
            created_at=START + datetime.timedelta(minutes=minute, seconds=30)
        )
    client = client_for(staff_a)

    latest = client.get(channel_url(verified_channel)).content.decode()
    html = latest
    link = OLDER_RE.search(latest)
    while link:
        page = client.get(unescape(link.group(1))).content.decode()
        html += page
        link = OLDER_RE.search(page)

    assert "Note at minute 100" in latest
    assert "Note at minute 60" not in latest
    for minute in (5, 60, 100):
        assert html.count(f"Note at minute {minute}") == 1


def test_the_live_timeline_keeps_what_the_page_showed_as_new_texts_arrive(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    conversation(verified_channel, THREAD_PAGE_SIZE + 10)
    client = client_for(staff_a)
    page = client.get(channel_url(verified_channel)).content.decode()
    poll = re.search(r'id="timeline"[^>]* hx-get="([^"]+)"', page)
    assert poll is not None
    anchor = parse_qs(urlsplit(unescape(poll.group(1))).query)["from"][0]
    first_shown = numbers(page)[0]

    for i in range(5):
        MessageFactory(channel=verified_channel, body=f"Text number {1000 + i}")
    live = client.get(channel_url(verified_channel, "live/"), {"from": anchor})
    shown = numbers(live.content.decode())

    # Nothing between the earlier pages and the live end goes missing.
    assert shown[0] == first_shown
    assert shown[-5:] == [1000, 1001, 1002, 1003, 1004]
    assert len(shown) == THREAD_PAGE_SIZE + 5


def test_a_cursor_the_thread_did_not_make_is_not_an_error(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    conversation(verified_channel, 60)
    client = client_for(staff_a)
    for cursor in ("", "nonsense", "9999-99-99~x", "2025-03-01T12:00:00+00:00~not-a-uuid"):
        response = client.get(channel_url(verified_channel, "older/"), {"before": cursor})
        assert response.status_code == 200
        assert numbers(response.content.decode())  # read as "before the newest message"


def test_another_practices_thread_is_404_for_earlier_pages_too(
    staff_b: Any, verified_channel: PatientChannel
) -> None:
    conversation(verified_channel, 60)
    response = client_for(staff_b).get(channel_url(verified_channel, "older/"), {"before": ""})
    assert response.status_code == 404
    assert "Text number" not in response.content.decode()


def test_signed_out_earlier_pages_send_to_sign_in(verified_channel: PatientChannel) -> None:
    response = Client().get(channel_url(verified_channel, "older/"))
    assert response.status_code in (302, 401)


def test_an_earlier_page_costs_the_same_queries_however_long_the_thread(
    staff_a: Any, practice_a: Any, django_assert_max_num_queries: Any
) -> None:
    short, long = (PatientChannelFactory(practice=practice_a) for _ in range(2))
    conversation(short, THREAD_PAGE_SIZE + 1)
    conversation(long, THREAD_PAGE_SIZE * 6)
    client = client_for(staff_a)
    counts = []
    for channel in (short, long):
        page = client.get(channel_url(channel)).content.decode()
        link = unescape(OLDER_RE.search(page).group(1))  # type: ignore[union-attr]
        with django_assert_max_num_queries(12) as captured:
            assert client.get(link).status_code == 200
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1], counts
