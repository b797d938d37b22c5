"""The status state machine: forward only, duplicates are no-ops, each change published once."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from django.db import connection, connections, transaction

from messaging.events import (
    MessageStatusChanged,
    off_message_status_changed,
    on_message_status_changed,
)
from messaging.models import Message, MessageStatus, MessageStatusChange
from messaging.services import message_status_apply, message_status_report
from practices.models import Line
from tests.factories import MessageFactory
from tests.support import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def published() -> Iterator[list[MessageStatusChanged]]:
    events: list[MessageStatusChanged] = []
    on_message_status_changed(events.append)
    yield events
    off_message_status_changed(events.append)


@pytest.fixture
def stored(line: Line) -> Message:
    """An outbound message as the send path stores it (the state machine is driven by hand)."""
    message = MessageFactory(channel__line=line, status=MessageStatus.RECEIVED)
    MessageStatusChange.objects.create(message=message, status="received", at=message.created_at)
    return message


def steps(message: Message) -> list[tuple[str, str]]:
    return list(
        MessageStatusChange.objects.filter(message=message)
        .order_by("at", "id")
        .values_list("status", "error_code")
    )


def apply(message: Message, status: str, error_code: str = "") -> bool:
    return message_status_apply(message_id=message.pk, status=status, error_code=error_code)


def test_the_normal_path(stored: Message, published: list[MessageStatusChanged]) -> None:
    assert apply(stored, "sent")
    assert apply(stored, "delivered")
    stored.refresh_from_db()
    assert stored.status == "delivered"
    assert steps(stored) == [("received", ""), ("sent", ""), ("delivered", "")]
    assert [(e.status, e.message_id) for e in published] == [
        ("sent", stored.pk),
        ("delivered", stored.pk),
    ]


def test_delivered_then_sent_stays_delivered(
    stored: Message, published: list[MessageStatusChanged]
) -> None:
    assert apply(stored, "sent")
    assert apply(stored, "delivered")
    assert not apply(stored, "sent")
    stored.refresh_from_db()
    assert stored.status == "delivered"
    assert len(published) == 2


def test_duplicate_callback_is_a_no_op(
    stored: Message, published: list[MessageStatusChanged]
) -> None:
    apply(stored, "sent")
    assert apply(stored, "undelivered", "unreachable")
    before = steps(stored)
    assert not apply(stored, "undelivered", "unreachable")
    assert not apply(stored, "delivered")  # another final status after a final one
    stored.refresh_from_db()
    assert (stored.status, stored.error_code) == ("undelivered", "unreachable")
    assert steps(stored) == before
    assert [e.status for e in published] == ["sent", "undelivered"]


def test_delivered_before_sent_records_the_implied_sent_step(
    stored: Message, published: list[MessageStatusChanged]
) -> None:
    """The carrier's callback beat our own record of the provider's answer."""
    assert apply(stored, "delivered")
    assert not apply(stored, "sent")
    assert steps(stored) == [("received", ""), ("sent", ""), ("delivered", "")]
    assert [e.status for e in published] == ["sent", "delivered"]
    assert len({e.change_id for e in published}) == 2


def test_failed_straight_from_received(stored: Message) -> None:
    assert apply(stored, "failed", "invalid_number")
    assert steps(stored) == [("received", ""), ("failed", "invalid_number")]


def test_failed_without_a_reason_is_a_provider_error(stored: Message) -> None:
    apply(stored, "failed")
    stored.refresh_from_db()
    assert stored.error_code == "provider_error"


def test_scheduled_is_not_a_target_and_received_only_follows_it(stored: Message) -> None:
    with pytest.raises(ValueError, match="scheduled"):
        apply(stored, "scheduled")
    assert not message_status_apply(message_id=stored.pk, status="received")
    assert not message_status_apply(message_id=stored.pk, status="canceled")
    stored.refresh_from_db()
    assert stored.status == "received"


def test_provider_id_is_kept_when_the_status_does_not_move(stored: Message) -> None:
    apply(stored, "delivered")
    assert not message_status_apply(
        message_id=stored.pk, status="sent", provider_message_id="SM123"
    )
    stored.refresh_from_db()
    assert stored.provider_message_id == "SM123"
    # ...and a later id never replaces it.
    message_status_apply(message_id=stored.pk, status="sent", provider_message_id="SM999")
    stored.refresh_from_db()
    assert stored.provider_message_id == "SM123"


def test_report_finds_the_message_by_provider_id(stored: Message) -> None:
    message_status_apply(message_id=stored.pk, status="sent", provider_message_id="SMabc")
    assert message_status_report(provider_message_id="SMabc", status="delivered")
    assert not message_status_report(provider_message_id="SMunknown", status="delivered")
    assert not message_status_report(provider_message_id="SMabc", status=None)
    stored.refresh_from_db()
    assert stored.status == "delivered"


def test_inbound_messages_have_no_outbound_statuses(stored: Message) -> None:
    Message.objects.filter(pk=stored.pk).update(direction="inbound", sender_kind="patient")
    assert not apply(stored, "sent")


def test_a_failing_subscriber_rolls_the_change_back(stored: Message) -> None:
    """Published once means: the history row and every subscriber's work commit together."""

    def broken(event: MessageStatusChanged) -> None:
        raise RuntimeError("webhook outbox is down")

    on_message_status_changed(broken)
    try:
        with pytest.raises(RuntimeError):
            apply(stored, "sent")
    finally:
        off_message_status_changed(broken)
    stored.refresh_from_db()
    assert stored.status == MessageStatus.RECEIVED
    assert steps(stored) == [("received", "")]
    assert apply(stored, "sent")


def test_subscribers_run_inside_the_status_transaction(stored: Message) -> None:
    seen: list[bool] = []

    def handler(event: MessageStatusChanged) -> None:
        seen.append(transaction.get_connection().in_atomic_block)

    on_message_status_changed(handler)
    try:
        apply(stored, "sent")
    finally:
        off_message_status_changed(handler)
    assert seen == [True]


def test_a_callback_racing_the_workers_record_of_sent(stored: Message) -> None:
    """PostgreSQL row locks: the delivery callback arrives while the worker's `sent` is not yet
    committed. It waits for it, then applies on top of it, instead of being lost."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://…")
    holding, release = threading.Event(), threading.Event()
    outcome: dict[str, bool] = {}

    def worker_records_sent() -> None:
        try:
            with transaction.atomic():
                message_status_apply(
                    message_id=stored.pk, status="sent", provider_message_id="SMrace"
                )
                holding.set()
                release.wait(30)
        finally:
            connections.close_all()

    def provider_reports_delivered() -> None:
        try:
            outcome["moved"] = message_status_report(
                provider_message_id="SMrace", message_id=str(stored.pk), status="delivered"
            )
        finally:
            connections.close_all()

    worker = threading.Thread(target=worker_records_sent)
    worker.start()
    assert holding.wait(30)
    callback = threading.Thread(target=provider_reports_delivered)
    callback.start()

    def callback_is_waiting_for_the_row() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return bool(cursor.fetchone()[0])

    wait_until(callback_is_waiting_for_the_row, timeout=30, what="the callback to wait")
    release.set()
    worker.join(30)
    callback.join(30)
    assert outcome == {"moved": True}
    stored.refresh_from_db()
    assert (stored.status, stored.provider_message_id) == ("delivered", "SMrace")
    assert steps(stored) == [("received", ""), ("sent", ""), ("delivered", "")]
