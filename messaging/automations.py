"""What happens automatically after a patient's text lands in its conversation.

1. The after-hours auto-response: when the practice is closed at that instant (weekly hours in
   its timezone, holidays at enterprise, practice or line level: `practices.hours`), the
   holiday's own message or the practice's after-hours message, in the patient's language when
   known and translated; at most once per channel per `AFTER_HOURS_INTERVAL`.
2. The practice's inbound automations (`InboundAutomation`), in order: reply, assign, close.
   An automation's reply goes to one channel at most once per `AUTOMATION_REPLY_INTERVAL`, so
   an auto-responder on the other end cannot pull it into an endless exchange.

Every text goes out through the send path's door for automated texts (`automated_send`); a send
the path refuses (the number opted out, the line is off) is skipped, not an error.
"""

from __future__ import annotations

import datetime
import re

from channels_app.models import PatientChannel
from channels_app.services import channel_assign_automatically, channel_close_automatically
from practices.hours import closed_message_for, practice_is_open

from .models import AfterHoursReply, AutomationReply, InboundAutomation, Message
from .send import Automation, ToChannel, automated_send

AFTER_HOURS_INTERVAL = datetime.timedelta(hours=12)
AUTOMATION_REPLY_INTERVAL = datetime.timedelta(hours=1)


def inbound_automations_run(
    *, message: Message, channel: PatientChannel, at: datetime.datetime
) -> None:
    """Run 1 and 2 of the module docstring for `message`, which has landed in `channel`."""
    after_hours_reply(channel=channel, at=at)
    automations = list(
        InboundAutomation.objects.filter(practice_id=channel.practice_id, is_active=True)
        .select_related("assign_to")
        .order_by("position", "id")
    )
    if not automations:
        return
    open_now: bool | None = None
    for automation in automations:
        if automation.condition == InboundAutomation.Condition.OUTSIDE_HOURS and open_now is None:
            open_now = practice_is_open(practice=channel.practice, at=at, line=channel.line)
        if not _condition_holds(automation, message=message, channel=channel, open_now=open_now):
            continue
        if automation.reply.strip():
            _automation_reply(automation=automation, channel=channel, at=at)
        if automation.assign_to is not None:
            channel_assign_automatically(channel=channel, user=automation.assign_to)
        if automation.close_channel:
            channel_close_automatically(channel=channel)


def _automation_reply(
    *, automation: InboundAutomation, channel: PatientChannel, at: datetime.datetime
) -> None:
    if AutomationReply.objects.filter(
        automation=automation, channel=channel, sent_at__gt=at - AUTOMATION_REPLY_INTERVAL
    ).exists():
        return
    message = _send(
        channel=channel,
        body=automation.reply,
        kind=Message.Kind.AUTO_REPLY,
        why=f"automation {automation.pk}",
    )
    if message is not None:
        AutomationReply.objects.create(
            automation=automation, channel=channel, message=message, sent_at=at
        )


def _condition_holds(
    automation: InboundAutomation,
    *,
    message: Message,
    channel: PatientChannel,
    open_now: bool | None,
) -> bool:
    condition = automation.condition
    if condition == InboundAutomation.Condition.ANY_TEXT:
        return True
    if condition == InboundAutomation.Condition.ONE_WAY:
        return bool(channel.practice.is_one_way)
    if condition == InboundAutomation.Condition.OUTSIDE_HOURS:
        return open_now is False
    if condition == InboundAutomation.Condition.KEYWORDS:
        return any(
            re.search(rf"(?<!\w){re.escape(word)}(?!\w)", message.body, flags=re.IGNORECASE)
            for word in automation.keyword_list()
        )
    return False


def after_hours_reply(*, channel: PatientChannel, at: datetime.datetime) -> Message | None:
    """Send the after-hours auto-response to `channel` when the practice is closed at `at` and
    the channel has had none in the last 12 hours; returns it (None when nothing was sent)."""
    patient = channel.patient or channel.known_patient
    language = patient.preferred_language if patient is not None else "en"
    text = closed_message_for(
        practice=channel.practice, at=at, line=channel.line, language=language
    )
    if not text:
        return None
    if AfterHoursReply.objects.filter(
        channel=channel, sent_at__gt=at - AFTER_HOURS_INTERVAL
    ).exists():
        return None
    message = _send(channel=channel, body=text, kind=Message.Kind.AFTER_HOURS, why="after-hours")
    if message is not None:
        AfterHoursReply.objects.create(channel=channel, message=message, sent_at=at)
    return message


def _send(*, channel: PatientChannel, body: str, kind: str, why: str) -> Message | None:
    return automated_send(to=ToChannel(channel), sender=Automation(kind), body=body, why=why)
