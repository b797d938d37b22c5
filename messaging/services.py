"""The public names of the send and inbound paths, for code outside `messaging`.

The paths themselves live in layers, each importing only downward (docs/architecture.md):

- core: `messaging.send` (`message_send`), `messaging.dispatch` (the worker's side and the
  outbox sweep), `messaging.status` (the one writer of statuses);
- features that send: `messaging.keywords`, `messaging.routing`, `messaging.automations`,
  `messaging.secure` (the portal), and the APIs and the inbox outside `messaging`;
- the orchestrator: `messaging.inbound` (the one inbound path).

Other apps import from here, so they need not learn the layout; code inside `messaging` imports
from the real module. Nothing inside `messaging` imports this module.
"""

from __future__ import annotations

from artera.bodies import MAX_BODY_LENGTH

from .dispatch import LineDispatch, line_dispatch, message_sms_text, outbox_sweep
from .inbound import INBOUND_MAX_LENGTH, message_receive_inbound, message_receive_secure_reply
from .links import short_link_follow
from .schedule import message_cancel, messages_cancel_for_opt_out, scheduled_release
from .send import (
    Api,
    Automation,
    CallToText,
    Recipient,
    Sender,
    Smapi,
    Staff,
    ToChannel,
    ToNumber,
    message_send,
)
from .status import message_status_apply, message_status_report

__all__ = [
    "INBOUND_MAX_LENGTH",
    "MAX_BODY_LENGTH",
    "Api",
    "Automation",
    "CallToText",
    "LineDispatch",
    "Recipient",
    "Sender",
    "Smapi",
    "Staff",
    "ToChannel",
    "ToNumber",
    "line_dispatch",
    "message_cancel",
    "message_receive_inbound",
    "message_receive_secure_reply",
    "message_send",
    "message_sms_text",
    "message_status_apply",
    "message_status_report",
    "messages_cancel_for_opt_out",
    "outbox_sweep",
    "scheduled_release",
    "short_link_follow",
]
