"""The thread page: messages with their delivery status, events, notes; tenancy; audit."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from channels_app.models import AuditLog, ChannelEvent, InternalNote, PatientChannel
from messaging.models import Message, MessageStatusChange, MpspPrompt
from tests.factories import MessageFactory
from tests.support import channel_url, client_for

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def test_thread_shows_messages_statuses_and_failure_reason(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    MessageFactory(
        channel=verified_channel,
        direction=Message.Direction.INBOUND,
        sender_kind=Message.SenderKind.PATIENT,
        body="Can I come Friday?",
    )
    failed = MessageFactory(
        channel=verified_channel, body="Friday at 9 works.", status="failed", error_code="landline"
    )
    MessageStatusChange.objects.create(
        message=failed, status="failed", error_code="landline", at=timezone.now()
    )

    content = client_for(staff_a).get(channel_url(verified_channel)).content.decode()

    assert "Can I come Friday?" in content
    assert "Friday at 9 works." in content
    assert "Failed" in content
    assert "Landline" in content
    assert "Delivery failed: Landline" in content
    assert 'id="composer"' in content
    assert "Quick responses" in content


def test_hostile_bodies_are_escaped(staff_a: Any, verified_channel: PatientChannel) -> None:
    MessageFactory(
        channel=verified_channel,
        direction=Message.Direction.INBOUND,
        sender_kind=Message.SenderKind.PATIENT,
        body=HOSTILE,
    )
    InternalNote.objects.create(channel=verified_channel, author=staff_a, body=HOSTILE + " @x")

    content = client_for(staff_a).get(channel_url(verified_channel)).content.decode()

    assert "<script>alert" not in content
    assert "<img src=x" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content


def test_events_notes_and_shared_phone_choice_are_in_the_thread(
    staff_a: Any, colleague: Any, verified_channel: PatientChannel
) -> None:
    held = MessageFactory(
        channel=verified_channel,
        direction=Message.Direction.INBOUND,
        sender_kind=Message.SenderKind.PATIENT,
        body="2",
    )
    MpspPrompt.objects.create(
        line=verified_channel.line,
        phone=verified_channel.phone.as_e164,
        status=MpspPrompt.Status.CHOSEN,
        options=[
            {"label": "Ana", "full_name": "Ana Lopez", "channel_id": str(verified_channel.pk)}
        ],
        held_message=held,
        chosen_channel=verified_channel,
        answer="2",
        resolved_at=timezone.now(),
    )
    ChannelEvent.objects.create(
        channel=verified_channel,
        practice=verified_channel.practice,
        kind="assigned",
        actor=staff_a,
        subject=colleague,
    )
    InternalNote.objects.create(
        channel=verified_channel, author=colleague, body="Called her @staff_a"
    )

    content = client_for(staff_a).get(channel_url(verified_channel)).content.decode()

    assert "assigned it to Dana Reyes" in content
    assert "answered “2” and chose Ana Lopez" in content
    assert f'<mark class="mention" title="@staff_a">@{staff_a.get_full_name()}</mark>' in content


@pytest.mark.parametrize(
    ("suffix", "method"),
    [
        ("", "get"),
        ("live/", "get"),
        ("presence/", "post"),
        ("send/", "post"),
        ("notes/", "post"),
        ("status/", "post"),
        ("assign/", "post"),
        ("star/", "post"),
        ("move/", "post"),
    ],
)
def test_another_practices_channel_is_404_everywhere(
    staff_b: Any, verified_channel: PatientChannel, suffix: str, method: str
) -> None:
    client = client_for(staff_b)
    data = {"body": "hi", "action": "close", "assignee": "me"}
    response = getattr(client, method)(channel_url(verified_channel, suffix), data)

    assert response.status_code == 404
    verified_channel.refresh_from_db()
    assert verified_channel.status == "open"
    assert verified_channel.assignee_id is None
    assert not Message.objects.filter(channel=verified_channel).exists()


@pytest.mark.parametrize("channel_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_unknown_channel_is_404(staff_a: Any, channel_id: str) -> None:
    assert client_for(staff_a).get(f"/inbox/channels/{channel_id}/").status_code == 404


def test_signed_out_is_sent_to_sign_in(verified_channel: PatientChannel) -> None:
    response = Client().get(channel_url(verified_channel))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_opening_a_thread_is_audited_and_marks_it_read(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    client_for(staff_a).get(channel_url(verified_channel), REMOTE_ADDR="10.1.2.3")

    row = AuditLog.objects.get()
    assert (row.user, row.action, row.channel_id, row.ip_address) == (
        staff_a,
        "channel_viewed",
        verified_channel.pk,
        "10.1.2.3",
    )


def test_forms_need_csrf(staff_a: Any, verified_channel: PatientChannel) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_a)
    for suffix in ("send/", "status/", "assign/", "star/", "notes/", "presence/", "move/"):
        response = client.post(channel_url(verified_channel, suffix), {"body": "x"})
        assert response.status_code == 403, suffix
    assert not Message.objects.exists()


def _fill(channel: PatientChannel, n: int, author: Any) -> None:
    for i in range(n):
        message = MessageFactory(channel=channel, body=f"Message {i}")
        MessageStatusChange.objects.create(message=message, status="received", at=timezone.now())
        InternalNote.objects.create(channel=channel, author=author, body=f"Note {i}")
        ChannelEvent.objects.create(
            channel=channel, practice=channel.practice, kind="closed", actor=author
        )


def test_thread_query_count_does_not_grow_with_messages(
    staff_a: Any, verified_channel: PatientChannel, django_assert_max_num_queries: Any
) -> None:
    client = client_for(staff_a)
    _fill(verified_channel, 2, staff_a)
    client.get(channel_url(verified_channel))  # first visit creates the read/presence rows
    with django_assert_max_num_queries(40) as few:
        assert client.get(channel_url(verified_channel)).status_code == 200
    _fill(verified_channel, 30, staff_a)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(channel_url(verified_channel)).status_code == 200
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(channel_url(verified_channel, "live/")).status_code == 200
