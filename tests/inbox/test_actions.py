"""Close/reopen, assign (me or a colleague of the practice), star."""

from __future__ import annotations

from typing import Any

from channels_app.models import ChannelEvent, PatientChannel
from tests.support import channel_url, client_for

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_close_and_reopen_are_events(staff_a: Any, verified_channel: PatientChannel) -> None:
    client = client_for(staff_a)
    PatientChannel.objects.filter(pk=verified_channel.pk).update(needs_action=True)

    closed = client.post(channel_url(verified_channel, "status/"), {"action": "close"}, **HTMX)
    verified_channel.refresh_from_db()
    assert verified_channel.status == "closed"
    assert not verified_channel.needs_action
    assert "Reopen" in closed.content.decode()
    assert closed["HX-Trigger"] == "thread-changed"

    client.post(channel_url(verified_channel, "status/"), {"action": "reopen"})
    verified_channel.refresh_from_db()
    assert verified_channel.status == "open"
    assert list(ChannelEvent.objects.values_list("kind", flat=True)) == ["closed", "reopened"]
    assert "closed the conversation" in client.get(channel_url(verified_channel)).content.decode()


def test_assign_to_me_and_to_a_colleague(
    staff_a: Any, colleague: Any, verified_channel: PatientChannel
) -> None:
    client = client_for(staff_a)

    client.post(channel_url(verified_channel, "assign/"), {"assignee": "me"})
    verified_channel.refresh_from_db()
    assert verified_channel.assignee == staff_a

    client.post(channel_url(verified_channel, "assign/"), {"assignee": str(colleague.pk)})
    verified_channel.refresh_from_db()
    assert verified_channel.assignee == colleague

    client.post(channel_url(verified_channel, "assign/"), {"assignee": ""})
    verified_channel.refresh_from_db()
    assert verified_channel.assignee is None
    assert list(ChannelEvent.objects.values_list("kind", flat=True)) == [
        "assigned",
        "assigned",
        "unassigned",
    ]


def test_cannot_assign_to_someone_outside_the_practice(
    staff_a: Any, staff_b: Any, verified_channel: PatientChannel
) -> None:
    client_for(staff_a).post(
        channel_url(verified_channel, "assign/"), {"assignee": str(staff_b.pk)}
    )
    client_for(staff_a).post(channel_url(verified_channel, "assign/"), {"assignee": "nonsense"})

    verified_channel.refresh_from_db()
    assert verified_channel.assignee is None
    assert not ChannelEvent.objects.exists()


def test_star_is_personal(staff_a: Any, colleague: Any, verified_channel: PatientChannel) -> None:
    client_for(staff_a).post(channel_url(verified_channel, "star/"))

    assert list(verified_channel.starred_by.all()) == [staff_a]
    assert "★" in client_for(staff_a).get("/inbox/").content.decode()
    assert "★" not in client_for(colleague).get("/inbox/").content.decode()

    client_for(staff_a).post(channel_url(verified_channel, "star/"))
    assert not verified_channel.starred_by.exists()
