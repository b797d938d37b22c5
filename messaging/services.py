"""The send path and the inbound path: every text that leaves or reaches the platform.

- `message_send` is the one way out, for every source (MAPI, SMAPI, call-to-text, staff replies,
  automations, secure-message notices). It stores the message as `received`; after commit a
  Celery task runs `message_dispatch`, which hands it to the SMS gateway.
- `message_receive_inbound` is the one way in, for every provider;
  `message_receive_secure_reply` is its door for replies typed on the secure portal.
- `message_status_apply` is the only writer of an outbound message's status;
  `message_status_report` is what provider status callbacks call.
- `outbox.outbox_sweep` re-enqueues stored messages whose task was lost.
"""

from __future__ import annotations

import datetime
import enum
import functools
import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from phonenumber_field.phonenumber import PhoneNumber

from artera.errors import InvalidInput, NotFound, Refused, invalid_input_from
from artera.phones import normalize_us_phone
from channels_app.models import Patient, PatientChannel
from channels_app.services import (
    channel_get_or_create,
    channel_record_inbound,
    channel_record_outbound,
)
from practices.models import Line, Practice

from .automations import inbound_automations_run
from .events import (
    InboundMessageReceived,
    MessageStatusChanged,
    inbound_message_publish,
    message_status_changed_publish,
)
from .gateways import GatewayError, gateway_get
from .keywords import keyword_apply, keyword_parse
from .links import links_shorten
from .models import (
    ErrorCode,
    Message,
    MessageStatus,
    MessageStatusChange,
    MpspPrompt,
    OptOut,
    SecureLink,
    ShortLink,
)
from .outbox import dispatch_enqueue
from .pacing import line_slot_reserve
from .phrases import phrases_render
from .routing import (
    inbound_lock,
    inbound_route,
    mpsp_option_for_answer,
    mpsp_options,
    mpsp_pending,
    mpsp_prompt_send,
    unverified_channel,
)
from .secure import secure_link_prepare, secure_link_save, secure_notice_text
from .segments import segments_count

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from webhooks.models import ApiClient, CallToTextWorkflow

logger = logging.getLogger(__name__)

MAX_BODY_LENGTH = 1600
# The longest text a patient's phone can send us: a long SMS travels in segments that the
# carrier joins into one text, and carriers (and Twilio) hand over at most 1,600 characters of
# it. A longer body (only a misbehaving provider or a hand-made request can send one) is cut
# to this length, as the carriers would, and stored: the patient's words are kept, bounded.
INBOUND_MAX_LENGTH = 1600
# A message waiting for an earlier one to the same patient checks back this often (at least).
ORDER_RETRY_SECONDS = 0.5


# --- Sending --------------------------------------------------------------------------------


def message_send(
    *,
    body: str,
    sender_kind: str,
    practice: Practice | None = None,
    to: str | None = None,
    line: Line | None = None,
    patient: Patient | None = None,
    channel: PatientChannel | None = None,
    sender_user: User | None = None,
    sender_api_client: ApiClient | None = None,
    sender_workflow: CallToTextWorkflow | None = None,
    secure: bool = False,
    callback_url: str = "",
    metadata: dict[str, Any] | None = None,
    kind: str = Message.Kind.CONVERSATION,
) -> Message:
    """Store one outbound text as `received` and send it after commit.

    Name the recipient either by `channel` (a reply in an existing conversation) or by
    `practice` + `to` (+ optional `line`, default: the practice's default line, and optional
    `patient`, whose channel it goes to; without one, the number's unverified channel).
    The practice, line and patient must already be ones the caller may use: tenancy is the
    caller's selector's job.

    Refuses, with an `ApplicationError` and nothing written: a number that is not a valid US
    number (`invalid_phone`), an empty or too long body (`empty_body`, `body_too_long`), a
    line of another practice (`unknown_line`) or an inactive one (`line_inactive`), a practice
    without a default line (`no_default_line`), a patient of another enterprise
    (`unknown_patient`), `secure` without a verified patient
    (`secure_requires_verified_patient`), and a number opted out of the line
    (`recipient_opted_out`). The one exception to the last rule is `kind=KEYWORD_REPLY`, which
    only the STOP/START/HELP handler (`messaging.keywords`) passes: carriers require the
    confirmation of a STOP to reach the number that has just opted out.

    `kind` says what an automated text is for (`Message.Kind`; only sender "automation" may
    set it). A `SECURITY_CODE` does not move the conversation to the top of the inbox: it is
    not something staff need to look at, and staff never see its text.

    Smart phrases are filled in and links shortened (per the enterprise's rule) before the body
    is stored; `segments` counts what the carrier will get.
    """
    if channel is not None:
        if practice is not None or to is not None or line is not None or patient is not None:
            raise TypeError("Name the recipient by channel, or by practice and to, not both.")
        practice, line, patient = channel.practice, channel.line, channel.patient
        phone = _phone(channel.phone, field="to")
    elif practice is None or to is None:
        raise TypeError("message_send needs a channel, or a practice and a `to` number.")
    else:
        phone = _phone(to, field="to")
    if sender_kind not in Message.SenderKind.values or sender_kind == Message.SenderKind.PATIENT:
        raise ValueError(f"Not an outbound sender kind: {sender_kind!r}")
    _body_check(body)
    line = _sending_line(practice, line)
    if patient is not None and patient.enterprise_id != practice.enterprise_id:
        raise NotFound("No such patient.", code="unknown_patient", field="patient")
    if secure and (patient is None or not patient.is_verified):
        raise Refused(
            "Secure messages can only go to a patient the EMR has verified.",
            code="secure_requires_verified_patient",
            field="secure",
        )
    if kind not in Message.Kind.values:
        raise ValueError(f"Not a message kind: {kind!r}")
    if kind != Message.Kind.CONVERSATION and sender_kind != Message.SenderKind.AUTOMATION:
        raise ValueError("Only automations send automated texts (codes, replies to keywords).")
    keyword_reply = kind == Message.Kind.KEYWORD_REPLY
    if not keyword_reply and OptOut.objects.filter(line=line, phone=phone).exists():
        raise Refused(
            "This number has opted out of texts from this line.",
            code="recipient_opted_out",
            field="to",
        )

    text = phrases_render(
        text=body, practice=practice, line=line, patient=patient, staff=sender_user
    )
    links: list[ShortLink] = []
    if "://" in text:
        text, links = links_shorten(text=text, enterprise=practice.enterprise)
    _body_check(text)

    now = timezone.now()
    message = Message(
        practice=practice,
        line=line,
        patient=patient,
        direction=Message.Direction.OUTBOUND,
        from_number=line.phone_number.as_e164,
        to_number=phone,
        body=text,
        kind=kind,
        is_secure=secure,
        status=MessageStatus.RECEIVED,
        status_changed_at=now,
        sender_kind=sender_kind,
        sender_user=sender_user,
        sender_api_client=sender_api_client,
        sender_workflow=sender_workflow,
        callback_url=callback_url,
        metadata=metadata or {},
        outbox_due_at=now + _seconds(settings.SMS_OUTBOX_GRACE_SECONDS),
    )
    # A secure message's SMS is a notice with a link to the portal (`messaging.secure`).
    secure_link = secure_link_prepare() if secure else None
    count = segments_count(message_sms_text(message, link=secure_link))
    message.segments, message.encoding = count.segments, count.encoding
    with transaction.atomic():
        if channel is None:
            channel = channel_get_or_create(
                practice=practice, line=line, phone=phone, patient=patient, activity_at=now
            )
        message.channel = channel
        message.save(force_insert=True)
        if secure_link is not None:
            secure_link_save(link=secure_link, message=message)
        MessageStatusChange.objects.create(message=message, status=MessageStatus.RECEIVED, at=now)
        if links:
            for link in links:
                link.message = message
            ShortLink.objects.bulk_create(links)
        if kind != Message.Kind.SECURITY_CODE:
            channel_record_outbound(channel=channel, at=now)
        transaction.on_commit(functools.partial(dispatch_enqueue, message.id))
    return message


def message_sms_text(message: Message, *, link: SecureLink | None = None) -> str:
    """What the carrier gets: the body, or for a secure message only a notice with the
    practice's name and the link to the portal, never the content (`messaging.secure`). The
    same message always gives the same text, so a retried hand-over is the same SMS."""
    if not message.is_secure:
        return message.body
    return secure_notice_text(message, link=link)


def _phone(raw: str | PhoneNumber, *, field: str) -> str:
    try:
        return normalize_us_phone(raw)
    except ValidationError as exc:
        raise invalid_input_from(exc, field=field) from exc


def _body_check(body: object) -> None:
    if not isinstance(body, str) or not body.strip():
        raise InvalidInput("Write the text to send.", code="empty_body", field="body")
    if len(body) > MAX_BODY_LENGTH:
        raise InvalidInput(
            f"A text can be at most {MAX_BODY_LENGTH} characters (this one has {len(body)}).",
            code="body_too_long",
            field="body",
        )


def _sending_line(practice: Practice, line: Line | None) -> Line:
    if line is None:
        default = Line.objects.filter(practice=practice, is_default=True).first()
        if default is None:
            raise Refused(
                "This practice has no default line to send from; name a line.",
                code="no_default_line",
                field="line_id",
            )
        line = default
    elif line.practice_id != practice.pk:
        raise NotFound("No such line in this practice.", code="unknown_line", field="line_id")
    if not line.is_active:
        raise Refused("This line is switched off.", code="line_inactive", field="line_id")
    return line


def _seconds(value: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=value)


# --- Dispatching (the worker's side) ----------------------------------------------------------


class DispatchState(enum.StrEnum):
    SENT = "sent"  # the provider took it (now, or in an earlier attempt a worker died in)
    FAILED = "failed"  # the provider refused it for good
    DONE = "done"  # nothing to do: already sent, or another worker holds it
    DEFERRED = "deferred"  # try again in `retry_in` seconds


@dataclass(frozen=True)
class DispatchOutcome:
    state: DispatchState
    retry_in: float | None = None


class _Claim(enum.Enum):
    CLAIMED = "claimed"
    BUSY = "busy"  # another worker's claim is live
    BLOCKED = "blocked"  # an earlier message to the same patient is not out yet
    GONE = "gone"  # no longer an unsent outbound message


def message_dispatch(*, message_id: uuid.UUID, max_inline_wait: float | None) -> DispatchOutcome:
    """Hand one stored outbound message to the SMS gateway, at most once.

    1. Claim it with a conditional UPDATE (only one worker can), and only once every earlier
       message to the same patient is out, so a patient's texts keep their order.
    2. If an earlier attempt may have reached the provider (its worker died, or the provider
       timed out), ask the provider first instead of sending again.
    3. Wait for the line's next pacing slot, shared by all workers through Redis; rather than
       wait longer than `max_inline_wait` seconds (None: no limit), give the claim back and ask
       to be re-run later.
    4. Send, and record `sent` with the provider's id, or `failed` with the error code. Errors
       that may pass are retried with exponential backoff, up to `SMS_SEND_MAX_ATTEMPTS`.
    """
    message = (
        Message.objects.select_related("line", "practice")
        .filter(pk=message_id, direction=Message.Direction.OUTBOUND)
        .first()
    )
    if message is None or message.status != MessageStatus.RECEIVED:
        return DispatchOutcome(DispatchState.DONE)
    claim = _message_claim(message)
    if claim is _Claim.BLOCKED:
        retry_in = max(ORDER_RETRY_SECONDS, float(1 / message.line.send_rate))
        _outbox_postpone(message, retry_in)
        return DispatchOutcome(DispatchState.DEFERRED, retry_in)
    if claim is not _Claim.CLAIMED:
        return DispatchOutcome(DispatchState.DONE)

    gateway = gateway_get()
    text = message_sms_text(message)
    try:
        if message.send_attempts > 1:
            provider_id = gateway.find_sent(message=message, text=text)
            if provider_id:
                logger.info("Message %s had reached the provider already", message.pk)
                _message_record_sent(message, provider_id)
                return DispatchOutcome(DispatchState.SENT)
        slot = line_slot_reserve(
            line_id=message.line_id, rate=message.line.send_rate, max_wait=max_inline_wait
        )
        if not slot.granted:
            _claim_release(message, retry_in=slot.wait, attempt_used=False)
            return DispatchOutcome(DispatchState.DEFERRED, slot.wait)
        if slot.wait > 0:
            time.sleep(slot.wait)
        result = gateway.send(message=message, text=text)
    except GatewayError as exc:
        if exc.retryable and message.send_attempts < settings.SMS_SEND_MAX_ATTEMPTS:
            retry_in = settings.SMS_SEND_RETRY_BASE_SECONDS * 2 ** (message.send_attempts - 1)
            logger.warning(
                "Message %s: provider error %s (%s), attempt %d; retrying in %.0fs",
                message.pk,
                exc.provider_code or "-",
                exc.detail,
                message.send_attempts,
                retry_in,
            )
            _claim_release(message, retry_in=retry_in, attempt_used=True)
            return DispatchOutcome(DispatchState.DEFERRED, retry_in)
        logger.warning(
            "Message %s failed: %s (%s)", message.pk, exc.error_code, exc.provider_code or "-"
        )
        message_status_apply(
            message_id=message.pk, status=MessageStatus.FAILED, error_code=exc.error_code
        )
        return DispatchOutcome(DispatchState.FAILED)
    _message_record_sent(message, result.provider_message_id)
    return DispatchOutcome(DispatchState.SENT)


def _message_claim(message: Message) -> _Claim:
    now = timezone.now()
    lease = _seconds(settings.SMS_CLAIM_LEASE_SECONDS)
    earlier_unsent = Message.objects.filter(
        Q(created_at__lt=message.created_at) | Q(created_at=message.created_at, pk__lt=message.pk),
        channel_id=message.channel_id,
        direction=Message.Direction.OUTBOUND,
        status=MessageStatus.RECEIVED,
        outbox_due_at__isnull=False,  # rows that never entered the outbox block nobody
    )
    claimable = Message.objects.filter(pk=message.pk, status=MessageStatus.RECEIVED).filter(
        ~Exists(earlier_unsent)
    )
    claim = {
        "claimed_at": now,
        "outbox_due_at": now + lease,
        "send_attempts": F("send_attempts") + 1,
    }
    # A fresh claim, or one taken over from a worker whose lease ran out (it died).
    if claimable.filter(claimed_at__isnull=True).update(**claim) or claimable.filter(
        claimed_at__lt=now - lease
    ).update(**claim):
        message.claimed_at = now
        message.send_attempts += 1
        return _Claim.CLAIMED
    state = Message.objects.filter(pk=message.pk).values("status", "claimed_at").first()
    if state is None or state["status"] != MessageStatus.RECEIVED:
        return _Claim.GONE
    if state["claimed_at"] is not None and state["claimed_at"] >= now - lease:
        return _Claim.BUSY
    return _Claim.BLOCKED


def _claim_release(message: Message, *, retry_in: float, attempt_used: bool) -> None:
    """Give a claim back; the message is due again (for the sweeper) after `retry_in`."""
    release: dict[str, Any] = {
        "claimed_at": None,
        "outbox_due_at": timezone.now() + _seconds(retry_in + settings.SMS_OUTBOX_GRACE_SECONDS),
    }
    if not attempt_used:
        release["send_attempts"] = F("send_attempts") - 1
    Message.objects.filter(
        pk=message.pk, status=MessageStatus.RECEIVED, claimed_at=message.claimed_at
    ).update(**release)


def _outbox_postpone(message: Message, retry_in: float) -> None:
    due = timezone.now() + _seconds(retry_in + settings.SMS_OUTBOX_GRACE_SECONDS)
    Message.objects.filter(
        pk=message.pk, status=MessageStatus.RECEIVED, outbox_due_at__lt=due
    ).update(outbox_due_at=due)


def _message_record_sent(message: Message, provider_message_id: str) -> None:
    message_status_apply(
        message_id=message.pk,
        status=MessageStatus.SENT,
        provider_message_id=provider_message_id,
    )


# --- Statuses ---------------------------------------------------------------------------------

# From which statuses each status may be reached, most likely first.
_REACHABLE_FROM: dict[str, tuple[str, ...]] = {
    MessageStatus.SENT: (MessageStatus.RECEIVED,),
    MessageStatus.DELIVERED: (MessageStatus.SENT, MessageStatus.RECEIVED),
    MessageStatus.UNDELIVERED: (MessageStatus.SENT, MessageStatus.RECEIVED),
    MessageStatus.FAILED: (MessageStatus.SENT, MessageStatus.RECEIVED),
}
# Only the carrier can say these, so the provider must have had the message.
_IMPLIES_SENT = frozenset({MessageStatus.DELIVERED, MessageStatus.UNDELIVERED})


def message_status_apply(
    *,
    message_id: uuid.UUID,
    status: str,
    error_code: str = "",
    provider_message_id: str | None = None,
    at: datetime.datetime | None = None,
) -> bool:
    """Move an outbound message's status forward; True when it moved.

    A status that is not ahead of the current one (a late `sent` after `delivered`, a duplicate
    callback) changes nothing. Each step gets a history row and is published once
    (`messaging.events`), in the same transaction. A provider id is stored when the message has
    none yet, even when the status does not move (the provider's callback may beat the record
    of its own answer).
    """
    if status not in _REACHABLE_FROM:
        raise ValueError(f"Not a status a message can move to: {status!r}")
    if status in (MessageStatus.SENT, MessageStatus.DELIVERED):
        error_code = ""
    elif not error_code:
        error_code = ErrorCode.PROVIDER_ERROR
    at = at or timezone.now()
    fields: dict[str, Any] = {"status": status, "error_code": error_code, "status_changed_at": at}
    if provider_message_id:
        fields["provider_message_id"] = Coalesce(
            F("provider_message_id"), Value(provider_message_id)
        )
    outbound = Message.objects.filter(pk=message_id, direction=Message.Direction.OUTBOUND)
    with transaction.atomic():
        # A status with several ways in locks the row first: two callbacks racing (or a callback
        # and the worker's own record of `sent`) are then applied one after the other, each
        # seeing the other's result (a conditional UPDATE alone would skip a row whose status
        # another transaction is changing). The UPDATE stays conditional for databases without
        # row locks (SQLite).
        previous = None
        reachable = _REACHABLE_FROM[status]
        if len(reachable) == 1:
            # One way in (`sent`): the conditional UPDATE alone decides, and it waits for a
            # concurrent change of the row like the lock would.
            if outbound.filter(status=reachable[0]).update(**fields):
                previous = reachable[0]
        else:
            for _ in range(3):
                current = outbound.select_for_update().values_list("status", flat=True).first()
                if current not in reachable:
                    break
                if outbound.filter(status=current).update(**fields):
                    previous = current
                    break
        if previous is None:
            if provider_message_id:
                outbound.filter(provider_message_id__isnull=True).update(
                    provider_message_id=provider_message_id
                )
            return False
        steps = [(status, error_code)]
        if previous == MessageStatus.RECEIVED and status in _IMPLIES_SENT:
            steps.insert(0, (MessageStatus.SENT, ""))
        changes = MessageStatusChange.objects.bulk_create(
            MessageStatusChange(message_id=message_id, status=step, error_code=code, at=at)
            for step, code in steps
        )
        for change in changes:
            message_status_changed_publish(
                MessageStatusChanged(
                    message_id=message_id,
                    change_id=change.pk,
                    status=change.status,
                    error_code=change.error_code,
                    at=at,
                )
            )
    return True


def message_status_report(
    *,
    provider_message_id: str,
    status: str | None,
    error_code: str = "",
    message_id: str | None = None,
) -> bool:
    """A provider's status callback (Twilio's, the simulator's): the message is found by our
    id when the provider echoes it, else by the provider's id. Unknown messages and provider
    statuses that do not move ours are ignored (False)."""
    if status is None:
        return False
    target: uuid.UUID | None = None
    if message_id:
        try:
            target = uuid.UUID(message_id)
        except ValueError:
            target = None
    if target is None and provider_message_id:
        target = (
            Message.objects.filter(
                direction=Message.Direction.OUTBOUND, provider_message_id=provider_message_id
            )
            .values_list("pk", flat=True)
            .first()
        )
    if target is None:
        logger.info(
            "Status %s for unknown provider message %s ignored", status, provider_message_id
        )
        return False
    return message_status_apply(
        message_id=target,
        status=status,
        error_code=error_code,
        provider_message_id=provider_message_id or None,
    )


# --- Inbound ------------------------------------------------------------------------------------


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
    line_number = _phone(to, field="to")
    sender = _phone(from_, field="from")
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
    _body_check(body)
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
    phone = _phone(channel.phone, field="from")
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


# --- Short links --------------------------------------------------------------------------------


_SHORT_CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")


def short_link_follow(*, code: str) -> str:
    """Count a click on a short link and return where it goes."""
    if not _SHORT_CODE_RE.fullmatch(code):
        # Not a code we could have made (`links.py` uses URL-safe base64): no query needed, and
        # bytes such as NUL never reach the database.
        raise NotFound("No such link.", code="unknown_link")
    row = ShortLink.objects.filter(code=code).values_list("pk", "target_url").first()
    if row is None:
        raise NotFound("No such link.", code="unknown_link")
    ShortLink.objects.filter(pk=row[0]).update(
        clicks=F("clicks") + 1, last_clicked_at=timezone.now()
    )
    return row[1]
