"""What happens to a conversation, for whoever wants to know at once (the inbox's live push).

`channels_app.services` calls `channel_changed_publish` inside its transaction after each change
staff (or an automation) make to a channel: a status change, an assignment, a note, someone
opening or leaving the thread, an outbound message moving it up. A patient's text is published
by `messaging.events.on_inbound_message`, a delivery status by
`messaging.events.on_message_status_changed`; this module does not repeat them.

The same rules as in `messaging.events` hold: handlers run inside the transaction, must be cheap
and do no I/O themselves (enqueue with `transaction.on_commit`), and an exception in one rolls
the change back. The event names ids only, never a patient's details: it is a nudge for a page
that then asks the server, through the usual tenancy checks, what changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChannelChanged:
    channel_id: uuid.UUID
    practice_id: uuid.UUID
    # "status", "assigned", "note", "presence", "outbound", "automation"
    kind: str
    actor_id: int | None = None
    assignee_id: int | None = None
    # Members notified by the change (an @mention in a note).
    mentioned_ids: tuple[int, ...] = field(default_factory=tuple)


ChannelChangedHandler = Callable[[ChannelChanged], None]
_handlers: list[ChannelChangedHandler] = []


def on_channel_changed(handler: ChannelChangedHandler) -> ChannelChangedHandler:
    """Register `handler` (usable as a decorator; registering twice has no effect)."""
    if handler not in _handlers:
        _handlers.append(handler)
    return handler


def off_channel_changed(handler: ChannelChangedHandler) -> None:
    """Unregister `handler` (a no-op when it is not registered)."""
    if handler in _handlers:
        _handlers.remove(handler)


def channel_changed_publish(event: ChannelChanged) -> None:
    """Called by `channels_app.services` inside its transaction; nobody else calls this."""
    for handler in list(_handlers):
        handler(event)
