"""Live updates by polling: an unchanged poll is a 204 that runs almost no queries."""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.utils import timezone

from channels_app.models import PatientChannel
from messaging.models import Message
from messaging.services import message_status_apply
from tests.factories import MessageFactory
from tests.support import channel_url, client_for


def _stamp(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*since=([0-9a-f]+)', html)
    assert match, html[:500]
    return match.group(1)


def test_thread_poll_is_204_until_something_changes(
    staff_a: Any,
    colleague: Any,
    verified_channel: PatientChannel,
    django_assert_max_num_queries: Any,
) -> None:
    client = client_for(staff_a)
    sent = MessageFactory(channel=verified_channel, body="Hello")
    stamp = _stamp(client.get(channel_url(verified_channel)).content.decode(), "timeline")

    # Session + user, the one fingerprint query, and the session's idle-timeout save
    # (SESSION_SAVE_EVERY_REQUEST: a savepoint, an UPDATE, a release).
    with django_assert_max_num_queries(6):
        unchanged = client.get(channel_url(verified_channel, "live/"), {"since": stamp})
    assert unchanged.status_code == 204
    assert unchanged.content == b""

    message_status_apply(message_id=sent.pk, status="failed", error_code="landline")
    changed = client.get(channel_url(verified_channel, "live/"), {"since": stamp})
    assert changed.status_code == 200
    assert "Landline" in changed.content.decode()
    new_stamp = _stamp(changed.content.decode(), "timeline")
    assert new_stamp != stamp

    MessageFactory(
        channel=verified_channel,
        direction=Message.Direction.INBOUND,
        sender_kind=Message.SenderKind.PATIENT,
        body="Thanks!",
    )
    after_reply = client.get(channel_url(verified_channel, "live/"), {"since": new_stamp})
    assert after_reply.status_code == 200
    assert "Thanks!" in after_reply.content.decode()
    # The header comes along out of band, so status and assignee follow too.
    assert 'hx-swap-oob="true"' in after_reply.content.decode()


def test_inbox_poll_is_204_until_activity(
    staff_a: Any, verified_channel: PatientChannel, django_assert_max_num_queries: Any
) -> None:
    client = client_for(staff_a)
    stamp = _stamp(client.get("/inbox/").content.decode(), "channel-list")

    with django_assert_max_num_queries(7):
        assert client.get("/inbox/live/", {"since": stamp}).status_code == 204

    PatientChannel.objects.filter(pk=verified_channel.pk).update(last_activity_at=timezone.now())
    MessageFactory(channel=verified_channel, body="Your results are in.")
    changed = client.get("/inbox/live/", {"since": stamp})
    assert changed.status_code == 200
    assert "Your results are in." in changed.content.decode()


def test_inbox_poll_sees_a_colleague_closing_a_channel(
    staff_a: Any, colleague: Any, verified_channel: PatientChannel
) -> None:
    client = client_for(staff_a)
    stamp = _stamp(client.get("/inbox/").content.decode(), "channel-list")
    client_for(colleague).post(channel_url(verified_channel, "status/"), {"action": "close"})

    changed = client.get("/inbox/live/", {"since": stamp, "status": "open"})

    assert changed.status_code == 200
    assert "Ana Lopez" not in changed.content.decode()


def test_presence_shows_who_else_is_viewing(
    staff_a: Any, colleague: Any, verified_channel: PatientChannel
) -> None:
    client_for(colleague).get(channel_url(verified_channel))

    page = client_for(staff_a).get(channel_url(verified_channel)).content.decode()
    heartbeat = client_for(staff_a).post(channel_url(verified_channel, "presence/"))

    assert "Also viewing: Dana Reyes" in page
    assert "Also viewing: Dana Reyes" in heartbeat.content.decode()
    client_for(colleague).post(channel_url(verified_channel, "presence/"), {"leave": "1"})
    assert (
        "Dana"
        not in client_for(staff_a).post(channel_url(verified_channel, "presence/")).content.decode()
    )


def test_a_poll_after_the_session_ended_sends_the_page_to_sign_in(
    verified_channel: PatientChannel,
) -> None:
    from django.test import Client

    response = Client().get(
        channel_url(verified_channel, "live/"),
        {"since": "x"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver{channel_url(verified_channel)}",
    )

    assert response.status_code == 204
    assert response["HX-Redirect"].startswith("/accounts/login/?next=")


def test_polls_do_not_keep_an_idle_session_alive(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    from django.contrib.sessions.models import Session

    client = client_for(staff_a)
    client.get(channel_url(verified_channel))
    key = client.session.session_key
    Session.objects.filter(pk=key).update(
        expire_date=timezone.now() + datetime.timedelta(minutes=1)
    )
    before = Session.objects.get(pk=key).expire_date

    client.get(channel_url(verified_channel, "live/"), {"since": "x"})
    client.get("/inbox/live/", {"since": "x"})
    client.post(channel_url(verified_channel, "presence/"))

    assert Session.objects.get(pk=key).expire_date == before
    client.get("/inbox/")  # a real page view is activity
    assert Session.objects.get(pk=key).expire_date > before
