"""The inbound path (the orchestrator): every text that reaches the platform.

- `message_receive_inbound` is the one way in, for every provider: keywords
  (`messaging.keywords`), then routing and the shared-phone prompt (`messaging.routing`), then
  the conversation's state, the automations (`messaging.automations`) and the published event.
- `message_receive_secure_reply` is its door for replies typed on the secure portal.

It imports the features and the core; nothing below imports it. Its callers (provider views,
the simulated phone, the portal) sit above it.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from artera.bodies import body_check
from artera.errors import InvalidInput, NotFound
from channels_app.models import PatientChannel
from channels_app.services import channel_record_inbound
from practices.models import Line

from .automations import inbound_automations_run
from .events import InboundMessageReceived, inbound_message_publish
from .keywords import keyword_apply, keyword_parse
from .models import Message, MessageStatus, MpspPrompt
from .routing import (
    inbound_lock,
    inbound_route,
    mpsp_option_for_answer,
    mpsp_options,
    mpsp_pending,
    mpsp_prompt_send,
    unverified_channel,
)
from .segments import segments_count
from .send import phone_normalize

logger = logging.getLogger(__name__)

# The longest text a patient's phone can send us: a long SMS travels in segments that the
# carrier joins into one text, and carriers (and Twilio) hand over at most 1,600 characters of
# it. A longer body (only a misbehaving provider or a hand-made request can send one) is cut
# to this length, as the carriers would, and stored: the patient's words are kept, bounded.
INBOUND_MAX_LENGTH = 1600


def message_receive_inbound(
    *,
    to: str,
    from_: str,
    body: str,
    provider_message_id: str,
    received_at: datetime.datetime | None = None,
) -> Message:
    """A patient's text, from any provider: the one inbound path.

    The line is found by `to`; then, in one transaction, serialized per line and number:

    1. Keywords first (`messaging.keywords`): STOP and its synonyms opt the number out of the
       line, START/UNSTOP opt it back in, HELP/INFO ask for help; each gets one confirmation.
       The keyword text is stored in the number's conversation, where staff see it.
    2. Routing (`messaging.routing`): a pending shared-phone prompt takes the text as its
       answer; otherwise a standing choice, the shared-phone prompt, the number's conversation,
       or a new unverified channel.
    3. The text (re)opens its conversation and marks it as needing action; the after-hours
       auto-response and the practice's inbound automations run (`messaging.automations`); the
       text is published to `events.on_inbound_message` handlers.

    A provider message id that was already received returns the first message and changes
    nothing, so provider retries are harmless. `received_at` is the moment the rules are
    judged at (practice hours, the 12-hour after-hours limit); it defaults to now.
    """
    if not provider_message_id:
        raise InvalidInput(
            "The provider's message id is missing.", code="missing_provider_id", field="id"
        )
    line_number = phone_normalize(to, field="to")
    sender = phone_normalize(from_, field="from")
    body = _inbound_body(body)
    existing = _inbound_by_provider_id(provider_message_id)
    if existing is not None:
        return existing
    line = (
        Line.objects.select_related("practice__enterprise").filter(phone_number=line_number).first()
    )
    if line is None:
        raise NotFound("No line has this number.", code="unknown_line", field="to")
    inbound = _Inbound(
        line=line,
        phone=sender,
        body=body,
        provider_message_id=provider_message_id,
        at=received_at or timezone.now(),
    )
    try:
        with transaction.atomic():
            inbound_lock(line=line, phone=sender)
            existing = _inbound_by_provider_id(provider_message_id)
            if existing is not None:
                return existing
            return _inbound_handle(inbound)
    except IntegrityError:
        # The same text delivered twice at once: the other request stored it.
        existing = _inbound_by_provider_id(provider_message_id)
        if existing is None:
            raise
        return existing


def message_receive_secure_reply(
    *,
    channel: PatientChannel,
    body: str,
    reply_key: str,
    received_at: datetime.datetime | None = None,
) -> Message:
    """A verified patient's reply on the secure portal (`messaging.secure`): the inbound path's
    other door, for a text that did not come through a carrier.

    The portal names the conversation (the link's channel), so there is nothing to route and no
    keywords to apply (a "STOP" typed on the portal is a message, not an opt-out of texts). The
    reply is stored as a secure inbound message from the patient, under the same per-line and
    number lock, then delivered like every text: the conversation (re)opens and needs action,
    the after-hours auto-response and inbound automations run (their replies are SMS, never
    this content), and `events.on_inbound_message` handlers get it (the `patient.response`
    webhook, with `secure: true`). A resubmitted form (the same `reply_key`) returns the first
    message and changes nothing.
    """
    body_check(body)
    try:
        key = uuid.UUID(str(reply_key))
    except ValueError as exc:
        raise InvalidInput(
            "The form is out of date; reload the page.", code="invalid_reply_key", field="body"
        ) from exc
    provider_message_id = f"portal:{key}"
    existing = _inbound_by_provider_id(provider_message_id)
    if existing is not None:
        return existing
    line = channel.line
    phone = phone_normalize(channel.phone, field="from")
    inbound = _Inbound(
        line=line,
        phone=phone,
        body=body,
        provider_message_id=provider_message_id,
        at=received_at or timezone.now(),
        is_secure=True,
    )
    try:
        with transaction.atomic():
            inbound_lock(line=line, phone=phone)
            existing = _inbound_by_provider_id(provider_message_id)
            if existing is not None:
                return existing
            message = _inbound_store(inbound, channel)
            _inbound_deliver(message, channel, at=inbound.at)
            return message
    except IntegrityError:
        existing = _inbound_by_provider_id(provider_message_id)
        if existing is None:
            raise
        return existing


def _inbound_body(body: object) -> str:
    """The text as it is stored: at most `INBOUND_MAX_LENGTH` characters."""
    if not isinstance(body, str):
        raise InvalidInput("The text must be a string.", code="invalid_body", field="body")
    if "\x00" in body:
        # No carrier sends a NUL character, and PostgreSQL cannot store one.
        raise InvalidInput("The text contains a NUL character.", code="invalid_body", field="body")
    if len(body) > INBOUND_MAX_LENGTH:
        logger.warning("Inbound text of %d characters cut to %d", len(body), INBOUND_MAX_LENGTH)
        body = body[:INBOUND_MAX_LENGTH]
    return body


@dataclass(frozen=True)
class _Inbound:
    line: Line
    phone: str
    body: str
    provider_message_id: str
    at: datetime.datetime
    is_secure: bool = False


def _inbound_handle(inbound: _Inbound) -> Message:
    line, phone = inbound.line, inbound.phone
    pending = mpsp_pending(line=line, phone=phone)
    keyword = keyword_parse(inbound.body)
    if keyword is not None:
        channel = (
            pending.holding_channel
            if pending is not None and pending.holding_channel is not None
            else inbound_route(line=line, phone=phone, prompt=False).channel
        )
        assert channel is not None
        message = _inbound_store(inbound, channel)
        channel_record_inbound(channel=channel, at=inbound.at)
        keyword_apply(keyword=keyword[0], word=keyword[1], line=line, phone=phone, channel=channel)
        return message
    if pending is not None:
        return _mpsp_answer(inbound, pending)
    route = inbound_route(line=line, phone=phone)
    if route.channel is not None:
        message = _inbound_store(inbound, route.channel)
        _inbound_deliver(message, route.channel, at=inbound.at)
        return message
    # A number several patients share, and the line has texted more than one of them: hold the
    # text in the number's unverified channel and ask who is texting.
    holding = unverified_channel(line=line, phone=phone)
    message = _inbound_store(inbound, holding)
    prompt = MpspPrompt.objects.create(
        line=line,
        phone=phone,
        options=mpsp_options(candidates=route.candidates, holding=holding),
        holding_channel=holding,
        held_message=message,
    )
    prompt.messages.add(message)
    if mpsp_prompt_send(prompt=prompt) is None:
        # The number cannot be asked (it opted out, or the line is off): no choice to wait for.
        _mpsp_resolve(prompt, holding, status=MpspPrompt.Status.FALLBACK, at=inbound.at)
    return message


def _mpsp_answer(inbound: _Inbound, prompt: MpspPrompt) -> Message:
    """A text while the shared-phone prompt waits is the answer: it picks a channel, or is
    unclear (one re-prompt, then the unverified channel)."""
    holding = prompt.holding_channel or unverified_channel(line=inbound.line, phone=inbound.phone)
    message = _inbound_store(inbound, holding)
    prompt.messages.add(message)
    prompt.answer = inbound.body.strip()[:160]
    option = mpsp_option_for_answer(prompt.options, inbound.body)
    chosen = (
        PatientChannel.objects.select_related("patient", "known_patient", "practice", "line")
        .filter(pk=option["channel_id"], line=inbound.line)
        .first()
        if option is not None
        else None
    )
    if chosen is not None:
        _mpsp_resolve(prompt, chosen, status=MpspPrompt.Status.CHOSEN, at=inbound.at)
    elif prompt.prompts_sent < 2 and mpsp_prompt_send(prompt=prompt) is not None:
        prompt.prompts_sent += 1
        prompt.save(update_fields=["answer", "prompts_sent"])
    else:
        _mpsp_resolve(prompt, holding, status=MpspPrompt.Status.FALLBACK, at=inbound.at)
    return message


def _mpsp_resolve(
    prompt: MpspPrompt, channel: PatientChannel, *, status: str, at: datetime.datetime
) -> None:
    """Record the choice, move the held text and the prompt's exchange to `channel`, and deliver
    the held text there as if it had just arrived."""
    holding = prompt.holding_channel
    if holding is None or channel.pk != holding.pk:
        Message.objects.filter(pk__in=prompt.messages.values("pk")).update(
            channel=channel, patient=channel.patient
        )
        # A channel made only to hold the text is left empty: it was never a conversation.
        if holding is not None and not holding.messages.exists():
            prompt.holding_channel = None
            holding.delete()
    prompt.status = status
    prompt.chosen_channel = channel
    prompt.resolved_at = timezone.now()
    prompt.save(
        update_fields=["status", "chosen_channel", "holding_channel", "answer", "resolved_at"]
    )
    held = Message.objects.get(pk=prompt.held_message_id)
    _inbound_deliver(held, channel, at=at)


def _inbound_store(inbound: _Inbound, channel: PatientChannel) -> Message:
    count = segments_count(inbound.body)
    return Message.objects.create(
        channel=channel,
        practice_id=inbound.line.practice_id,
        line=inbound.line,
        patient_id=channel.patient_id,
        direction=Message.Direction.INBOUND,
        from_number=inbound.phone,
        to_number=inbound.line.phone_number.as_e164,
        body=inbound.body,
        is_secure=inbound.is_secure,
        segments=count.segments,
        encoding=count.encoding,
        status=MessageStatus.RECEIVED,
        status_changed_at=inbound.at,
        sender_kind=Message.SenderKind.PATIENT,
        provider_message_id=inbound.provider_message_id,
    )


def _inbound_deliver(message: Message, channel: PatientChannel, *, at: datetime.datetime) -> None:
    """A text has landed in its conversation: open it, run the automations, publish it."""
    channel_record_inbound(channel=channel, at=at)
    inbound_automations_run(message=message, channel=channel, at=at)
    inbound_message_publish(InboundMessageReceived(message=message, channel=channel))


def _inbound_by_provider_id(provider_message_id: str) -> Message | None:
    return Message.objects.filter(
        direction=Message.Direction.INBOUND, provider_message_id=provider_message_id
    ).first()
