"""Reads of patients and channels that serve a user. Every query here is scoped by tenancy.

`channel_page_for_user` and `channel_get_for_user` are the gate: a channel reaches a page only
through them, and both start from the practices the user is a member of.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import operator
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection
from django.db.models import BooleanField, Exists, F, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from artera.errors import NotFound
from channels_app.models import (
    ChannelEvent,
    ChannelPresence,
    ChannelRead,
    InternalNote,
    Patient,
    PatientChannel,
    PatientPhone,
)
from messaging.models import (
    ErrorCode,
    Message,
    MessageStatus,
    MessageStatusChange,
    MpspPrompt,
    OptOut,
)
from messaging.phrases import phrases_render
from practices.models import (
    BUILTIN_SMART_PHRASES,
    Enterprise,
    Line,
    Practice,
    QuickResponse,
    SmartPhrase,
)
from practices.selectors import practice_list_for_user

INBOX_STATUSES = ("open", "closed", "all")
INBOX_ASSIGNED = ("me", "unassigned")
INBOX_FLAGS = ("action", "starred")  # needs action; starred by the user
INBOX_SORTS = ("recent", "waiting")  # newest activity first; longest waiting first
# Who counts as "also viewing": their page refreshes its presence every 10 seconds.
PRESENCE_WINDOW = datetime.timedelta(seconds=25)
# A thread opens on this many of its latest messages; older ones load a page at a time.
THREAD_PAGE_SIZE = 50
# The live timeline (everything from the oldest message the open page showed) stops growing here.
THREAD_LIVE_LIMIT = 1000
# What the thread shows of a message (`channel_thread` reads nothing else).
THREAD_MESSAGE_FIELDS = (
    "id",
    "channel_id",
    "created_at",
    "direction",
    "body",
    "kind",
    "is_secure",
    "status",
    "error_code",
    "status_changed_at",
    "sender_kind",
    "sender_user__username",
    "sender_user__first_name",
    "sender_user__last_name",
    "sender_api_client__name",
)
User = Any  # the auth user model (kept loose: django-stubs types request.user as a union)


@dataclass(frozen=True)
class InboxFilters:
    status: str = "open"
    practice_id: str | None = None
    assigned: str | None = None  # "me" | "unassigned" | None
    q: str = ""
    flag: str | None = None  # "action" | "starred" | None
    sort: str = "recent"  # "recent" | "waiting"
    # Keyset cursor: the (last_activity_at, id) of the last row of the previous page (with
    # sort=waiting, its (waiting_since, id)).
    after: tuple[datetime.datetime, uuid.UUID] | None = None

    @property
    def waiting(self) -> bool:
        """Longest waiting first: only conversations someone must answer, oldest wait first."""
        return self.sort == "waiting"

    @property
    def order(self) -> tuple[str, str]:
        return ("waiting_since", "id") if self.waiting else ("-last_activity_at", "-id")

    @classmethod
    def from_query(cls, params: dict[str, str]) -> InboxFilters:
        """Parse the inbox's query string; unknown values fall back to the defaults."""
        # PostgreSQL refuses NUL in text: a crafted URL must not turn into a server error.
        params = {key: value.replace("\x00", "") for key, value in params.items()}
        status = params.get("status", "open")
        assigned = params.get("assigned") or None
        flag = params.get("flag") or None
        sort = params.get("sort") or "recent"
        return cls(
            status=status if status in INBOX_STATUSES else "open",
            practice_id=params.get("practice") or None,
            assigned=assigned if assigned in INBOX_ASSIGNED else None,
            flag=flag if flag in INBOX_FLAGS else None,
            sort=sort if sort in INBOX_SORTS else "recent",
            q=(params.get("q") or "").strip()[:100],
            after=_cursor_parse(params.get("after") or ""),
        )

    def query(self, **overrides: str | None) -> str:
        """The query string of these filters (without the cursor), for links and polls."""
        params = {
            "status": self.status,
            "practice": self.practice_id,
            "assigned": self.assigned,
            "flag": self.flag,
            "sort": None if self.sort == "recent" else self.sort,
            "q": self.q,
        }
        params.update(overrides)
        from urllib.parse import urlencode

        return urlencode({k: v for k, v in params.items() if v})


def _channels_filtered(
    *, filters: InboxFilters, user: AbstractBaseUser | AnonymousUser
) -> QuerySet[PatientChannel]:
    """Channels of any practice that pass the folder, assignee and cursor filters (the caller
    scopes them to the user's practices and applies the search)."""
    channels = PatientChannel.objects.all()
    if filters.status != "all":
        channels = channels.filter(status=filters.status)
    if filters.assigned == "me":
        channels = channels.filter(assignee_id=user.pk)
    elif filters.assigned == "unassigned":
        channels = channels.filter(assignee__isnull=True)
    if filters.flag == "action" or filters.waiting:
        channels = channels.filter(needs_action=True)
    if filters.waiting:
        channels = channels.filter(waiting_since__isnull=False)
    if filters.flag == "starred":
        channels = channels.filter(
            Exists(
                PatientChannel.starred_by.through.objects.filter(
                    patientchannel_id=OuterRef("pk"), user_id=_user_id(user)
                )
            )
        )
    if filters.after is not None and filters.waiting:
        at, pk = filters.after
        channels = channels.filter(
            Q(waiting_since__gte=at),
            Q(waiting_since__gt=at) | Q(waiting_since=at, id__gt=pk),
        )
    elif filters.after is not None:
        at, pk = filters.after
        # The first condition is implied by the other two; it is what lets the index scan
        # start at the cursor instead of walking every newer row.
        channels = channels.filter(
            Q(last_activity_at__lte=at),
            Q(last_activity_at__lt=at) | Q(last_activity_at=at, id__lt=pk),
        )
    return channels


def _with_inbox_columns(
    channels: QuerySet[PatientChannel],
    *,
    user: AbstractBaseUser | AnonymousUser,
    order: tuple[str, str] = ("-last_activity_at", "-id"),
) -> QuerySet[PatientChannel]:
    """What a row of the inbox shows: each column is one index probe per row (the last
    message by `message_thread`, the read mark and the star by their unique keys).

    The preview is the last message that people wrote (the patient, staff, the EMR): never a
    security code (the patient's secret), and no text the platform sent on its own (an
    after-hours reply, a STOP confirmation, an auto-reply) hides what the patient last said."""
    last_message = Message.objects.filter(
        channel=OuterRef("pk"), kind=Message.Kind.CONVERSATION
    ).order_by("-created_at")
    last_inbound = last_message.filter(direction=Message.Direction.INBOUND)
    read_at = ChannelRead.objects.filter(channel=OuterRef("pk"), user_id=_user_id(user))
    starred = PatientChannel.starred_by.through.objects.filter(
        patientchannel_id=OuterRef("pk"), user_id=_user_id(user)
    )
    return channels.annotate(
        last_message_body=Subquery(last_message.values("body")[:1]),
        last_message_direction=Subquery(last_message.values("direction")[:1]),
        last_message_secure=Subquery(last_message.values("is_secure")[:1]),
        last_inbound_at=Subquery(last_inbound.values("created_at")[:1]),
        read_at=Subquery(read_at.values("read_at")[:1]),
        is_starred=Exists(starred),
    ).order_by(*order)


@dataclass
class ChannelPage:
    rows: list[PatientChannel]
    next_cursor: str | None


def channel_page_for_user(
    *, user: AbstractBaseUser | AnonymousUser, filters: InboxFilters, size: int = 50
) -> ChannelPage:
    """One page of the inbox, by keyset (the last row's activity time and id), so page 2000 is
    as cheap as page 1.

    Three queries, whatever the number of channels or practices: the user's practices, the page,
    the page's lines. In the page query, each practice gives its newest `size + 1` matching ids
    straight from its `channel_inbox_*` index (practice, status, activity, id), and only the
    rows of the merged page get their last message, read mark and star. (A plain
    `practice IN (…)` makes the database filter and sort all of the user's channels instead.)
    Practices and lines are read apart: joined into the page query, they made it cost more to
    plan than to run.
    """
    practices = {practice.pk: practice for practice in practice_list_for_user(user=user)}
    practice_ids = list(practices)
    enterprise_ids = {practice.enterprise_id for practice in practices.values()}
    if filters.practice_id:
        wanted = _uuid_or_none(filters.practice_id)
        practice_ids = [pk for pk in practice_ids if str(pk) == wanted]
    if not practice_ids:
        return ChannelPage(rows=[], next_cursor=None)
    filtered = _channels_filtered(filters=filters, user=user)
    # Each way a channel can match the search (or the whole folder) is read off its own index,
    # for each practice.
    conditions = (
        _search_conditions(filters.q, enterprise_ids=enterprise_ids) if filters.q else [Q()]
    )
    ways = [filtered.filter(condition) for condition in conditions]
    newest = [
        way.filter(practice_id=pk).order_by(*filters.order).values("id")[: size + 1]
        for way in ways
        for pk in practice_ids
    ]
    if not newest:
        return ChannelPage(rows=[], next_cursor=None)
    if len(newest) == 1:
        page_ids = newest[0]
    elif connection.features.supports_slicing_ordering_in_compound:
        page_ids = newest[0].union(*newest[1:], all=True)
    else:  # SQLite, the zero-setup default: no LIMIT inside a UNION
        matching = filtered.filter(functools.reduce(operator.or_, conditions))
        page_ids = matching.filter(practice_id__in=practice_ids).values("id")
    channels = _with_inbox_columns(
        PatientChannel.objects.filter(id__in=page_ids).select_related(
            "patient", "known_patient", "assignee"
        ),
        user=user,
        order=filters.order,
    )
    rows = list(channels[: size + 1])
    lines = Line.objects.order_by().in_bulk({row.line_id for row in rows}) if rows else {}
    for row in rows:
        row.practice, row.line = practices[row.practice_id], lines[row.line_id]
        row.is_unread = bool(  # type: ignore[attr-defined]
            row.last_inbound_at  # type: ignore[attr-defined]
            and (row.read_at is None or row.last_inbound_at > row.read_at)  # type: ignore[attr-defined]
        )
    if len(rows) <= size:
        return ChannelPage(rows=rows, next_cursor=None)
    last = rows[size - 1]
    at = (last.waiting_since if filters.waiting else None) or last.last_activity_at
    return ChannelPage(rows=rows[:size], next_cursor=f"{at.isoformat()}~{last.pk}")


def inbox_stamp(*, user: AbstractBaseUser | AnonymousUser) -> str:
    """A short fingerprint of everything the inbox list shows for `user`: it changes when a
    conversation gets a message (activity time) or staff close, reopen or assign one (events).

    One query: per practice of the user, its newest activity time and newest event id, each an
    index probe (`channel_inbox_all`, `channelevent_practice`). A `MAX` over all the user's
    channels would read every one of them on every poll.
    """
    newest_activity = (
        PatientChannel.objects.filter(practice=OuterRef("pk"))
        .order_by("-last_activity_at")
        .values("last_activity_at")[:1]
    )
    newest_event = (
        ChannelEvent.objects.filter(practice=OuterRef("pk")).order_by("-id").values("id")[:1]
    )
    newest = (
        practice_list_for_user(user=user)
        .annotate(
            practice_activity=Subquery(newest_activity), practice_event=Subquery(newest_event)
        )
        .aggregate(activity=Max("practice_activity"), event=Max("practice_event"))
    )
    return _fingerprint(newest["activity"], newest["event"])


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


class StatusStep(NamedTuple):
    """One step of a message's status history, as the thread shows it."""

    status: str
    error_code: str
    at: datetime.datetime


@dataclass
class ThreadEntry:
    kind: str  # "message" | "security_code" | "note" | "event" | "failure" | "mpsp"
    at: datetime.datetime
    item: Any
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Thread:
    entries: list[ThreadEntry]
    latest_message: Message | None
    # The cursor of the oldest message shown, when older ones exist: "Load earlier messages"
    # asks for the page before it, and the live timeline keeps everything from it on.
    older: str | None
    # Opened at a message (`channel_thread_at`): the cursor the live timeline keeps from.
    start: str | None = None


Cursor = tuple[datetime.datetime, uuid.UUID]


def channel_thread(*, channel: PatientChannel, since: str = "") -> Thread:
    """The live end of a channel's thread (the caller has been allowed to see the channel):
    its latest `THREAD_PAGE_SIZE` messages, or, with `since` (a cursor the thread handed out as
    `older`), every message from that one on, so that a page left open keeps what it showed as
    new messages arrive (up to `THREAD_LIVE_LIMIT`). Notes, staff events, delivery failures and
    shared-phone choices of the same stretch of time come with them, oldest first."""
    start = _cursor_parse(since) if since else None
    if start is None:
        return _thread_window(channel, limit=THREAD_PAGE_SIZE)
    return _thread_window(channel, from_=start, limit=THREAD_LIVE_LIMIT)


# A thread opened at a message (a search hit) starts this many messages before it.
THREAD_CONTEXT_BEFORE = 5


def channel_thread_at(*, channel: PatientChannel, message_id: object) -> Thread | None:
    """The thread opened at one of its messages (a search hit): from a few messages before it
    to the newest (the live timeline keeps that stretch, up to `THREAD_LIVE_LIMIT`), with
    "Load earlier messages" before that. None when `message_id` is not a message of this
    channel (the caller then opens the thread as usual)."""
    pk = _uuid_or_none(str(message_id))
    hit = (
        Message.objects.filter(channel=channel, pk=pk).values_list("created_at", "id").first()
        if pk
        else None
    )
    if hit is None:
        return None
    at, hit_id = hit
    before = list(
        Message.objects.filter(channel=channel)
        .filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=hit_id))
        .order_by("-created_at", "-id")
        .values_list("created_at", "id")[: THREAD_CONTEXT_BEFORE + 1]
    )
    start = before[THREAD_CONTEXT_BEFORE - 1] if len(before) >= THREAD_CONTEXT_BEFORE else None
    if start is None and before:
        start = before[-1]
    start_at, start_id = start or hit
    cursor = f"{start_at.isoformat()}~{start_id}"
    thread = _thread_window(channel, from_=(start_at, start_id), limit=THREAD_LIVE_LIMIT)
    thread.older = cursor if len(before) > THREAD_CONTEXT_BEFORE else None
    thread.start = cursor
    return thread


def channel_thread_older(*, channel: PatientChannel, before: str) -> Thread:
    """The `THREAD_PAGE_SIZE` messages (and the rest of the thread of that time) just before
    the cursor `before`; its `older` asks for the page before that, back to the first message.
    A cursor the thread did not make reads as "before the newest message", never as an error."""
    end = _cursor_parse(before)
    return _thread_window(channel, before=end, limit=THREAD_PAGE_SIZE)


def _thread_window(
    channel: PatientChannel,
    *,
    limit: int,
    from_: Cursor | None = None,
    before: Cursor | None = None,
) -> Thread:
    """Messages of `channel` in keyset order (created_at, id): from `from_` on and/or strictly
    before `before`, newest `limit` of them, with their status histories and the other entries
    of the same time. A fixed number of queries whatever the thread's length.

    The messages carry only what the thread shows (`THREAD_MESSAGE_FIELDS`) and the histories
    are plain tuples, since building whole model rows for them was most of the time it took to
    read a thread. A security code is an event entry ("security_code") whose body is replaced by
    `SECURITY_CODE_REDACTED`."""
    query = Message.objects.filter(channel=channel)
    if from_ is not None:
        at, pk = from_
        query = query.filter(Q(created_at__gt=at) | Q(created_at=at, id__gte=pk))
    if before is not None:
        at, pk = before
        query = query.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=pk))
    messages = list(
        query.select_related("sender_user", "sender_api_client")
        .only(*THREAD_MESSAGE_FIELDS)
        .order_by("-created_at", "-id")[: limit + 1]
    )
    histories: dict[uuid.UUID, list[StatusStep]] = {}
    steps = (
        MessageStatusChange.objects.filter(message_id__in=[m.pk for m in messages])
        .order_by("at", "id")
        .values_list("message_id", "status", "error_code", "at")
    )
    for message_id, status, error_code, at in steps:
        histories.setdefault(message_id, []).append(StatusStep(status, error_code, at))
    for message in messages:
        message.history = histories.get(message.pk, [])  # type: ignore[attr-defined]
        if message.kind == Message.Kind.SECURITY_CODE:
            # The code is the patient's secret: its text never reaches a staff page.
            message.body = message.staff_body
    has_older = len(messages) > limit
    messages = messages[:limit][::-1]
    oldest = messages[0] if messages else None
    # The stretch of time these messages cover: from the oldest shown (from the beginning when
    # it is the first message) to just before the next page's first message.
    if from_ is not None:
        since: datetime.datetime | None = from_[0]
    else:
        since = oldest.created_at if oldest is not None and has_older else None
    until = before[0] if before is not None else None
    entries = [
        ThreadEntry(
            "security_code" if m.kind == Message.Kind.SECURITY_CODE else "message",
            m.created_at,
            m,
        )
        for m in messages
    ]
    for message in messages:
        if message.direction == Message.Direction.OUTBOUND and message.status in (
            MessageStatus.FAILED,
            MessageStatus.UNDELIVERED,
        ):
            entries.append(
                ThreadEntry("failure", message.status_changed_at or message.created_at, message)
            )
    notes = InternalNote.objects.filter(channel=channel).select_related("author")
    events = ChannelEvent.objects.filter(channel=channel).select_related(
        "actor", "subject", "from_practice"
    )
    prompts = MpspPrompt.objects.filter(chosen_channel=channel, resolved_at__isnull=False)
    if since is not None:
        notes, events = notes.filter(created_at__gte=since), events.filter(created_at__gte=since)
        prompts = prompts.filter(resolved_at__gte=since)
    if until is not None:
        notes, events = notes.filter(created_at__lt=until), events.filter(created_at__lt=until)
        prompts = prompts.filter(resolved_at__lt=until)
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
        entries=entries,
        latest_message=messages[-1] if messages else None,
        older=f"{oldest.created_at.isoformat()}~{oldest.pk}" if has_older and oldest else None,
    )


# A final delivery report with one of these says the number cannot take texts at all: the
# composer is disabled. `unreachable` (a phone switched off, out of coverage) only warns.
UNDELIVERABLE_CODES = {ErrorCode.LANDLINE: "a landline", ErrorCode.INVALID_NUMBER: "not a valid"}
OTHER_CONVERSATIONS_SHOWN = 10


@dataclass
class OtherConversation:
    channel: PatientChannel
    openable: bool  # in one of the user's practices (else shown, not linked)


@dataclass
class PatientPanel:
    """What the workspace shows beside a thread: who the patient is, whether this number can be
    texted from this line, and the patient's other conversations."""

    person: Patient | None  # the channel's patient, or the known patient of its number
    verified: bool
    opted_out_at: datetime.datetime | None
    opt_out_keyword: str
    delivery_error: str  # the error code of the number's latest final delivery report, if any
    others: list[OtherConversation]
    across_enterprise: bool

    @property
    def landline(self) -> bool:
        return self.delivery_error == ErrorCode.LANDLINE

    @property
    def undeliverable(self) -> bool:
        return self.delivery_error in UNDELIVERABLE_CODES

    @property
    def unreachable(self) -> bool:
        return self.delivery_error == ErrorCode.UNREACHABLE

    @property
    def send_block(self) -> str:
        """Why the composer is disabled, or "" when it is not."""
        if self.opted_out_at is not None:
            return (
                "This number opted out of texts from this line (it texted "
                f"{self.opt_out_keyword or 'STOP'}). It can be texted again only after the "
                "patient texts START."
            )
        if self.delivery_error == ErrorCode.LANDLINE:
            return "This number is a landline: the carrier reported that it cannot receive texts."
        if self.delivery_error == ErrorCode.INVALID_NUMBER:
            return "The carrier reported that this is not a valid mobile number."
        return ""


def channel_patient_panel(
    *, channel: PatientChannel, user: AbstractBaseUser | AnonymousUser
) -> PatientPanel:
    """The panel beside the thread (the caller has been allowed to see `channel`). Three
    queries: the opt-out of this line, the latest final delivery report on the thread, the
    other conversations.

    Other conversations are the patient's (or, for an unverified number, the number's) in the
    user's practices, or, when the enterprise allows searching any patient, in every practice
    of the enterprise; those outside the user's practices are listed without a link."""
    opt_out = (
        OptOut.objects.filter(line_id=channel.line_id, phone=str(channel.phone))
        .values_list("created_at", "keyword")
        .first()
    )
    report = (
        Message.objects.filter(
            channel=channel,
            direction=Message.Direction.OUTBOUND,
            status__in=(MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED),
        )
        .order_by("-created_at")
        .values_list("error_code", flat=True)
        .first()
    )
    person = channel.patient or channel.known_patient
    across = bool(channel.practice.enterprise.allow_enterprise_patient_access)
    mine = practice_list_for_user(user=user)
    others = PatientChannel.objects.exclude(pk=channel.pk)
    if channel.patient_id is not None:
        others = others.filter(patient_id=channel.patient_id)
    elif person is not None:
        others = others.filter(Q(patient_id=person.pk) | Q(phone=channel.phone))
    else:
        others = others.filter(phone=channel.phone)
    if across:
        others = others.filter(practice__enterprise_id=channel.practice.enterprise_id)
    else:
        others = others.filter(practice__in=mine)
    rows = list(
        others.annotate(openable=Exists(mine.filter(pk=OuterRef("practice_id"))))
        .select_related("practice", "line", "patient", "known_patient")
        .order_by("-last_activity_at")[:OTHER_CONVERSATIONS_SHOWN]
    )
    return PatientPanel(
        person=person,
        verified=channel.is_verified,
        opted_out_at=opt_out[0] if opt_out else None,
        opt_out_keyword=opt_out[1] if opt_out else "",
        delivery_error=report or "",
        others=[OtherConversation(row, bool(row.openable)) for row in rows],
        across_enterprise=across,
    )


def lines_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Line]:
    """The active lines of the user's practices: where a new conversation can start from."""
    return (
        Line.objects.filter(practice__in=practice_list_for_user(user=user), is_active=True)
        .select_related("practice")
        .order_by("practice__name", "-is_default", "name")
    )


def line_get_for_user(*, user: AbstractBaseUser | AnonymousUser, line_id: object) -> Line:
    """One of `lines_for_user`, or `NotFound` (also for another practice's line)."""
    pk = _uuid_or_none(str(line_id))
    line = lines_for_user(user=user).filter(pk=pk).first() if pk else None
    if line is None:
        raise NotFound("No such line.", code="unknown_line", field="line")
    return line


def practices_to_move_to(*, channel: PatientChannel) -> QuerySet[Practice]:
    """The other practices of the conversation's enterprise, where it can be handed over."""
    return (
        Practice.objects.filter(enterprise_id=channel.practice.enterprise_id)
        .exclude(pk=channel.practice_id)
        .order_by("name")
    )


def practice_to_move_to(*, channel: PatientChannel, practice_id: object) -> Practice:
    pk = _uuid_or_none(str(practice_id))
    practice = practices_to_move_to(channel=channel).filter(pk=pk).first() if pk else None
    if practice is None:
        raise NotFound("No such practice.", code="unknown_practice", field="practice")
    return practice


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


_PHRASE_SEPARATOR = "\x1f"  # never in a phrase's text: splits the values rendered at once


def smart_phrase_values(
    *, channel: PatientChannel, user: Any, phrases: list[PhraseChoice]
) -> dict[str, str]:
    """What each phrase becomes in this conversation, sent by `user` (as the send path will
    fill it in, `messaging.phrases`): the composer previews it and counts the filled-in text.
    One render for all of them (at most one query, for the custom phrases)."""
    if not phrases:
        return {}
    text = _PHRASE_SEPARATOR.join(f"{{{phrase.name}}}" for phrase in phrases)
    rendered = phrases_render(
        text=text,
        practice=channel.practice,
        line=channel.line,
        patient=channel.patient,
        staff=user,
    ).split(_PHRASE_SEPARATOR)
    return {phrase.name: value for phrase, value in zip(phrases, rendered, strict=False)}


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
    return list(
        Patient.objects.filter(pk__in=_patient_search_ids(q), enterprise__in=enterprises).order_by(
            "last_name", "first_name"
        )[:limit]
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


# Words in message bodies: PostgreSQL's full-text search, on the GIN index of inbox migration 0001
# (the expression here must be the index's). SQLite falls back to LIKE.
BODY_SEARCH_VECTOR = 'to_tsvector(\'english\'::regconfig, "messaging_message"."body")'
MESSAGE_HITS_SHOWN = 20


def messages_search_for_user(
    *,
    user: AbstractBaseUser | AnonymousUser,
    q: str,
    practice_id: str | None = None,
    limit: int = MESSAGE_HITS_SHOWN,
) -> list[Message]:
    """Messages of the user's practices (or of one of them) whose text has the words of `q`,
    newest first. Only texts people wrote: never a security code or an automated text. Words
    are matched as English words ("appointments" finds "appointment"); a `q` that is only a
    number or shorter than 3 characters searches nothing (numbers are the phone search's)."""
    words = [w for w in re.split(r"\s+", q) if w]
    if len(q) < 3 or not words or all(w.isdigit() for w in words):
        return []
    practices = practice_list_for_user(user=user)
    if practice_id:
        wanted = _uuid_or_none(practice_id)
        practices = practices.filter(pk=wanted) if wanted else practices.none()
    # By the conversation's practice, not the message's: a conversation handed over to another
    # practice is searched by its new one (its messages keep the practice they were sent from).
    hits = Message.objects.filter(
        channel__practice__in=practices.values("pk"), kind=Message.Kind.CONVERSATION
    )
    if connection.vendor == "postgresql":
        # The SQL is a constant; the words go in as a parameter.
        hits = hits.filter(
            RawSQL(  # noqa: S611
                f"{BODY_SEARCH_VECTOR} @@ plainto_tsquery('english'::regconfig, %s)",
                [q],
                output_field=BooleanField(),
            )
        )
    else:
        for word in words:
            hits = hits.filter(body__icontains=word)
    return list(
        hits.select_related(
            "channel__patient", "channel__known_patient", "channel__practice", "channel__line"
        ).order_by("-created_at", "-id")[:limit]
    )


# Searching stays on indexes. Each way of matching is a query of its own, answered by one index
# (PostgreSQL's trigram indexes on names and numbers, `patient_mrn_upper` for the MRN; channels_app
# migration 0004), and the callers merge them; names are matched in the patients' table first.
# Written as one OR across joins (`patient__first_name__icontains | phone__contains`), the same
# search makes the database read every row of both tables.

# Past this many patients with the searched names, a name is common enough that the newest
# conversations of the folder soon show some of them: the search then walks the folder in order.
NAMED_PATIENTS_LISTED = 1000


def _search_conditions(q: str, *, enterprise_ids: set[uuid.UUID]) -> list[Q]:
    """The ways a channel matches `q`: its number contains the digits of `q`; its patient, or
    its known patient, has all the name words of `q`. No way when `q` has neither.

    The patients with the names are looked up first (one query), among the enterprises'
    patients: up to `NAMED_PATIENTS_LISTED` of them go into the conditions as a list, which the
    database estimates well (it then picks their conversations by `patient`), more as a
    subquery."""
    conditions = []
    digits = _phone_digits(q)
    if digits:
        conditions.append(Q(phone__contains=digits))
    names = _name_condition(q)
    if names is not None:
        patients = Patient.objects.filter(names, enterprise_id__in=enterprise_ids)
        named: Any = list(patients.values_list("id", flat=True)[: NAMED_PATIENTS_LISTED + 1])
        if len(named) > NAMED_PATIENTS_LISTED:
            named = patients.values("id")
        conditions += [
            Q(patient__in=named),
            # Known patients are on a few unverified channels: telling the database lets it
            # start from those channels instead of walking the whole folder.
            Q(known_patient__isnull=False, known_patient__in=named),
        ]
    return conditions


def _patient_search_ids(q: str) -> QuerySet[Any]:
    """The ids of the patients matching `q`: by MRN, by all the name words of `q`, or by a
    phone number containing its digits."""
    patients = Patient.objects.order_by()  # no ORDER BY inside a UNION
    ways: list[QuerySet[Any]] = [patients.filter(mrn__iexact=q).values_list("id")]
    names = _name_condition(q)
    if names is not None:
        ways.append(patients.filter(names).values_list("id"))
    digits = _phone_digits(q)
    if digits:
        phones = PatientPhone.objects.order_by().filter(number__contains=digits)
        ways.append(phones.values_list("patient_id"))
    return ways[0].union(*ways[1:], all=True)


def _name_condition(q: str) -> Q | None:
    """Every word of `q` that is not a number in the first or the last name (None: no words)."""
    words = [w for w in re.split(r"\s+", q) if w and not w.isdigit()]
    if not words:
        return None
    condition = Q()
    for word in words:
        condition &= Q(first_name__icontains=word) | Q(last_name__icontains=word)
    return condition


def _phone_digits(q: str) -> str | None:
    """The digits of `q` to look for in phone numbers (a leading US 1 dropped), if 3 or more."""
    digits = re.sub(r"\D", "", q)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits if len(digits) >= 3 else None


def _user_id(user: AbstractBaseUser | AnonymousUser) -> int:
    return cast(int, user.pk)


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _cursor_parse(raw: str) -> tuple[datetime.datetime, uuid.UUID] | None:
    """The `after` cursor of an inbox link, or None (the first page) for anything that is not
    one: a cursor is only ever a link the inbox made itself, so a hand-edited one is ignored.

    `parse_datetime` raises for well-formed impossible dates (`9999-99-99`, year 0, hour 25,
    an offset of 99 hours), and a date at the edge of the calendar in a far offset cannot be
    moved to UTC (the database compares in UTC): both mean "not a cursor", never a 500.
    """
    at_text, _, pk_text = raw.partition("~")
    try:
        at = parse_datetime(at_text.replace(" ", "+")) if at_text else None
        if at is not None and not timezone.is_naive(at):
            at = at.astimezone(datetime.UTC)
    except (ValueError, OverflowError):
        return None
    pk = _uuid_or_none(pk_text)
    if at is None or pk is None or timezone.is_naive(at):
        return None
    return at, uuid.UUID(pk)


def _uuid_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
