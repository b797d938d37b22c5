"""The workspace: a thread opened from the list comes as its pane alone; a thread opened by URL
(or restored by Back) comes with the list beside it. Tenancy and query counts hold for both."""

from __future__ import annotations

from typing import Any

from channels_app.models import PatientChannel
from messaging.models import Message
from tests.factories import MessageFactory, PatientChannelFactory
from tests.support import channel_url, client_for

PANE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "thread-pane"}


def test_a_row_asks_for_the_thread_pane_alone(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    MessageFactory(channel=verified_channel, body="Hello from the pane")

    response = client_for(staff_a).get(channel_url(verified_channel), **PANE)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Hello from the pane" in html
    assert html.startswith("<title>Ana Lopez · Artera</title>")
    assert 'id="channel-list"' not in html
    assert 'id="composer"' in html


def test_a_thread_by_url_or_back_has_the_list_beside_it(
    staff_a: Any, verified_channel: PatientChannel, unverified_channel: PatientChannel
) -> None:
    client = client_for(staff_a)
    restore = {"HTTP_HX_REQUEST": "true", "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"}
    for extra in ({}, restore):
        html = client.get(channel_url(verified_channel) + "?status=all", **extra).content.decode()
        assert 'id="channel-list"' in html
        assert 'id="workspace" class="workspace has-thread"' in html
        # The rows keep the list's filters and open into the pane.
        assert f'href="/inbox/channels/{unverified_channel.pk}/?status=all"' in html
        assert 'hx-target="#thread-pane"' in html


def test_the_pane_of_another_practices_channel_is_404(
    staff_b: Any, verified_channel: PatientChannel
) -> None:
    assert client_for(staff_b).get(channel_url(verified_channel), **PANE).status_code == 404


def test_the_list_beside_a_thread_shows_only_the_users_practices(
    staff_b: Any, practice_b: Any, verified_channel: PatientChannel
) -> None:
    own = PatientChannelFactory(line=practice_b.lines.get(), phone="+18185550177")

    html = client_for(staff_b).get(channel_url(own)).content.decode()

    assert "Ana Lopez" not in html
    assert str(verified_channel.pk) not in html


def test_pane_and_workspace_query_counts_do_not_grow(
    staff_a: Any,
    practice_a: Any,
    verified_channel: PatientChannel,
    django_assert_max_num_queries: Any,
) -> None:
    client = client_for(staff_a)
    for i in range(2):
        MessageFactory(channel=verified_channel, body=f"m{i}")
    client.get(channel_url(verified_channel))
    with django_assert_max_num_queries(45) as pane:
        client.get(channel_url(verified_channel), **PANE)
    with django_assert_max_num_queries(60) as whole:
        client.get(channel_url(verified_channel))
    for i in range(20):
        other = PatientChannelFactory(line=practice_a.lines.get(), phone=f"+1818555{2000 + i}")
        MessageFactory(channel=other, direction=Message.Direction.INBOUND, sender_kind="patient")
        MessageFactory(channel=verified_channel, body=f"more {i}")
    with django_assert_max_num_queries(len(pane.captured_queries)):
        client.get(channel_url(verified_channel), **PANE)
    with django_assert_max_num_queries(len(whole.captured_queries)):
        client.get(channel_url(verified_channel))
