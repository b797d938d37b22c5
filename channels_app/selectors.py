"""Reads of patients and channels that serve a user. Every query here is scoped by tenancy.

`channel_list_for_user` and `channel_get_for_user` are the gate: a channel reaches a page only
through them, and both start from the practices the user is a member of.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Exists, F, Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from artera.errors import NotFound
from messaging.models import Message, MessageStatus, MpspPrompt
from practices.models import (
    BUILTIN_SMART_PHRASES,
    Enterprise,
    Practice,
    QuickResponse,
    SmartPhrase,
)
from practices.selectors import practice_list_for_user

from .models import (
    ChannelEvent,
    ChannelPresence,
    ChannelRead,
    InternalNote,
    Patient,
    PatientChannel,
)

INBOX_STATUSES = ("open", "closed", "all")
INBOX_ASSIGNED = ("me", "unassigned")
# Who counts as "also viewing": their page refreshes its presence every 10 seconds.
PRESENCE_WINDOW = datetime.timedelta(seconds=25)
# The thread shows this many of the latest messages (older ones stay in admin and the API).
THREAD_MESSAGE_LIMIT = 200
User = Any  # the auth user model (kept loose: django-stubs types request.user as a union)


@dataclass(frozen=True)
class InboxFilters:
    status: str = "open"
    practice_id: str | None = None
    assigned: str | None = None  # "me" | "unassigned" | None
    q: str = ""
    # Keyset cursor: the (last_activity_at, id) of the last row of the previous page.
    after: tuple[datetime.datetime, uuid.UUID] | None = None

    @classmethod
    def from_query(cls, params: dict[str, str]) -> InboxFilters:
        """Parse the inbox's query string; unknown values fall back to the defaults."""
        # PostgreSQL refuses NUL in text: a crafted URL must not turn into a server error.
        params = {key: value.replace("\x00", "") for key, value in params.items()}
        status = params.get("status", "open")
        assigned = params.get("assigned") or None
        return cls(
            status=status if status in INBOX_STATUSES else "open",
            practice_id=params.get("practice") or None,
            assigned=assigned if assigned in INBOX_ASSIGNED else None,
            q=(params.get("q") or "").strip()[:100],
            after=_cursor_parse(params.get("after") or ""),
        )

    def query(self, **overrides: str | None) -> str:
        """The query string of these filters (without the cursor), for links and polls."""
        params = {
            "status": self.status,
            "practice": self.practice_id,
            "assigned": self.assigned,
            "q": self.q,
        }
        params.update(overrides)
        from urllib.parse import urlencode

        return urlencode({k: v for k, v in params.items() if v})


def channel_list_for_user(
    *, user: AbstractBaseUser | AnonymousUser, filters: InboxFilters | None = None
) -> QuerySet[PatientChannel]:
    """The channels of the practices `user` belongs to, newest activity first.

    A `practice` filter naming a practice the user does not belong to matches nothing (it is
    intersected with the user's practices, never trusted on its own). Each row carries the last
    message's body and direction, whether the user starred it and whether a patient's text
    arrived after the user last read it (`is_unread`).
    """
    filters = filters or InboxFilters()
    practices = practice_list_for_user(user=user)
    channels = PatientChannel.objects.filter(practice__in=practices)
    if filters.status != "all":
        channels = channels.filter(status=filters.status)
    if filters.practice_id:
        channels = channels.filter(Q(practice_id=_uuid_or_none(filters.practice_id)))
    if filters.assigned == "me":
        channels = channels.filter(assignee_id=user.pk)
    elif filters.assigned == "unassigned":
        channels = channels.filter(assignee__isnull=True)
    if filters.q:
        channels = channels.filter(_search_condition(filters.q))
    last_message = Message.objects.filter(channel=OuterRef("pk")).order_by("-created_at")
    last_inbound = last_message.filter(direction=Message.Direction.INBOUND)
    read_at = ChannelRead.objects.filter(channel=OuterRef("pk"), user_id=_user_id(user))
    starred = PatientChannel.starred_by.through.objects.filter(
        patientchannel_id=OuterRef("pk"), user_id=_user_id(user)
    )
    return (
        channels.select_related("patient", "known_patient", "line", "practice", "assignee")
        .annotate(
            last_message_body=Subquery(last_message.values("body")[:1]),
            last_message_direction=Subquery(last_message.values("direction")[:1]),
            last_message_secure=Subquery(last_message.values("is_secure")[:1]),
            last_inbound_at=Subquery(last_inbound.values("created_at")[:1]),
            read_at=Subquery(read_at.values("read_at")[:1]),
            is_starred=Exists(starred),
        )
        .order_by("-last_activity_at", "-id")
    )


@dataclass
class ChannelPage:
    rows: list[PatientChannel]
    next_cursor: str | None


def channel_page_for_user(
    *, user: AbstractBaseUser | AnonymousUser, filters: InboxFilters, size: int = 50
) -> ChannelPage:
    """One page of the inbox, by keyset (the last row's activity time and id), so page 2000 is
    as cheap as page 1 with the inbox index."""
    channels = channel_list_for_user(user=user, filters=filters)
    if filters.after is not None:
        at, pk = filters.after
        channels = channels.filter(Q(last_activity_at__lt=at) | Q(last_activity_at=at, id__lt=pk))
    rows = list(channels[: size + 1])
    for row in rows:
        row.is_unread = bool(  # type: ignore[attr-defined]
            row.last_inbound_at  # type: ignore[attr-defined]
            and (row.read_at is None or row.last_inbound_at > row.read_at)  # type: ignore[attr-defined]
        )
    if len(rows) <= size:
        return ChannelPage(rows=rows, next_cursor=None)
    last = rows[size - 1]
    return ChannelPage(
        rows=rows[:size], next_cursor=f"{last.last_activity_at.isoformat()}~{last.pk}"
    )


def inbox_stamp(*, user: AbstractBaseUser | AnonymousUser) -> str:
    """A short fingerprint of everything the inbox list shows for `user`: it changes when a
    conversation gets a message (activity time) or staff close, reopen or assign one (events).
    Two indexed MAX queries, so an unchanged poll costs almost nothing."""
    practices = practice_list_for_user(user=user)
    activity = PatientChannel.objects.filter(practice__in=practices).aggregate(
        at=Max("last_activity_at")
    )["at"]
    event = ChannelEvent.objects.filter(practice__in=practices).aggregate(id=Max("id"))["id"]
    return _fingerprint(activity, event)


def channel_get_for_user(
    *, user: AbstractBaseUser | AnonymousUser, channel_id: object
) -> PatientChannel:
    """The channel `channel_id` if it belongs to one of the user's practices.

    Raises the same `NotFound` for a channel that does not exist, one of another practice, and
    an id that is not a UUID, so the answer tells an outsider nothing.
    """
    pk = _uuid_or_none(str(channel_id))
    channel = (
        PatientChannel.objects.filter(pk=pk, practice__in=practice_list_for_user(user=user))
        .select_related("patient", "known_patient", "line", "practice__enterprise", "assignee")
        .first()
        if pk is not None
        else None
    )
    if channel is None:
        raise NotFound("No such conversation.", code="unknown_channel")
    return channel


def channel_stamp_for_user(*, user: AbstractBaseUser | AnonymousUser, channel_id: object) -> str:
    """A fingerprint of everything the thread shows: one query, tenancy included.

    It changes with a new message, a delivery status, a note, an event, and the channel's own
    status, assignee and activity time. Raises `NotFound` like `channel_get_for_user`.
    """
    pk = _uuid_or_none(str(channel_id))
    messages = Message.objects.filter(channel=OuterRef("pk"))
    row = (
        PatientChannel.objects.filter(pk=pk, practice__in=practice_list_for_user(user=user))
        .annotate(
            message_at=Subquery(messages.order_by("-created_at").values("created_at")[:1]),
            status_at=Subquery(
                messages.order_by(F("status_changed_at").desc(nulls_last=True)).values(
                    "status_changed_at"
                )[:1]
            ),
            note_id=Subquery(
                InternalNote.objects.filter(channel=OuterRef("pk")).order_by("-id").values("id")[:1]
            ),
            event_id=Subquery(
                ChannelEvent.objects.filter(channel=OuterRef("pk")).order_by("-id").values("id")[:1]
            ),
        )
        .values_list(
            "status",
            "assignee_id",
            "needs_action",
            "last_activity_at",
            "message_at",
            "status_at",
            "note_id",
            "event_id",
        )
        .first()
        if pk is not None
        else None
    )
    if row is None:
        raise NotFound("No such conversation.", code="unknown_channel")
    return _fingerprint(*row)


@dataclass
class ThreadEntry:
    kind: str  # "message" | "note" | "event" | "failure" | "mpsp"
    at: datetime.datetime
    item: Any
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Thread:
    entries: list[ThreadEntry]
    latest_message: Message | None
    truncated: bool


def channel_thread(*, channel: PatientChannel) -> Thread:
    """The thread of a channel the caller has already been allowed to see: messages (with
    their status history), internal notes, staff events, delivery failures and shared-phone
    choices, oldest first. A fixed number of queries whatever the thread's length."""
    messages = list(
        Message.objects.filter(channel=channel)
        .select_related("sender_user", "sender_api_client", "sender_workflow")
        .prefetch_related("status_history")
        .order_by("-created_at")[: THREAD_MESSAGE_LIMIT + 1]
    )
    truncated = len(messages) > THREAD_MESSAGE_LIMIT
    messages = messages[:THREAD_MESSAGE_LIMIT][::-1]
    since = messages[0].created_at if truncated else None
    entries = [ThreadEntry("message", m.created_at, m) for m in messages]
    for message in messages:
        if message.direction == Message.Direction.OUTBOUND and message.status in (
            MessageStatus.FAILED,
            MessageStatus.UNDELIVERED,
        ):
            entries.append(
                ThreadEntry("failure", message.status_changed_at or message.created_at, message)
            )
    notes = InternalNote.objects.filter(channel=channel).select_related("author")
    events = ChannelEvent.objects.filter(channel=channel).select_related("actor", "subject")
    prompts = MpspPrompt.objects.filter(chosen_channel=channel, resolved_at__isnull=False)
    if since is not None:
        notes, events = notes.filter(created_at__gte=since), events.filter(created_at__gte=since)
        prompts = prompts.filter(resolved_at__gte=since)
    entries += [ThreadEntry("note", n.created_at, n) for n in notes]
    entries += [ThreadEntry("event", e.created_at, e) for e in events]
    for prompt in prompts:
        chosen: dict[str, Any] = next(
            (o for o in prompt.options if o.get("channel_id") == str(channel.pk)),
            {},
        )
        entries.append(
            ThreadEntry(
                "mpsp",
                prompt.resolved_at or prompt.created_at,
                prompt,
                {"label": chosen.get("full_name") or chosen.get("label") or ""},
            )
        )
    entries.sort(key=lambda entry: entry.at)
    return Thread(
        entries=entries, latest_message=messages[-1] if messages else None, truncated=truncated
    )


def channel_viewers(
    *, channel: PatientChannel, user: AbstractBaseUser | AnonymousUser
) -> list[Any]:
    """The other staff members who have this conversation open right now."""
    since = timezone.now() - PRESENCE_WINDOW
    rows = (
        ChannelPresence.objects.filter(channel=channel, last_seen_at__gte=since)
        .exclude(user_id=_user_id(user))
        .select_related("user")
        .order_by("user__first_name", "user__username")
    )
    return [row.user for row in rows]


def quick_responses_by_topic(*, channel: PatientChannel) -> list[tuple[str, list[QuickResponse]]]:
    """The practice's quick responses grouped by topic, topics in alphabetical order."""
    groups: dict[str, list[QuickResponse]] = {}
    for response in QuickResponse.objects.filter(practice_id=channel.practice_id).order_by(
        "topic", "position", "id"
    ):
        groups.setdefault(response.topic, []).append(response)
    return list(groups.items())


@dataclass(frozen=True)
class PhraseChoice:
    name: str
    description: str
    kind: str  # "builtin" | "general" | "mine"


def smart_phrases_for_user(
    *, user: AbstractBaseUser | AnonymousUser, enterprise_id: object
) -> list[PhraseChoice]:
    """The phrases a staff member can insert: built-in ones, the enterprise's general ones,
    and their own (which shadow a general one of the same name)."""
    choices = {
        name: PhraseChoice(name, description, "builtin")
        for name, description in BUILTIN_SMART_PHRASES.items()
    }
    rows = SmartPhrase.objects.filter(
        Q(owner__isnull=True) | Q(owner_id=user.pk), enterprise_id=cast(uuid.UUID, enterprise_id)
    ).order_by(F("owner_id").asc(nulls_first=True), "name")
    for phrase in rows:
        choices[phrase.name] = PhraseChoice(
            phrase.name, phrase.text[:80], "mine" if phrase.owner_id else "general"
        )
    return sorted(
        choices.values(), key=lambda c: ({"mine": 0, "general": 1}.get(c.kind, 2), c.name)
    )


def smart_phrases_owned(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[SmartPhrase]:
    return SmartPhrase.objects.filter(owner_id=user.pk).select_related("enterprise")


def patients_search_for_user(
    *, user: AbstractBaseUser | AnonymousUser, q: str, limit: int = 10
) -> list[Patient]:
    """Patients anywhere in the enterprise matching `q`, for the enterprises of the user's
    practices that allow enterprise-wide patient access (none otherwise)."""
    if not q:
        return []
    enterprises = Enterprise.objects.filter(
        practices__in=practice_list_for_user(user=user), allow_enterprise_patient_access=True
    )
    condition = _patient_search_condition(q, prefix="")
    return list(
        Patient.objects.filter(condition, enterprise__in=enterprises)
        .distinct()
        .order_by("last_name", "first_name")[:limit]
    )


def practice_for_conversation_start(
    *, user: AbstractBaseUser | AnonymousUser, enterprise_id: uuid.UUID, practice_id: str | None
) -> Practice:
    """The practice of `user` in which to open a conversation with one of the enterprise's
    patients: the one named by `practice_id`, or the user's first practice of that enterprise.
    A practice that is not the user's, or an id that is not one, is `unknown_practice`."""
    practices = practice_list_for_user(user=user).filter(enterprise_id=enterprise_id)
    if practice_id:
        pk = _uuid_or_none(practice_id)
        practices = practices.filter(pk=pk) if pk else practices.none()
    practice = practices.first()
    if practice is None:
        raise NotFound("No such practice.", code="unknown_practice")
    return practice


def patient_get_for_user(*, user: AbstractBaseUser | AnonymousUser, patient_id: object) -> Patient:
    """A patient the enterprise-wide search may show `user` (`NotFound` otherwise)."""
    pk = _uuid_or_none(str(patient_id))
    enterprises = Enterprise.objects.filter(
        practices__in=practice_list_for_user(user=user), allow_enterprise_patient_access=True
    )
    patient = Patient.objects.filter(pk=pk, enterprise__in=enterprises).first() if pk else None
    if patient is None:
        raise NotFound("No such patient.", code="unknown_patient")
    return patient


def _search_condition(q: str) -> Q:
    return (
        _patient_search_condition(q, prefix="patient__")
        | _patient_search_condition(q, prefix="known_patient__")
        | _phone_condition(q, "phone")
    )


def _patient_search_condition(q: str, *, prefix: str) -> Q:
    words = [w for w in re.split(r"\s+", q) if w and not w.isdigit()]
    condition = Q()
    for word in words:
        condition &= Q(**{f"{prefix}first_name__icontains": word}) | Q(
            **{f"{prefix}last_name__icontains": word}
        )
    if not words:
        condition = Q(pk__in=[])
    if prefix == "":
        condition |= _phone_condition(q, "phones__number") | Q(mrn__iexact=q)
    return condition


def _phone_condition(q: str, field_name: str) -> Q:
    digits = re.sub(r"\D", "", q)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) < 3:
        return Q(pk__in=[])
    return Q(**{f"{field_name}__contains": digits})


def _user_id(user: AbstractBaseUser | AnonymousUser) -> int:
    return cast(int, user.pk)


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _cursor_parse(raw: str) -> tuple[datetime.datetime, uuid.UUID] | None:
    at_text, _, pk_text = raw.partition("~")
    at = parse_datetime(at_text.replace(" ", "+")) if at_text else None
    pk = _uuid_or_none(pk_text)
    if at is None or pk is None or timezone.is_naive(at):
        return None
    return at, uuid.UUID(pk)


def _uuid_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
