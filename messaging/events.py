"""The one place a message's status change is published.

`messaging.services.message_status_apply` is the only writer of statuses. When it moves a
message forward it writes a `MessageStatusChange` row and, in the same transaction, calls every
handler registered here, once per change (an implied `sent` step included). So:

- the committed history row is the durable event: a change that was rolled back was never
  published, and one that committed was published exactly once;
- a handler that delivers the event elsewhere (the `message.status` webhook) should store its
  own outbox row right here, inside the transaction, and enqueue work with
  `transaction.on_commit`, never do I/O directly;
- an exception in a handler rolls the status change back with it, so handlers must be simple.

The initial `received` row written by the send path is a starting point, not a change, and is
not published.

Patients' texts have their own hook, `on_inbound_message` (below).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from channels_app.models import PatientChannel

    from .models import Message


@dataclass(frozen=True)
class MessageStatusChanged:
    message_id: uuid.UUID
    change_id: int
    status: str
    error_code: str
    at: datetime.datetime


StatusChangeHandler = Callable[[MessageStatusChanged], None]
StatusChangesHandler = Callable[[Sequence[MessageStatusChanged]], None]
_handlers: list[StatusChangeHandler] = []
_batch_handlers: list[StatusChangesHandler] = []


def on_message_status_changed(handler: StatusChangeHandler) -> StatusChangeHandler:
    """Register `handler` (usable as a decorator; registering twice has no effect)."""
    if handler not in _handlers:
        _handlers.append(handler)
    return handler


def on_message_status_changes(handler: StatusChangesHandler) -> StatusChangesHandler:
    """Register `handler` for whole batches of changes, as the status service writes them (the
    dispatcher records `sent` for many messages at once; a provider's reports come in batches):
    a handler that stores an outbox row per change writes them all in one statement."""
    if handler not in _batch_handlers:
        _batch_handlers.append(handler)
    return handler


def off_message_status_changes(handler: StatusChangesHandler) -> None:
    if handler in _batch_handlers:
        _batch_handlers.remove(handler)


def message_status_changed_publish(events: Sequence[MessageStatusChanged]) -> None:
    """Called by the status service inside its transaction, with every change it wrote in it;
    nobody else calls this."""
    if not events:
        return
    for batch_handler in list(_batch_handlers):
        batch_handler(events)
    for handler in list(_handlers):
        for event in events:
            handler(event)


def off_message_status_changed(handler: StatusChangeHandler) -> None:
    """Unregister `handler` (a no-op when it is not registered)."""
    if handler in _handlers:
        _handlers.remove(handler)


# --- Inbound texts ------------------------------------------------------------------------------
#
# `messaging.services.message_receive_inbound` is the one inbound path. Once a patient's text has
# landed in its final conversation (after the shared-phone prompt, when there was one), it calls
# every handler registered with `on_inbound_message` inside the inbound transaction, once per
# text. The same rules as for status changes hold: the committed Message row is the durable
# event, a handler that delivers it elsewhere (the `patient.response` webhook) stores its own
# outbox row here and enqueues with `transaction.on_commit`, and an exception in a handler rolls
# the inbound text back with it (the provider then retries it).
#
# Published: each text that joins a conversation. A text held for the shared-phone prompt is
# published when the patient's answer (or the fallback) routes it, with the channel it was routed
# to. Not published: STOP/START/HELP keyword texts, answers to the prompt, and provider retries
# of a text already received.


@dataclass(frozen=True)
class InboundMessageReceived:
    message: Message
    channel: PatientChannel


InboundMessageHandler = Callable[[InboundMessageReceived], None]
_inbound_handlers: list[InboundMessageHandler] = []


def on_inbound_message(handler: InboundMessageHandler) -> InboundMessageHandler:
    """Register `handler` for patients' texts (usable as a decorator; registering twice has no
    effect)."""
    if handler not in _inbound_handlers:
        _inbound_handlers.append(handler)
    return handler


def inbound_message_publish(event: InboundMessageReceived) -> None:
    """Called by the inbound path inside its transaction; nobody else calls this."""
    for handler in list(_inbound_handlers):
        handler(event)


def off_inbound_message(handler: InboundMessageHandler) -> None:
    """Unregister `handler` (a no-op when it is not registered)."""
    if handler in _inbound_handlers:
        _inbound_handlers.remove(handler)
