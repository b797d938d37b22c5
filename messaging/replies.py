"""The inbox's replies: a staff member answers in a conversation (a feature that sends).

It sits above the send path (`messaging.send`) and uses the channel writes of
`channels_app.services` (read marks, the audit log); the inbox's views call it.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from artera.bodies import reply_text
from artera.errors import Conflict
from channels_app.models import AuditLog, PatientChannel
from channels_app.services import channel_answered, channel_read_mark
from practices.models import Line

from .models import Message
from .send import Staff, ToChannel, ToNumber, message_send

User = Any  # the auth user model


class ReplyCollision(Conflict):
    """Someone else replied after the composer last looked at the thread."""

    def __init__(self, *, other: Message) -> None:
        who = other.sender_user.get_full_name() or other.sender_user.get_username()  # type: ignore[union-attr]
        super().__init__(
            f"{who} replied while you were typing. Read their reply, then press Send again "
            "to send yours anyway.",
            code="reply_collision",
            field="body",
        )
        self.other = other


def channel_reply(
    *,
    channel: PatientChannel,
    user: User,
    body: str,
    secure: bool,
    seen_message_id: str = "",
    confirmed: bool = False,
    ip_address: str | None = None,
) -> Message:
    """A staff member's reply from the inbox, through the one send path.

    For a verified patient it goes as a secure message when `secure` is asked for, unless the
    text starts with `!!` (the prefix is removed and the text goes as plain SMS). Unverified
    patients only get plain SMS. Unless `confirmed`, a reply by another staff member newer than
    the message the composer last saw (`seen_message_id`) stops the send with `ReplyCollision`.
    Sending answers the patient: the conversation no longer needs action.
    """
    text, plain = reply_text(body)
    if plain:
        secure = False
    if not channel.is_verified:
        secure = False
    if not confirmed:
        other = _newer_staff_reply(channel=channel, user=user, seen_message_id=seen_message_id)
        if other is not None:
            raise ReplyCollision(other=other)
    with transaction.atomic():
        message = message_send(to=ToChannel(channel), sender=Staff(user), body=text, secure=secure)
        now = timezone.now()
        channel_answered(channel=channel)
        channel_read_mark(channel=channel, user=user, at=now)
        AuditLog.objects.create(
            user=user,
            action=AuditLog.Action.MESSAGE_SENT,
            channel_id=channel.pk,
            message_id=message.pk,
            ip_address=ip_address,
            at=now,
        )
    return message


def _newer_staff_reply(
    *, channel: PatientChannel, user: User, seen_message_id: str
) -> Message | None:
    replies = (
        Message.objects.filter(
            channel=channel,
            direction=Message.Direction.OUTBOUND,
            sender_kind=Message.SenderKind.STAFF,
            sender_user__isnull=False,
        )
        .exclude(sender_user_id=user.pk)
        .select_related("sender_user")
    )
    seen_at = None
    if seen_message_id:
        try:
            seen_at = (
                Message.objects.filter(channel=channel, pk=uuid.UUID(seen_message_id))
                .values_list("created_at", flat=True)
                .first()
            )
        except ValueError:
            seen_at = None
    if seen_at is not None:
        replies = replies.filter(created_at__gt=seen_at)
    elif seen_message_id:
        return None  # an unknown marker: do not guess
    return replies.order_by("-created_at").first()


def conversation_start_with_number(
    *, line: Line, user: User, number: str, body: str, ip_address: str | None = None
) -> Message:
    """A staff member texts any US number from `line` (one of their practice's lines; the
    caller checked), through the one send path: the number's conversation on that line (an
    unverified one when the number has none) gets the text as plain SMS. The send path's
    refusals (`invalid_phone`, `recipient_opted_out`, `line_inactive`, body rules) come back
    as they are, with nothing written."""
    text, _plain = reply_text(body)
    with transaction.atomic():
        message = message_send(
            to=ToNumber(line.practice, number, line=line), sender=Staff(user), body=text
        )
        now = timezone.now()
        channel_read_mark(channel=message.channel, user=user, at=now)
        AuditLog.objects.create(
            user=user,
            action=AuditLog.Action.MESSAGE_SENT,
            channel_id=message.channel_id,
            message_id=message.pk,
            ip_address=ip_address,
            at=now,
        )
    return message
