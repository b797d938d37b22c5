"""The inbox's live push, server side: what happened becomes an event on a channel-layer group.

Subscribes to the domain's hooks (`channels_app.events` for what staff and automations do to a
conversation, `messaging.events` for patients' texts and delivery statuses) and, after the
transaction commits, sends a small event to the group of the conversation's practice
(`live.practice.<id>`) or, for an @mention, to the group of the member (`live.user.<id>`).
`inbox.consumers.InboxConsumer` forwards each event to the sockets of the practice's members.

An event names ids only (the conversation, the practice, a staff member): no patient detail
ever goes through Redis or a socket. It is a nudge; the page then fetches the piece that
changed through the usual views, with their tenancy checks.

Publishing never holds the request (or the Celery task) that caused it: with the Redis layer
the events of one transaction are handed, in one batch, to a publisher thread with its own event
loop (persistent connections), and a batch that finds the queue full, or Redis down, is dropped
and logged. Polling (every few seconds while no socket is open) and the next event make up for
a lost one. With the in-process layer (zero setup, one process) the event is delivered on the
server's own loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import transaction

from channels_app import events as channel_events
from messaging import events as message_events
from messaging.models import Message

logger = logging.getLogger(__name__)

EVENT_TYPE = "live.event"  # the consumer's handler: `InboxConsumer.live_event`
MAX_PENDING_BATCHES = 500
SEND_DEADLINE_SECONDS = 2.0


def practice_group(practice_id: object) -> str:
    return f"live.practice.{practice_id}"


def user_group(user_id: object) -> str:
    return f"live.user.{user_id}"


# --- From domain hooks to a per-transaction batch -------------------------------------------------

_local = threading.local()


def _enqueue(entry: tuple[str, dict[str, Any]]) -> None:
    """Deliver `entry` once the current transaction commits (at once outside of one); the
    events of one transaction go out in one batch, duplicates removed."""
    if not settings.LIVE_PUSH_ENABLED:
        return
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        try:
            _deliver([entry])
        except Exception:
            logger.exception("live push: could not publish")
        return
    pending: list[tuple[str, dict[str, Any]]] | None = getattr(_local, "pending", None)
    if pending is not None and not any(e[1] is _flush for e in connection.run_on_commit):
        pending = None  # its transaction rolled back: those events never happened
    if pending is None:
        pending = []
        _local.pending = pending
        # robust: a failure here is logged by Django and never reaches the committed work.
        transaction.on_commit(_flush, robust=True)
    if entry not in pending:
        pending.append(entry)


def _add(group: str, practice_id: object, event: dict[str, Any], *, origin: str = "") -> None:
    message = {"type": EVENT_TYPE, "practice": str(practice_id), "origin": origin, "event": event}
    _enqueue((group, message))


def _flush() -> None:
    pending: list[tuple[str, dict[str, Any]]] = getattr(_local, "pending", None) or []
    _local.pending = None
    _deliver(pending)


def _deliver(pending: list[tuple[str, dict[str, Any]]]) -> None:
    status_ids = [i for g, m in pending if g == _STATUS_LOOKUP for i in m["event"]["messages"]]
    ready = [(g, m) for g, m in pending if g != _STATUS_LOOKUP]
    if status_ids:
        ready.extend(_status_events(status_ids))
    if ready:
        publish(ready)


# A status change knows its message only; the conversation is looked up once per transaction,
# after it committed (one query for all of the batch's messages).
_STATUS_LOOKUP = "status-lookup"


def _status_events(message_ids: list[str]) -> Iterable[tuple[str, dict[str, Any]]]:
    rows = (
        Message.objects.filter(pk__in=message_ids)
        .values_list("channel_id", "channel__practice_id")
        .distinct()
    )
    for channel_id, practice_id in rows:
        yield (
            practice_group(practice_id),
            {
                "type": EVENT_TYPE,
                "practice": str(practice_id),
                "origin": "",
                "event": {"type": "status", "channel": str(channel_id)},
            },
        )


@channel_events.on_channel_changed
def _on_channel_changed(change: channel_events.ChannelChanged) -> None:
    channel_id = str(change.channel_id)
    if change.kind == "presence":
        event: dict[str, Any] = {"type": "presence", "channel": channel_id}
    else:
        event = {
            "type": "channel",
            "what": change.kind,
            "channel": channel_id,
            "assignee": change.assignee_id,
            "actor": change.actor_id,
        }
    _add(practice_group(change.practice_id), change.practice_id, event)
    for user_id in change.mentioned_ids:
        _add(
            user_group(user_id),
            change.practice_id,
            {"type": "mention", "channel": channel_id},
        )


@message_events.on_inbound_message
def _on_inbound(received: message_events.InboundMessageReceived) -> None:
    channel = received.channel
    first = (
        not Message.objects.filter(
            channel_id=channel.pk, created_at__lt=received.message.created_at
        )
        .exclude(pk=received.message.pk)
        .exists()
    )
    _add(
        practice_group(channel.practice_id),
        channel.practice_id,
        {
            "type": "message",
            "direction": "inbound",
            "channel": str(channel.pk),
            "assignee": channel.assignee_id,
            "new": first,
        },
    )


@message_events.on_message_status_changes
def _on_statuses(changes: Sequence[message_events.MessageStatusChanged]) -> None:
    # One entry for the whole batch (the dispatcher records `sent` for many texts at once).
    ids = sorted({str(change.message_id) for change in changes})
    _enqueue((_STATUS_LOOKUP, {"event": {"messages": ids}}))


# --- Typing: from one socket to the practice's other sockets ------------------------------------


async def typing_publish(
    *, practice_id: uuid.UUID, channel_id: uuid.UUID, user_id: int, name: str, origin: str
) -> None:
    """Called by the consumer (on its own loop) once it checked the channel is the user's."""
    layer = get_channel_layer()
    if layer is None:
        return
    await layer.group_send(
        practice_group(practice_id),
        {
            "type": EVENT_TYPE,
            "practice": str(practice_id),
            "origin": origin,
            "event": {
                "type": "typing",
                "channel": str(channel_id),
                "user": user_id,
                "name": name,
            },
        },
    )


# --- Publishing ---------------------------------------------------------------------------------


def publish(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Send `(group, message)` pairs to the channel layer without waiting for it."""
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer):
        _publish_in_process(layer, messages)
    else:
        _publisher.submit(layer, messages)


def _publish_in_process(
    layer: BaseChannelLayer, messages: list[tuple[str, dict[str, Any]]]
) -> None:
    # The in-process layer's queues belong to the server's event loop: a sync view runs in a
    # thread of that loop, and `async_to_sync` hands the coroutine to it. (Under a WSGI server
    # there is no loop and nobody listening: the sockets are another process's.)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return  # called from async code: no sync view, so no server loop to hand it to
    try:
        async_to_sync(_send_all)(layer, messages)
    except Exception:
        logger.exception("live push: in-process publish failed")


async def _send_all(layer: BaseChannelLayer, messages: list[tuple[str, dict[str, Any]]]) -> None:
    for group, message in messages:
        await layer.group_send(group, message)


class _Publisher:
    """One daemon thread per process running an event loop for the Redis layer's connections;
    started on first use (so after a pre-forking server or Celery forked its children)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None
        self._pending = 0
        self.dropped = 0

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        import os

        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="artera-live-publisher", daemon=True
                )
                thread.start()
                self._loop, self._pid, self._pending = loop, os.getpid(), 0
            return self._loop

    def submit(self, layer: BaseChannelLayer, messages: list[tuple[str, dict[str, Any]]]) -> None:
        loop = self._ensure_loop()
        with self._lock:
            if self._pending >= MAX_PENDING_BATCHES:
                self.dropped += 1
                logger.warning("live push: %s batches pending, dropping one", self._pending)
                return
            self._pending += 1
        future = asyncio.run_coroutine_threadsafe(self._send(layer, messages), loop)
        future.add_done_callback(self._done)

    async def _send(
        self, layer: BaseChannelLayer, messages: list[tuple[str, dict[str, Any]]]
    ) -> None:
        await asyncio.wait_for(_send_all(layer, messages), SEND_DEADLINE_SECONDS)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending -= 1
        error = future.exception()
        if error is not None:
            self.dropped += 1
            logger.warning("live push: publish failed (%s: %s)", type(error).__name__, error)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """For tests: wait until every submitted batch was sent (or failed)."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._pending == 0:
                    return True
            time.sleep(0.01)
        return False


_publisher = _Publisher()


def publisher_wait_idle(timeout: float = 5.0) -> bool:
    return _publisher.wait_idle(timeout)
