"""The secure portal: the patient's answers and replies (a feature above the inbound path).

A secure message's SMS is a notice with a link (`messaging.secure_links`, which the send path
uses). The link `/secure/<token>/` opens the portal (`messaging.portal_views`):

1. The patient confirms their date of birth (`secure_dob_check`).
2. A link opened more than SECURE_LINK_CODE_AFTER_HOURS after it was sent, superseded by a newer
   link in the same channel, or locked out before, also asks for a 5-digit one-time code texted
   to the patient's phone through the door for automated texts (`secure_code_send`,
   `secure_code_check`).
3. The patient reads the channel's secure messages and replies (`secure_reply`), which enters
   the inbound path as a secure inbound message (`messaging.inbound`).

Every answer is audited (`SecureAccessAttempt`); SECURE_LINK_MAX_FAILURES wrong answers in a row
(dates of birth and codes together) lock the link for SECURE_LINK_LOCKOUT_MINUTES.
"""

from __future__ import annotations

import datetime
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from artera.errors import ApplicationError, InvalidInput, NotFound, Refused
from artera.secrets import token_hash

from .inbound import message_receive_secure_reply
from .models import Message, SecureAccessAttempt, SecureLink
from .send import Automation, ToChannel, automated_send

if TYPE_CHECKING:
    from channels_app.models import PatientChannel

CODE_TEXT = (
    "Your {practice} security code is {code}. It expires in {minutes} minutes. "
    "Do not share it with anyone."
)
CODE_DIGITS = 5


# --- Finding a link --------------------------------------------------------------------------


def secure_link_get_by_token(token: str) -> SecureLink:
    """The link a portal URL names, or NotFound (also for malformed tokens)."""
    if not token or len(token) > 100:
        raise NotFound("No such link.", code="unknown_link")
    link = (
        SecureLink.objects.select_related("patient", "channel__practice", "channel__line")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if link is None:
        raise NotFound("No such link.", code="unknown_link")
    return link


def secure_code_required(link: SecureLink, *, at: datetime.datetime | None = None) -> bool:
    """Whether opening the link also asks for a texted code: it is old, superseded, or was
    locked out before (someone may have been guessing the date of birth)."""
    at = at or timezone.now()
    age = at - link.created_at
    return (
        age > datetime.timedelta(hours=settings.SECURE_LINK_CODE_AFTER_HOURS)
        or link.is_superseded
        or link.lockouts > 0
    )


# --- Answers: date of birth and code -------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """The outcome of one answer on the portal."""

    outcome: str  # a SecureAccessAttempt.Outcome
    attempts_left: int
    locked_until: datetime.datetime | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == SecureAccessAttempt.Outcome.OK


@dataclass(frozen=True)
class Client:
    """Who answered, for the audit row."""

    ip_address: str | None = None
    user_agent: str = ""


def secure_dob_check(
    *,
    link: SecureLink,
    date_of_birth: datetime.date,
    client: Client,
    at: datetime.datetime | None = None,
) -> Answer:
    """Check the date of birth the patient typed; a wrong one counts toward the lockout."""

    def matches(locked: SecureLink) -> bool:
        return locked.patient.date_of_birth == date_of_birth

    return _answer(link, kind=SecureAccessAttempt.Kind.DOB, matches=matches, client=client, at=at)


def secure_code_check(
    *, link: SecureLink, code: str, client: Client, at: datetime.datetime | None = None
) -> Answer:
    """Check a texted code; a wrong one counts toward the lockout, a right one is used up. An
    expired (or never sent) code is refused without counting: nothing was compared."""
    code = code.strip()

    def matches(locked: SecureLink) -> bool:
        return bool(locked.code_hash) and hmac.compare_digest(
            _code_hash(locked, code), locked.code_hash
        )

    return _answer(link, kind=SecureAccessAttempt.Kind.CODE, matches=matches, client=client, at=at)


def _answer(
    link: SecureLink,
    *,
    kind: str,
    matches: Callable[[SecureLink], bool],
    client: Client,
    at: datetime.datetime | None,
) -> Answer:
    at = at or timezone.now()
    outcome = SecureAccessAttempt.Outcome
    with transaction.atomic():
        # One answer at a time per link: parallel guesses cannot each see "4 failures so far".
        locked = (
            SecureLink.objects.select_for_update(of=("self",))
            .select_related("patient")
            .get(pk=link.pk)
        )
        fields: list[str] = []
        if locked.is_locked(at):
            result = outcome.LOCKED
        elif kind == SecureAccessAttempt.Kind.CODE and (
            locked.code_expires_at is None or at >= locked.code_expires_at
        ):
            result = outcome.CODE_EXPIRED
        elif matches(locked):
            result = outcome.OK
            locked.failed_attempts = 0
            fields.append("failed_attempts")
            if kind == SecureAccessAttempt.Kind.CODE:
                locked.code_hash, locked.code_expires_at = "", None
                fields += ["code_hash", "code_expires_at"]
        else:
            result = outcome.WRONG
            locked.failed_attempts += 1
            fields.append("failed_attempts")
            if locked.failed_attempts >= settings.SECURE_LINK_MAX_FAILURES:
                locked.failed_attempts = 0
                locked.lockouts += 1
                locked.locked_until = at + datetime.timedelta(
                    minutes=settings.SECURE_LINK_LOCKOUT_MINUTES
                )
                # A code texted before the lockout is void: the next one comes after it.
                locked.code_hash, locked.code_expires_at = "", None
                fields += ["lockouts", "locked_until", "code_hash", "code_expires_at"]
        if fields:
            locked.save(update_fields=fields)
        SecureAccessAttempt.objects.create(
            link=locked,
            kind=kind,
            success=result == outcome.OK,
            outcome=result,
            ip_address=client.ip_address or None,
            user_agent=client.user_agent[:300],
            at=at,
        )
    for name in ("failed_attempts", "locked_until", "lockouts", "code_hash", "code_expires_at"):
        setattr(link, name, getattr(locked, name))
    return Answer(
        outcome=result,
        attempts_left=settings.SECURE_LINK_MAX_FAILURES - locked.failed_attempts,
        locked_until=locked.locked_until if locked.is_locked(at) else None,
    )


def secure_code_send(*, link: SecureLink, at: datetime.datetime | None = None) -> bool:
    """Text a new one-time code to the patient's phone, through the send path (sender
    "automation", kind `SECURITY_CODE`: the code is the patient's secret, so staff never see
    the text, and it does not move the conversation up the inbox). Refused (False) while the
    link is locked, and within SECURE_CODE_RESEND_SECONDS of the last code, which stays valid.
    A send the path refuses (the number opted out, the line is off) raises `Refused`
    (`code_not_sent`) and stores no code."""
    at = at or timezone.now()
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    resend_after = at - datetime.timedelta(seconds=settings.SECURE_CODE_RESEND_SECONDS)
    minutes = settings.SECURE_CODE_TTL_MINUTES
    with transaction.atomic():
        locked = (
            SecureLink.objects.select_for_update(of=("self",))
            .select_related("channel__practice", "channel__line", "channel__patient")
            .get(pk=link.pk)
        )
        if locked.is_locked(at):
            return False
        if locked.code_sent_at is not None and locked.code_sent_at > resend_after:
            return False
        locked.code_hash = _code_hash(locked, code)
        locked.code_sent_at = at
        locked.code_expires_at = at + datetime.timedelta(minutes=minutes)
        locked.save(update_fields=["code_hash", "code_sent_at", "code_expires_at"])
        practice = locked.channel.practice
        sent = automated_send(
            to=ToChannel(locked.channel),
            sender=Automation(Message.Kind.SECURITY_CODE),
            body=CODE_TEXT.format(practice=practice.name, code=code, minutes=minutes),
            why="security code",
        )
        if sent is None:
            # Nothing was texted, so no code may be stored: undo the lines above.
            raise Refused(
                "The security code could not be texted to this number.", code="code_not_sent"
            )
    link.code_hash, link.code_sent_at = locked.code_hash, locked.code_sent_at
    link.code_expires_at = locked.code_expires_at
    return True


def _code_hash(link: SecureLink, code: str) -> str:
    # Keyed: a 5-digit code's plain hash would be reversed by trying all 100,000 of them.
    return hmac.new(
        settings.SECRET_KEY.encode(), f"artera.secure-code:{link.pk}:{code}".encode(), "sha256"
    ).hexdigest()


def secure_link_opened(*, link: SecureLink, at: datetime.datetime | None = None) -> None:
    """The patient got through: remember when (shown in the admin)."""
    at = at or timezone.now()
    SecureLink.objects.filter(pk=link.pk).update(last_opened_at=at)
    link.last_opened_at = at


# --- The thread and the reply --------------------------------------------------------------------


def secure_thread(link: SecureLink) -> QuerySet[Message]:
    """What the portal shows: the channel's secure messages, both ways, oldest first."""
    return (
        Message.objects.filter(channel_id=link.channel_id, is_secure=True)
        .filter(Q(direction=Message.Direction.OUTBOUND) | Q(sender_kind=Message.SenderKind.PATIENT))
        .order_by("created_at", "pk")
    )


def secure_reply(*, link: SecureLink, body: str, reply_key: str) -> Message:
    """The patient's answer on the portal: a secure inbound message in the link's channel,
    through the inbound path. `reply_key` (a UUID the form carries) makes a resubmitted form
    store nothing twice."""

    if not isinstance(body, str) or not body.strip():
        raise InvalidInput("Write your reply first.", code="empty_body", field="body")
    channel: PatientChannel = link.channel
    message = message_receive_secure_reply(channel=channel, body=body, reply_key=reply_key)
    if message.channel_id != channel.pk:
        raise ApplicationError("This reply was already sent.", code="duplicate_reply")
    return message
