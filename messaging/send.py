"""The send path (core): every text that leaves the platform is stored here.

`message_send` validates the recipient and the sender, resolves the channel, fills in smart
phrases and short links, stores the message as `received` (the stored row is the outbox entry)
and, after commit, hands it to the dispatcher (`messaging.dispatch`).

Core: imports the dispatcher, the status writer and the plumbing (models, phrases, links,
segments, secure links, channel writes); never a feature (keywords, routing, automations, the
portal, the APIs) or the inbound path, which all import it.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.db.models.sql import InsertQuery
from django.utils import timezone
from phonenumber_field.phonenumber import PhoneNumber

from artera.bodies import body_check
from artera.errors import ApplicationError, InvalidInput, NotFound, Refused, invalid_input_from
from artera.phones import normalize_us_phone
from channels_app.models import Patient, PatientChannel
from channels_app.services import channel_get_or_create, channel_record_outbound
from practices.models import Line, Practice

from .dispatch import dispatch_on_commit, message_sms_text
from .links import links_shorten
from .models import Message, MessageStatus, MessageStatusChange, OptOut, ShortLink
from .phrases import phrases_render
from .schedule import QuietHours, send_moment
from .secure_links import secure_link_prepare, secure_link_save
from .segments import segments_count
from .status import message_scheduled_publish

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from webhooks.models import ApiClient, CallToTextWorkflow

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToChannel:
    """A reply in an existing conversation: its practice, line, number and patient."""

    channel: PatientChannel


@dataclass(frozen=True)
class ToNumber:
    """A number in `practice`: from `line` (default: the practice's default line), to
    `patient`'s channel when one is named, else the number's unverified channel."""

    practice: Practice
    number: str
    line: Line | None = None
    patient: Patient | None = None


Recipient = ToChannel | ToNumber


@dataclass(frozen=True)
class Staff:
    """A staff member's reply (the inbox); `user` fills in the staff smart phrases."""

    user: User | None = None


@dataclass(frozen=True)
class Api:
    """A MAPI client's text: its status webhooks go to `callback_url`, with `metadata`."""

    client: ApiClient | None = None
    callback_url: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Smapi:
    """A legacy SMAPI text (no webhooks follow; the message records no key)."""


@dataclass(frozen=True)
class CallToText:
    """The text a call-to-text workflow sends to the caller."""

    workflow: CallToTextWorkflow | None = None


@dataclass(frozen=True)
class Automation:
    """A text the platform writes itself; `kind` says what it is for (`Message.Kind`).

    Only an automation may send an automated kind (the database's check constraint agrees),
    and only a `KEYWORD_REPLY` passes an opt-out: carriers require the confirmation of a STOP
    to reach the number that has just opted out (`confirms_opt_out`)."""

    kind: str = Message.Kind.CONVERSATION

    def __post_init__(self) -> None:
        if self.kind not in Message.Kind.values:
            raise ValueError(f"Not a message kind: {self.kind!r}")

    @property
    def confirms_opt_out(self) -> bool:
        return self.kind == Message.Kind.KEYWORD_REPLY


Sender = Staff | Api | Smapi | CallToText | Automation

_SENDER_KINDS: dict[type[Sender], str] = {
    Staff: Message.SenderKind.STAFF,
    Api: Message.SenderKind.API,
    Smapi: Message.SenderKind.SMAPI,
    CallToText: Message.SenderKind.CALL_TO_TEXT,
    Automation: Message.SenderKind.AUTOMATION,
}


def message_send(
    *,
    to: Recipient,
    sender: Sender,
    body: str,
    secure: bool = False,
    send_at: datetime.datetime | None = None,
    valid_until: datetime.datetime | None = None,
) -> Message:
    """Store one outbound text as `received` and send it after commit, or as `scheduled` when
    it goes later.

    `to` names the recipient (`ToChannel`, `ToNumber`); the practice, line and patient must
    already be ones the caller may use: tenancy is the caller's selector's job. `sender` says
    who writes (`Staff`, `Api`, `Smapi`, `CallToText`, `Automation`): the stored sender kind,
    the sender's row, and for an automation the message's kind come from it.

    Refuses, with an `ApplicationError` and nothing written: a number that is not a valid US
    number (`invalid_phone`), an empty or too long body (`empty_body`, `body_too_long`), a
    line of another practice (`unknown_line`) or an inactive one (`line_inactive`), a practice
    without a default line (`no_default_line`), a patient of another enterprise
    (`unknown_patient`), `secure` without a verified patient
    (`secure_requires_verified_patient`), and a number opted out of the line
    (`recipient_opted_out`), except for an automation that `confirms_opt_out` (the
    STOP/START/HELP confirmations of `messaging.keywords`).

    A `SECURITY_CODE` does not move the conversation to the top of the inbox: it is not
    something staff need to look at, and staff never see its text.

    Smart phrases are filled in and links shortened (per the enterprise's rule) before the body
    is stored; `segments` counts what the carrier will get. Automated texts that may be refused
    without failing their caller go through `automated_send`.

    Send later (`messaging.schedule`): a text goes at `send_at` (aware; from now up to
    `SEND_AT_MAX_DAYS` ahead) and, under quiet hours (`quiet_hours_for`), not before 8:00 the
    next allowed day in the recipient's time zone. Such a text is stored as `scheduled` with
    the moment it goes in `send_at` (its webhook tells the sender), and the release task sends
    it then. `valid_until`: after it, the text is never sent (it fails with `expired`).
    Refused: `send_at_in_past`, `send_at_too_far`, `valid_until_in_past`,
    `valid_until_before_send_at`.
    """
    channel: PatientChannel | None
    named_line: Line | None
    if isinstance(to, ToChannel):
        channel = to.channel
        practice, named_line, patient = channel.practice, channel.line, channel.patient
        phone = phone_normalize(channel.phone, field="to")
    else:
        channel = None
        practice, named_line, patient = to.practice, to.line, to.patient
        phone = phone_normalize(to.number, field="to")
    kind = sender.kind if isinstance(sender, Automation) else Message.Kind.CONVERSATION
    body_check(body)
    line, opted_out = _sending_line(practice, named_line, phone)
    if patient is not None and patient.enterprise_id != practice.enterprise_id:
        raise NotFound("No such patient.", code="unknown_patient", field="patient")
    if secure and (patient is None or not patient.is_verified):
        raise Refused(
            "Secure messages can only go to a patient the EMR has verified.",
            code="secure_requires_verified_patient",
            field="secure",
        )
    confirms_opt_out = isinstance(sender, Automation) and sender.confirms_opt_out
    if opted_out and not confirms_opt_out:
        raise Refused(
            "This number has opted out of texts from this line.",
            code="recipient_opted_out",
            field="to",
        )
    now = timezone.now()
    _timing_check(now=now, send_at=send_at, valid_until=valid_until)
    staff = sender.user if isinstance(sender, Staff) else None
    api = sender if isinstance(sender, Api) else Api()

    text = phrases_render(text=body, practice=practice, line=line, patient=patient, staff=staff)
    links: list[ShortLink] = []
    if "://" in text:
        text, links = links_shorten(text=text, enterprise=practice.enterprise)
    body_check(text)

    goes_at = send_moment(
        now=now,
        send_at=send_at,
        quiet=quiet_hours_for(sender=sender, practice=practice, channel=channel, now=now),
        practice=practice,
        line=line,
        patient=patient,
        phone=phone,
    )
    status = MessageStatus.RECEIVED if goes_at is None else MessageStatus.SCHEDULED
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
        status=status,
        status_changed_at=now,
        send_at=goes_at,
        valid_until=valid_until,
        sender_kind=_SENDER_KINDS[type(sender)],
        sender_user=staff,
        sender_api_client=api.client,
        sender_workflow=sender.workflow if isinstance(sender, CallToText) else None,
        callback_url=api.callback_url,
        metadata=dict(api.metadata),
        # A scheduled text is not in the outbox until its release puts it there.
        outbox_due_at=now + _seconds(settings.SMS_OUTBOX_GRACE_SECONDS)
        if goes_at is None
        else None,
    )
    # A secure message's SMS is a notice with a link to the portal (`messaging.secure`).
    secure_link = secure_link_prepare() if secure else None
    count = segments_count(message_sms_text(message, link=secure_link))
    message.segments, message.encoding = count.segments, count.encoding
    # Every refusal is raised above, before anything is written, so inside a caller's transaction
    # (a MAPI batch, an inbound text) no savepoint is needed: what fails from here on is the
    # database, and that rolls the caller's transaction back whole. Two round trips fewer per
    # text of a batch. Callers that must survive a refusal wrap the call in their own atomic
    # block (`automated_send`).
    with transaction.atomic(savepoint=False):
        if channel is None:
            channel = channel_get_or_create(
                practice=practice, line=line, phone=phone, patient=patient, activity_at=now
            )
        message.channel = channel
        change_id = _message_insert(message, at=now)
        if secure_link is not None:
            secure_link_save(link=secure_link, message=message)
        if links:
            for link in links:
                link.message = message
            ShortLink.objects.bulk_create(links)
        if kind != Message.Kind.SECURITY_CODE:
            channel_record_outbound(channel=channel, at=now)
        if goes_at is None:
            dispatch_on_commit(line.pk)
        else:
            message_scheduled_publish(message_id=message.pk, change_id=change_id, at=now)
    return message


def _timing_check(
    *,
    now: datetime.datetime,
    send_at: datetime.datetime | None,
    valid_until: datetime.datetime | None,
) -> None:
    if send_at is not None:
        if send_at < now - _seconds(settings.SEND_AT_PAST_TOLERANCE_SECONDS):
            raise InvalidInput(
                "send_at is in the past; leave it out to send now.",
                code="send_at_in_past",
                field="send_at",
            )
        if send_at > now + datetime.timedelta(days=settings.SEND_AT_MAX_DAYS):
            raise InvalidInput(
                f"send_at may be at most {settings.SEND_AT_MAX_DAYS} days ahead.",
                code="send_at_too_far",
                field="send_at",
            )
    if valid_until is not None:
        if valid_until <= now:
            raise InvalidInput(
                "valid_until is in the past.", code="valid_until_in_past", field="valid_until"
            )
        if send_at is not None and valid_until <= send_at:
            raise InvalidInput(
                "valid_until must be after send_at.",
                code="valid_until_before_send_at",
                field="valid_until",
            )


def quiet_hours_for(
    *,
    sender: Sender,
    practice: Practice,
    channel: PatientChannel | None,
    now: datetime.datetime,
) -> QuietHours:
    """Whether quiet hours hold this text: when the practice opted in, or (for an API text)
    its client did. Never for what answers something the patient just did: a call-to-text, an
    automatic answer (keywords, after-hours, codes), or a staff reply to a patient who texted
    within `QUIET_HOURS_REPLY_WINDOW_SECONDS`."""
    if isinstance(sender, (CallToText, Automation)):
        return QuietHours(held=False)
    held = practice.quiet_hours or (
        isinstance(sender, Api) and sender.client is not None and sender.client.quiet_hours
    )
    if held and isinstance(sender, Staff) and channel is not None:
        since = now - _seconds(settings.QUIET_HOURS_REPLY_WINDOW_SECONDS)
        held = not Message.objects.filter(
            channel=channel, direction=Message.Direction.INBOUND, created_at__gte=since
        ).exists()
    return QuietHours(held=held, skip_holidays=practice.quiet_hours_skip_holidays)


def _message_insert(message: Message, *, at: datetime.datetime) -> int:
    """Insert `message` and the first step of its status history (its status at `at`);
    returns the history row's id.

    On PostgreSQL one statement writes both (a data-modifying `WITH`): one round trip instead
    of two on the request path of every send. The message row is the one `save()` would write
    (Django's own insert compiler builds it, `auto_now_add` included)."""
    if connection.vendor != "postgresql":
        message.save(force_insert=True)
        change = MessageStatusChange.objects.create(message=message, status=message.status, at=at)
        return change.pk
    query = InsertQuery(Message)
    query.insert_values(list(Message._meta.concrete_fields), [message])
    [(insert_sql, insert_params)] = query.get_compiler(connection=connection).as_sql()
    quote = connection.ops.quote_name
    history = MessageStatusChange._meta
    column = {field.name: str(field.column) for field in history.concrete_fields}
    columns = ", ".join(quote(column[name]) for name in ("message", "status", "error_code", "at"))
    pk = quote(next(str(f.column) for f in Message._meta.concrete_fields if f.primary_key))
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH new_message AS ({insert_sql} RETURNING {pk}) "  # noqa: S608 (names only)
            f"INSERT INTO {quote(history.db_table)} ({columns}) "
            f"SELECT {pk}, %s, '', %s FROM new_message "
            f"RETURNING {quote(str(history.pk.column))}",
            [*insert_params, str(message.status), at],
        )
        (change_id,) = cursor.fetchone()
    message._state.adding = False
    message._state.db = connection.alias
    return int(change_id)


def phone_normalize(raw: str | PhoneNumber, *, field: str) -> str:
    """`raw` as a US number in E.164, or InvalidInput naming `field`."""
    try:
        return normalize_us_phone(raw)
    except ValidationError as exc:
        raise invalid_input_from(exc, field=field) from exc


def _sending_line(practice: Practice, line: Line | None, phone: str) -> tuple[Line, bool]:
    """The line to send from (`line`, else the practice's default) and whether `phone` has
    opted out of it: one query for both when the default line is looked up."""
    opted_out = Exists(OptOut.objects.filter(line=OuterRef("pk"), phone=phone))
    if line is None:
        default = (
            Line.objects.filter(practice=practice, is_default=True)
            .annotate(phone_opted_out=opted_out)
            .first()
        )
        if default is None:
            raise Refused(
                "This practice has no default line to send from; name a line.",
                code="no_default_line",
                field="line_id",
            )
        line, is_opted_out = default, bool(default.phone_opted_out)
    elif line.practice_id != practice.pk:
        raise NotFound("No such line in this practice.", code="unknown_line", field="line_id")
    else:
        is_opted_out = OptOut.objects.filter(line=line, phone=phone).exists()
    if not line.is_active:
        raise Refused("This line is switched off.", code="line_inactive", field="line_id")
    return line, is_opted_out


def _seconds(value: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=value)


def automated_send(*, to: ToChannel, sender: Automation, body: str, why: str) -> Message | None:
    """The one door for automated texts (keyword confirmations, shared-phone prompts, security
    codes, after-hours and automation replies): send in a savepoint, and when the send path
    refuses (the number opted out, the line is off), log it and return None.

    The savepoint is what makes a refusal harmless: these texts are sent inside someone else's
    transaction (the inbound text they answer, the opt-out a STOP wrote, the code a portal
    stored), and a refusal must roll back nothing but the send itself."""
    try:
        with transaction.atomic():
            return message_send(to=to, sender=sender, body=body)
    except ApplicationError as exc:
        logger.info("Skipped the %s text to channel %s: %s", why, to.channel.pk, exc.code)
        return None
