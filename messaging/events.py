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
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class MessageStatusChanged:
    message_id: uuid.UUID
    change_id: int
    status: str
    error_code: str
    at: datetime.datetime


StatusChangeHandler = Callable[[MessageStatusChanged], None]
_handlers: list[StatusChangeHandler] = []


def on_message_status_changed(handler: StatusChangeHandler) -> StatusChangeHandler:
    """Register `handler` (usable as a decorator; registering twice has no effect)."""
    if handler not in _handlers:
        _handlers.append(handler)
    return handler


def message_status_changed_publish(event: MessageStatusChanged) -> None:
    """Called by the status service inside its transaction; nobody else calls this."""
    for handler in list(_handlers):
        handler(event)


def off_message_status_changed(handler: StatusChangeHandler) -> None:
    """Unregister `handler` (a no-op when it is not registered)."""
    if handler in _handlers:
        _handlers.remove(handler)
