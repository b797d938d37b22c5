"""Writes on patient channels that the send and inbound paths need.

Channels are found or created by the message services (`messaging.services`), never by views.
"""

from __future__ import annotations

import datetime
import re
import uuid
from typing import Any, TypeVar, cast

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from artera.db import insert_unless_conflict
from artera.errors import Conflict, InvalidInput, NotFound, Refused
from practices.models import Enterprise, Line, Practice, QuickResponse, SmartPhrase
from practices.selectors import practice_members

from .events import ChannelChanged, channel_changed_publish
from .models import (
    AuditLog,
    ChannelEvent,
    ChannelPresence,
    ChannelRead,
    InternalNote,
    Notification,
    Patient,
    PatientChannel,
    PatientPhone,
)

User = Any  # the auth user model
NOTE_MAX_LENGTH = 2000


def channel_get_or_create(
    *,
    practice: Practice,
    line: Line,
    phone: str,
    patient: Patient | None = None,
    activity_at: datetime.datetime | None = None,
) -> PatientChannel:
    """The conversation of `line` with `patient` (verified channel) or with the bare `phone`
    (unverified channel), created if it does not exist yet, with `activity_at` (default: now)
    as its last activity.

    Safe under concurrency: two requests that both miss create one channel between them (the
    loser of the unique constraint reads the winner's row). A patient's channel follows the
    number the patient was last texted at.
    """
    lookup = PatientChannel.objects.filter(practice=practice, line=line)
    lookup = (
        lookup.filter(patient=patient)
        if patient
        else lookup.filter(phone=phone, patient__isnull=True)
    )
    channel = lookup.first()
    if channel is None:
        known_id = None if patient else patient_known_for_phone(practice=practice, phone=phone)
        created = PatientChannel(
            practice=practice,
            line=line,
            patient=patient,
            phone=phone,
            known_patient_id=known_id,
            last_activity_at=activity_at or timezone.now(),
        )
        channel = created if insert_unless_conflict(created) else lookup.get()
    if patient is not None and channel.phone != phone:
        channel.phone = phone
        channel.save(update_fields=["phone"])
    return channel


def patient_known_for_phone(*, practice: Practice, phone: str) -> uuid.UUID | None:
    """The id of the one patient of the practice's enterprise with this number, when the
    enterprise lets practices see patients across the enterprise; None when it does not, when
    nobody has the number, or when several patients share it (naming one would be a guess).

    One lookup in the (enterprise, number) index of patients' phones."""
    if not practice.enterprise.allow_enterprise_patient_access:
        return None
    owners = list(
        PatientPhone.objects.filter(enterprise_id=practice.enterprise_id, number=phone)
        .values_list("patient_id", flat=True)
        .distinct()[:2]
    )
    return owners[0] if len(owners) == 1 else None


def channel_find_for_inbound(*, line: Line, phone: str) -> PatientChannel | None:
    """The number's most recently active conversation on `line`, or None when the number has
    never talked to this line. `messaging.routing` calls this only after its own rules (a
    standing shared-phone choice, the shared-phone prompt) have not decided."""
    return (
        PatientChannel.objects.filter(line=line, phone=phone)
        .select_related("patient")
        .order_by("-last_activity_at")
        .first()
    )


def channel_record_outbound(*, channel: PatientChannel, at: datetime.datetime) -> None:
    """An outbound message moves the conversation to the top of the inbox (a channel created
    for this message is there already)."""
    _changed(channel, "outbound")
    if channel.last_activity_at == at:
        return
    PatientChannel.objects.filter(pk=channel.pk).update(last_activity_at=at)
    channel.last_activity_at = at


def channel_record_inbound(*, channel: PatientChannel, at: datetime.datetime | None = None) -> None:
    """A patient's text (re)opens the conversation and asks staff to act on it; the patient
    waits from the first text nobody has answered yet."""
    channel.status = PatientChannel.Status.OPEN
    channel.needs_action = True
    channel.last_activity_at = at or timezone.now()
    if channel.waiting_since is None:
        channel.waiting_since = channel.last_activity_at
    channel.save(update_fields=["status", "needs_action", "last_activity_at", "waiting_since"])


def channel_answered(*, channel: PatientChannel) -> None:
    """Staff answered: the conversation no longer needs action and nobody is waiting."""
    if channel.needs_action or channel.waiting_since is not None:
        channel.needs_action = False
        channel.waiting_since = None
        channel.save(update_fields=["needs_action", "waiting_since"])


def patient_get_or_create_verified(
    *,
    enterprise: Enterprise,
    mrn: str,
    first_name: str = "",
    last_name: str = "",
    date_of_birth: datetime.date | None = None,
    phone: str | None = None,
) -> Patient:
    """The enterprise's patient with this MRN, as identified by the EMR (so: verified).

    An unknown MRN creates the patient when the names and date of birth are given (with
    `phone` as their number); without them it is refused (`unknown_patient`). An existing
    patient is taken as it is: the EMR's names do not overwrite ours, and `phone` is not added
    to their numbers (one message to a number does not make it theirs). A patient known by this
    MRN but not yet verified becomes verified: the EMR has now identified them.

    Safe under concurrency: two requests that both miss create one patient between them (the
    loser of the unique constraint reads the winner's row).
    """
    lookup = Patient.objects.filter(enterprise=enterprise, mrn=mrn)
    patient = lookup.first()
    if patient is None:
        if not (first_name and last_name and date_of_birth):
            raise Refused(
                "No patient of this enterprise has this MRN; give first_name, last_name and "
                "date_of_birth to add one.",
                code="unknown_patient",
                field="patient.mrn",
            )
        try:
            with transaction.atomic():
                patient = Patient.objects.create(
                    enterprise=enterprise,
                    mrn=mrn,
                    first_name=first_name,
                    last_name=last_name,
                    date_of_birth=date_of_birth,
                    is_verified=True,
                )
                if phone:
                    PatientPhone.objects.create(patient=patient, number=phone, is_primary=True)
        except IntegrityError:
            patient = lookup.get()
    if not patient.is_verified:
        patient.is_verified = True
        patient.save(update_fields=["is_verified", "updated_at"])
    return patient


def channel_close_automatically(*, channel: PatientChannel) -> None:
    """An inbound automation closes the conversation: nobody needs to act on it (the patient's
    next text reopens it)."""
    channel.status = PatientChannel.Status.CLOSED
    channel.needs_action = False
    channel.waiting_since = None
    channel.save(update_fields=["status", "needs_action", "waiting_since"])
    _changed(channel, "automation")


def channel_assign_automatically(*, channel: PatientChannel, user: AbstractBaseUser) -> None:
    """An inbound automation assigns the conversation (the automation checked that `user` is a
    member of the practice when it was configured)."""
    channel.assignee = user  # type: ignore[assignment]
    channel.save(update_fields=["assignee"])
    _changed(channel, "assigned")


# --- The collaborative inbox: what staff do in a conversation -----------------------------------
#
# Views check tenancy first (`channel_get_for_user`), then call one of these. Each one writes the
# change, the event the thread shows and, where HIPAA wants one, the audit row, in one
# transaction.

_MENTION_RE = re.compile(r"(?<![\w@])@([\w.+-]{1,150})")


def channel_start(*, patient: Patient, practice: Practice) -> PatientChannel:
    """The conversation of `practice` (its default line) with `patient`, created when needed,
    texting the patient's primary number. The caller checked both are the user's to use."""
    if patient.enterprise_id != practice.enterprise_id:
        raise NotFound("No such patient.", code="unknown_patient")
    phone = (
        PatientPhone.objects.filter(patient=patient)
        .order_by("-is_primary", "id")
        .values_list("number", flat=True)
        .first()
    )
    if phone is None:
        raise Refused("This patient has no phone number to text.", code="no_phone")
    line = Line.objects.filter(practice=practice, is_default=True, is_active=True).first()
    if line is None:
        raise Refused("This practice has no default line to text from.", code="no_default_line")
    return channel_get_or_create(practice=practice, line=line, phone=str(phone), patient=patient)


def channel_close(*, channel: PatientChannel, user: User) -> None:
    """Staff close the conversation: it leaves the open folder until the patient writes again."""
    _status_set(channel=channel, user=user, status=PatientChannel.Status.CLOSED)


def channel_reopen(*, channel: PatientChannel, user: User) -> None:
    _status_set(channel=channel, user=user, status=PatientChannel.Status.OPEN)


def _status_set(*, channel: PatientChannel, user: User, status: str) -> None:
    if channel.status == status:
        return
    with transaction.atomic():
        channel.status = status
        fields = ["status"]
        if status == PatientChannel.Status.CLOSED and (
            channel.needs_action or channel.waiting_since is not None
        ):
            channel.needs_action = False
            channel.waiting_since = None
            fields += ["needs_action", "waiting_since"]
        channel.save(update_fields=fields)
        kind = (
            ChannelEvent.Kind.CLOSED
            if status == PatientChannel.Status.CLOSED
            else ChannelEvent.Kind.REOPENED
        )
        ChannelEvent.objects.create(
            channel=channel, practice_id=channel.practice_id, kind=kind, actor=user
        )
        _changed(channel, "status", actor=user)


def channel_assign(*, channel: PatientChannel, user: User, assignee_id: object) -> None:
    """Assign the conversation to a member of its practice (`assignee_id` None: unassign).

    Someone who is not a member of the channel's practice is refused (`unknown_assignee`)."""
    assignee = None
    if assignee_id is not None:
        assignee = (
            practice_members(practice=channel.practice).filter(pk=_int_or_none(assignee_id)).first()
        )
        if assignee is None:
            raise NotFound("No such colleague in this practice.", code="unknown_assignee")
    if channel.assignee_id == (assignee.pk if assignee else None):
        return
    with transaction.atomic():
        channel.assignee = assignee
        channel.save(update_fields=["assignee"])
        ChannelEvent.objects.create(
            channel=channel,
            practice_id=channel.practice_id,
            kind=ChannelEvent.Kind.ASSIGNED if assignee else ChannelEvent.Kind.UNASSIGNED,
            actor=user,
            subject=assignee,
        )
        _changed(channel, "assigned", actor=user)


def channel_move(*, channel: PatientChannel, user: User, practice: Practice) -> PatientChannel:
    """Hand the conversation over to another practice of the same enterprise (a call center
    passing it to a clinic): it moves to that practice's default line, so the patient's next
    texts and staff's replies go through the new practice's number, and the thread records who
    moved it from where (a `moved` event).

    The messages keep the practice and line they were sent or received on (that is what
    happened, and what integrators were told), and so do earlier events. Both inboxes notice at
    their next look: the `moved` event is written under the practice it left (whose list must
    drop it), and the move is activity, so the conversation comes to the top of the new
    practice's list. An assignee who is not a member of the new practice is removed, and so
    are the presence marks of the old practice's viewers.

    Refused: a practice of another enterprise (`unknown_practice`, as if it did not exist), the
    same practice (`already_there`), one without an active default line (`no_default_line`),
    and one whose line already has this patient's (or this number's) conversation
    (`conversation_exists`)."""
    if practice.enterprise_id != channel.practice.enterprise_id:
        raise NotFound("No such practice.", code="unknown_practice", field="practice")
    if practice.pk == channel.practice_id:
        raise Refused("The conversation is already in this practice.", code="already_there")
    line = Line.objects.filter(practice=practice, is_default=True, is_active=True).first()
    if line is None:
        raise Refused(
            f"{practice.name} has no default line to take the conversation on.",
            code="no_default_line",
        )
    with transaction.atomic():
        locked = PatientChannel.objects.select_for_update().get(pk=channel.pk)
        clash = PatientChannel.objects.filter(practice=practice, line=line).exclude(pk=locked.pk)
        clash = (
            clash.filter(patient_id=locked.patient_id)
            if locked.patient_id
            else clash.filter(phone=locked.phone, patient__isnull=True)
        )
        if clash.exists():
            raise Conflict(
                f"{practice.name} already has a conversation with this patient on {line.name}.",
                code="conversation_exists",
            )
        origin = locked.practice_id
        locked.practice, locked.line = practice, line
        locked.last_activity_at = timezone.now()
        fields = ["practice", "line", "last_activity_at"]
        if (
            locked.assignee_id is not None
            and not practice_members(practice=practice).filter(pk=locked.assignee_id).exists()
        ):
            locked.assignee = None
            fields.append("assignee")
        locked.save(update_fields=fields)
        ChannelPresence.objects.filter(channel=locked).delete()
        ChannelEvent.objects.create(
            channel=locked,
            practice_id=origin,
            kind=ChannelEvent.Kind.MOVED,
            actor=user,
            from_practice_id=origin,
        )
    return locked


def channel_star_toggle(*, channel: PatientChannel, user: User) -> bool:
    """Star or unstar the conversation for `user` alone; returns whether it is now starred."""
    starred = channel.starred_by.filter(pk=user.pk).exists()
    if starred:
        channel.starred_by.remove(user)
    else:
        channel.starred_by.add(user)
    return not starred


def note_add(
    *, channel: PatientChannel, author: User, body: str, ip_address: str | None = None
) -> InternalNote:
    """An internal note; each `@username` of a member of the practice notifies that person.
    `ip_address` is the author's client address (`artera.clientaddr.client_ip`), for the audit
    log."""
    text = body.strip()
    if not text:
        raise InvalidInput("Write the note first.", code="empty_note", field="body")
    if len(text) > NOTE_MAX_LENGTH:
        raise InvalidInput(
            f"A note can be at most {NOTE_MAX_LENGTH} characters.",
            code="note_too_long",
            field="body",
        )
    names = {name.rstrip(".").lower() for name in _MENTION_RE.findall(text)}
    mentioned: list[Any] = []
    with transaction.atomic():
        note = InternalNote.objects.create(channel=channel, author=author, body=text)
        if names:
            mentioned = [
                member
                for member in practice_members(practice=channel.practice)
                if member.get_username().lower() in names and member.pk != author.pk
            ]
            Notification.objects.bulk_create(
                Notification(
                    user=member, kind=Notification.Kind.MENTION, channel=channel, note=note
                )
                for member in mentioned
            )
        AuditLog.objects.create(
            user=author,
            action=AuditLog.Action.NOTE_ADDED,
            channel_id=channel.pk,
            ip_address=ip_address,
        )
        _changed(channel, "note", actor=author, mentioned=tuple(m.pk for m in mentioned))
    return note


def channel_viewed(*, channel: PatientChannel, user: User, ip_address: str | None = None) -> None:
    """A staff member opened the conversation: audit it, mark it read, and note their presence."""
    now = timezone.now()
    AuditLog.objects.create(
        user=user,
        action=AuditLog.Action.CHANNEL_VIEWED,
        channel_id=channel.pk,
        ip_address=ip_address,
        at=now,
    )
    channel_read_mark(channel=channel, user=user, at=now)
    presence_touch(channel=channel, user=user, at=now)
    _changed(channel, "presence", actor=user)


def presence_touch(
    *, channel: PatientChannel, user: User, at: datetime.datetime | None = None
) -> None:
    _per_user_upsert(ChannelPresence, channel=channel, user=user, last_seen_at=at or timezone.now())


def presence_leave(*, channel: PatientChannel, user: User) -> None:
    if ChannelPresence.objects.filter(channel=channel, user=user).delete()[0]:
        _changed(channel, "presence", actor=user)


def channel_read_mark(*, channel: PatientChannel, user: User, at: datetime.datetime) -> None:
    """`user` has read `channel` up to `at` (the inbox's unread marker)."""
    _per_user_upsert(ChannelRead, channel=channel, user=user, read_at=at)


_PerUser = TypeVar("_PerUser", ChannelRead, ChannelPresence)


def _per_user_upsert(
    model: type[_PerUser],
    *,
    channel: PatientChannel,
    user: User,
    **values: Any,
) -> None:
    """Set `values` on the user's row of the channel, creating it if missing: one
    `INSERT … ON CONFLICT (channel, user) DO UPDATE`, where `update_or_create` takes a savepoint,
    a locking SELECT and a write (every page view and presence ping does this)."""
    model.objects.bulk_create(
        [model(channel=channel, user=user, **values)],
        update_conflicts=True,
        unique_fields=["channel", "user"],
        update_fields=list(values),
    )


def notifications_mark_read(*, user: User, channel: PatientChannel) -> None:
    Notification.objects.filter(user=user, channel=channel, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def quick_response_save(
    *,
    practice: Practice,
    topic: str,
    text: str,
    language: str = "en",
    response: QuickResponse | None = None,
) -> QuickResponse:
    """Add or change one of a practice's quick responses (the caller checked the manager)."""
    response = response or QuickResponse(practice=practice)
    if response.practice_id != practice.pk:
        raise NotFound("No such quick response.", code="unknown_quick_response")
    response.topic, response.text, response.language = topic.strip(), text.strip(), language
    _full_clean(response)
    response.save()
    return response


def smart_phrase_save(
    *, owner: User, enterprise_id: object, name: str, text: str, phrase: SmartPhrase | None = None
) -> SmartPhrase:
    """Add or change a staff member's own smart phrase."""
    phrase = phrase or SmartPhrase(owner=owner, enterprise_id=cast(uuid.UUID, enterprise_id))
    if phrase.owner_id != owner.pk:
        raise NotFound("No such smart phrase.", code="unknown_smart_phrase")
    phrase.name, phrase.text = name.strip(), text.strip()
    _full_clean(phrase)
    phrase.save()
    return phrase


def _changed(
    channel: PatientChannel, kind: str, *, actor: Any = None, mentioned: tuple[int, ...] = ()
) -> None:
    channel_changed_publish(
        ChannelChanged(
            channel_id=channel.pk,
            practice_id=channel.practice_id,
            kind=kind,
            actor_id=actor.pk if actor is not None else None,
            assignee_id=channel.assignee_id,
            mentioned_ids=mentioned,
        )
    )


def _full_clean(obj: Any) -> None:
    try:
        obj.full_clean()
    except ValidationError as exc:
        field_name, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(messages[0], code="invalid", field=field_name) from exc


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None
