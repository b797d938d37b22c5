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
import functools
import logging
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from phonenumber_field.phonenumber import PhoneNumber

from artera.errors import InvalidInput, NotFound, Refused, invalid_input_from
from artera.phones import normalize_us_phone
from channels_app.models import Patient, PatientChannel
from channels_app.services import channel_get_or_create, channel_record_outbound
from practices.models import Line, Practice

from .dispatch import dispatch_enqueue, message_sms_text
from .links import links_shorten
from .models import Message, MessageStatus, MessageStatusChange, OptOut, ShortLink
from .phrases import phrases_render
from .secure_links import secure_link_prepare, secure_link_save
from .segments import segments_count

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from webhooks.models import ApiClient, CallToTextWorkflow

logger = logging.getLogger(__name__)

MAX_BODY_LENGTH = 1600


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
        phone = phone_normalize(channel.phone, field="to")
    elif practice is None or to is None:
        raise TypeError("message_send needs a channel, or a practice and a `to` number.")
    else:
        phone = phone_normalize(to, field="to")
    if sender_kind not in Message.SenderKind.values or sender_kind == Message.SenderKind.PATIENT:
        raise ValueError(f"Not an outbound sender kind: {sender_kind!r}")
    body_check(body)
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
    body_check(text)

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


def phone_normalize(raw: str | PhoneNumber, *, field: str) -> str:
    """`raw` as a US number in E.164, or InvalidInput naming `field`."""
    try:
        return normalize_us_phone(raw)
    except ValidationError as exc:
        raise invalid_input_from(exc, field=field) from exc


def body_check(body: object) -> None:
    """Refuse an empty or too long text (`empty_body`, `body_too_long`)."""
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
