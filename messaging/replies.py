"""The inbox's replies: a staff member answers in a conversation (a feature that sends).

It sits above the send path (`messaging.send`) and uses the channel writes of
`channels_app.services` (read marks, the audit log); the inbox's views call it.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from artera.bodies import reply_text
from artera.errors import Conflict, NotFound
from channels_app.models import AuditLog, PatientChannel
from channels_app.services import channel_answered, channel_read_mark
from practices.hours import practice_next_opening
from practices.models import Line, Practice

from .models import Message
from .schedule import message_cancel
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
    send_at: datetime.datetime | None = None,
) -> Message:
    """A staff member's reply from the inbox, through the one send path.

    With `send_at` ("Send later", see `send_later_choices`) it is stored as `scheduled` and
    goes then; `channel_scheduled_cancel` takes it back while it waits.

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
        message = message_send(
            to=ToChannel(channel), sender=Staff(user), body=text, secure=secure, send_at=send_at
        )
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


def send_later_choices(
    *, practice: Practice, now: datetime.datetime
) -> list[tuple[str, datetime.datetime]]:
    """The composer's quick "Send later" choices, in the practice's time zone: tomorrow at 8:00
    and the practice's next opening (when it keeps hours and that is another moment)."""
    local = now.astimezone(practice.tz)
    tomorrow = datetime.datetime.combine(
        local.date() + datetime.timedelta(days=1), datetime.time(8, 0), tzinfo=practice.tz
    )
    choices = [("Tomorrow 8:00", tomorrow)]
    opening = practice_next_opening(practice=practice, after=now)
    if opening is not None and opening != tomorrow:
        choices.append((f"Next opening ({opening:%a %-d %b %H:%M})", opening))
    return choices


def channel_scheduled_cancel(*, channel: PatientChannel, message_id: uuid.UUID | str) -> Message:
    """Cancel a scheduled text of this conversation (the thread's cancel button): 404 for a
    message of another conversation, 409 `not_scheduled` once it went."""
    try:
        pk = uuid.UUID(str(message_id))
    except ValueError:
        pk = None
    message = (
        channel.messages.filter(pk=pk, direction=Message.Direction.OUTBOUND).first()
        if pk is not None
        else None
    )
    if message is None:
        raise NotFound("No such message in this conversation.", code="not_found")
    return message_cancel(message=message)
