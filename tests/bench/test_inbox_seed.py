"""`bench.inbox.inbox_seed` leaves the rows the product's write paths would have left, and the
inbox pages cost the same queries on them as on a handful of factory-made conversations.

PostgreSQL only (the seed loads by COPY). A tiny seed: the point is the rows' shape, not size.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count, Max, Min, Q

from bench.inbox import BULK_TABLES, LINE_NUMBER, STAFF_USERNAME, inbox_query_counts, inbox_seed
from channels_app.models import (
    ChannelEvent,
    ChannelRead,
    InternalNote,
    Notification,
    PatientChannel,
    PatientPhone,
)
from messaging.models import Message, MessageStatus, MessageStatusChange, SecureLink
from practices.models import Line, Membership, Practice
from tests.factories import (
    MessageFactory,
    PatientChannelFactory,
    PatientFactory,
    PatientPhoneFactory,
)

CHANNELS, MESSAGES = 50, 500


@pytest.fixture
def postgresql(db: None) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (COPY): set DATABASE_URL=postgres://…")


@pytest.fixture
def seeded(postgresql: None) -> dict[str, Any]:
    return inbox_seed(channels=CHANNELS, messages=MESSAGES, password="bench-test-password")


def _same_when_recreated(definition: str) -> str:
    """A definition without its casts, brackets and spaces: PostgreSQL prints an `IN (…)` of a
    partial index as `= ANY (ARRAY[…::varchar::text])` when Django made it and with the casts
    elsewhere once that printed form is run again; the index is the same."""
    return re.sub(r"::[a-z ]+|[\s()\[\]]", "", definition)


def _schema() -> set[tuple[str, ...]]:
    """The tables' constraints and indexes, as the catalog defines them."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
              FROM pg_constraint WHERE conrelid = ANY(%(tables)s::regclass[])
            UNION ALL
            SELECT tablename, indexname, indexdef
              FROM pg_indexes WHERE tablename = ANY(%(tables)s)
            """,
            {"tables": list(BULK_TABLES)},
        )
        return {(table, name, _same_when_recreated(sql)) for table, name, sql in cursor.fetchall()}


def test_the_seed_puts_back_every_constraint_and_index(postgresql: None) -> None:
    before = _schema()

    inbox_seed(channels=CHANNELS, messages=MESSAGES, password="bench-test-password")

    assert _schema() == before


def test_the_seed_makes_the_rows_it_says(seeded: dict[str, Any]) -> None:
    practice = Practice.objects.get(pk=seeded["practice_id"])
    channels = PatientChannel.objects.filter(practice=practice)

    assert channels.count() == seeded["channel_count"] == CHANNELS
    assert Message.objects.filter(practice=practice).count() == seeded["message_count"] == MESSAGES
    assert channels.filter(status="open").count() == seeded["open_count"]
    line = Line.objects.get(practice=practice)
    assert (line.is_default, line.is_active, line.phone_number) == (True, True, LINE_NUMBER)
    membership = Membership.objects.get(user__username=STAFF_USERNAME)
    assert (membership.practice, membership.role) == (practice, Membership.Role.STAFF)
    assert membership.user.check_password("bench-test-password")
    busy = PatientChannel.objects.get(pk=seeded["thread_path"].split("/")[3])
    assert busy.messages.count() == seeded["thread_messages"] > 200
    assert busy.patient is not None
    assert busy.patient.is_verified
    assert channels.filter(patient__last_name=seeded["search_q"]).exists()


def test_each_channel_agrees_with_its_messages(seeded: dict[str, Any]) -> None:
    channels = PatientChannel.objects.filter(practice_id=seeded["practice_id"]).annotate(
        last_at=Max("messages__created_at"),
        first_at=Min("messages__created_at"),
        messages_count=Count("messages"),
    )
    for channel in channels.select_related("patient", "line"):
        last = channel.messages.order_by("-created_at").first()
        assert last is not None
        assert channel.last_activity_at == channel.last_at == last.created_at
        assert channel.created_at <= channel.first_at
        # A patient's text opens the conversation and asks for action; a reply or closing it
        # clears that.
        assert channel.needs_action == (
            channel.status == "open" and last.direction == Message.Direction.INBOUND
        )
        assert channel.line.practice_id == channel.practice_id
        if channel.patient is not None:
            assert channel.known_patient is None
            assert PatientPhone.objects.filter(
                patient=channel.patient, number=channel.phone, is_primary=True
            ).exists()
            assert channel.patient.is_verified == bool(channel.patient.mrn)
        elif channel.known_patient is not None:
            assert PatientPhone.objects.filter(
                patient=channel.known_patient, number=channel.phone
            ).exists()
        if channel.status == "closed":
            assert ChannelEvent.objects.filter(
                channel=channel, kind="closed", created_at__gte=channel.last_activity_at
            ).exists()
        if channel.assignee_id is not None:
            assert ChannelEvent.objects.filter(
                channel=channel, kind="assigned", subject_id=channel.assignee_id
            ).exists()
            assert Membership.objects.filter(
                user_id=channel.assignee_id, practice_id=channel.practice_id
            ).exists()


def test_messages_are_what_the_send_and_inbound_paths_store(seeded: dict[str, Any]) -> None:
    messages = Message.objects.filter(practice_id=seeded["practice_id"]).select_related("channel")
    final = {MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED}
    for message in messages:
        channel = message.channel
        assert (message.line_id, message.patient_id) == (channel.line_id, channel.patient_id)
        assert isinstance(message.metadata, dict)
        assert message.segments >= 1
        assert message.status_changed_at is not None
        assert message.status_changed_at >= message.created_at
        history = list(message.status_history.order_by("at", "id"))
        if message.direction == Message.Direction.INBOUND:
            assert message.sender_kind == Message.SenderKind.PATIENT
            assert message.status == MessageStatus.RECEIVED
            assert (message.from_number, message.to_number) == (channel.phone, LINE_NUMBER)
            assert not message.is_secure
            assert message.provider_message_id
            assert history == []
            continue
        assert (message.from_number, message.to_number) == (LINE_NUMBER, channel.phone)
        assert message.status in final | {MessageStatus.SENT}
        assert bool(message.error_code) == (message.status in final - {MessageStatus.DELIVERED})
        assert history[0].status == MessageStatus.RECEIVED
        assert history[-1].status == message.status
        assert history[-1].at == message.status_changed_at
        # A provider id means the provider took it: then the history has `sent`.
        assert (MessageStatus.SENT in [c.status for c in history]) == bool(
            message.provider_message_id
        )
        if message.sender_kind == Message.SenderKind.STAFF:
            assert message.sender_user_id is not None
        if message.is_secure:
            assert channel.patient is not None
            assert channel.patient.is_verified
            assert SecureLink.objects.filter(message=message, patient=channel.patient).exists()
    assert not MessageStatusChange.objects.filter(
        message__practice_id=seeded["practice_id"], message__direction="inbound"
    ).exists()


def test_only_each_channels_newest_secure_link_is_current(seeded: dict[str, Any]) -> None:
    links = SecureLink.objects.filter(channel__practice_id=seeded["practice_id"])
    for channel_id in links.values_list("channel_id", flat=True).distinct():
        current = links.filter(channel_id=channel_id, superseded_at__isnull=True)
        newest = links.filter(channel_id=channel_id).order_by("-created_at").first()
        assert list(current) == [newest]


def test_read_marks_stars_and_mentions_belong_to_the_staff_member(
    seeded: dict[str, Any],
) -> None:
    reads = ChannelRead.objects.filter(user__username=STAFF_USERNAME)
    assert reads.exists()
    # Replying marks the thread read: a read mark is never older than the member's own reply.
    for read in reads:
        own = Message.objects.filter(
            channel_id=read.channel_id, sender_user__username=STAFF_USERNAME
        ).aggregate(at=Max("created_at"))["at"]
        assert own is None or read.read_at >= own
    assert PatientChannel.objects.filter(starred_by__username=STAFF_USERNAME).exists()
    mentions = Notification.objects.filter(user__username=STAFF_USERNAME)
    assert mentions.filter(read_at__isnull=True).exists()
    for mention in mentions.select_related("note"):
        assert f"@{STAFF_USERNAME}" in mention.note.body
        assert mention.channel_id == mention.note.channel_id
    assert InternalNote.objects.filter(channel__practice_id=seeded["practice_id"]).exists()
    unread = PatientChannel.objects.filter(
        Q(practice_id=seeded["practice_id"]), ~Q(pk__in=reads.values("channel_id"))
    )
    assert unread.exists()  # threads the member never opened


def test_pages_cost_the_same_queries_as_on_a_small_inbox(
    seeded: dict[str, Any], staff_a: Any, practice_a: Practice
) -> None:
    patient = PatientFactory(enterprise=practice_a.enterprise, last_name=seeded["search_q"])
    phone = PatientPhoneFactory(patient=patient)
    channel = PatientChannelFactory(
        line=practice_a.lines.get(), patient=patient, phone=phone.number
    )
    MessageFactory(channel=channel)
    MessageFactory(
        channel=channel,
        direction=Message.Direction.INBOUND,
        sender_kind=Message.SenderKind.PATIENT,
        body="Thanks!",
    )
    PatientChannelFactory(line=practice_a.lines.get())
    small = {
        "username": staff_a.username,
        "thread_path": f"/inbox/channels/{channel.pk}/",
        "search_q": seeded["search_q"],
    }

    at_scale = inbox_query_counts(seeded)

    assert at_scale == inbox_query_counts(small)
    assert set(at_scale) >= {"inbox", "inbox?status=all", "thread", "inbox_live_unchanged"}
