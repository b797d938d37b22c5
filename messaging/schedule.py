"""Send later (core): when a text may go, holding it until then, and letting it go.

- `send_moment` answers, for a text about to be stored, when it goes: at once, at the
  `send_at` its sender asked for, or, under quiet hours, at 8:00 the next allowed day in the
  recipient's local time (`quiet_hours_release_at`). The send path stores a text that is not
  going at once as `scheduled`.
- `scheduled_release` (a beat task) releases the scheduled texts that are due, in batches: each
  batch is claimed with one locking statement that skips rows another release holds, moved to
  `received` through the status writer (history rows and `message.status` webhooks in bulk),
  and handed to the normal dispatch: one line task per line and batch, so a million texts due
  at 8:00 go into the same per-line pacing as everything else instead of a herd of tasks. It
  also fails the texts whose `valid_until` passed before they went (`expired`), scheduled or
  waiting behind a slow line, and cancels a scheduled text whose number opted out of its line.
- `message_cancel` cancels a scheduled text (the API's DELETE); `messages_cancel_for_opt_out`
  the scheduled texts of a number that has just opted out.

Quiet hours: 8:00 to 21:00 (`QUIET_HOURS_START`, `QUIET_HOURS_END`) in the recipient's time zone:
the patient's own (`Patient.time_zone`), else the zones libphonenumber gives the number's area
code (a text must be inside the window in every one of them, when an area code spans two),
else the practice's. Optionally the practice's closed holidays are not allowed days.

Core: imports the dispatcher, the status writer and models; the send path imports it.
"""

from __future__ import annotations

import datetime
import functools
import logging
import uuid
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import phonenumbers
from celery import Task, shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from phonenumbers import timezone as phone_timezones

from artera.errors import Conflict
from practices.hours import closed_days_between

from .dispatch import dispatch_on_commit
from .models import ErrorCode, Message, MessageStatus, OptOut
from .outbox import task_publish
from .status import StatusUpdate, message_statuses_apply

if TYPE_CHECKING:
    from channels_app.models import Patient
    from practices.models import Line, Practice

logger = logging.getLogger(__name__)

QUIET_HOURS_START = datetime.time(8, 0)
QUIET_HOURS_END = datetime.time(21, 0)
# How far ahead a holiday calendar is read for quiet hours (send_at may be 35 days ahead, then
# a run of closed days).
_HOLIDAY_HORIZON_DAYS = 60
# An area code whose number maps to more zones than this tells nothing useful: the practice's.
_MAX_AREA_CODE_ZONES = 2


# --- When a text goes ---------------------------------------------------------------------------


def recipient_zones(
    *, patient: Patient | None, phone: str, practice: Practice
) -> list[zoneinfo.ZoneInfo]:
    """The time zones the recipient may be in: the patient's stored zone, else the area code's
    (one, or two for an area code that spans a zone border), else the practice's."""
    if patient is not None and patient.time_zone:
        return [zoneinfo.ZoneInfo(patient.time_zone)]
    names = number_zone_names(phone)
    if names:
        return [zoneinfo.ZoneInfo(name) for name in names]
    return [practice.tz]


@functools.lru_cache(maxsize=4096)
def number_zone_names(phone: str) -> tuple[str, ...]:
    """The zones libphonenumber's geocoding data gives a number's prefix (its area code, for a
    US number); empty when it does not know or names too many to be of use."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return ()
    available = zoneinfo.available_timezones()
    names = tuple(
        name for name in phone_timezones.time_zones_for_number(number) if name in available
    )
    return names if len(names) <= _MAX_AREA_CODE_ZONES else ()


def quiet_hours_release_at(
    *,
    at: datetime.datetime,
    zones: Sequence[zoneinfo.ZoneInfo],
    closed_day: Callable[[datetime.date], bool] = lambda day: False,
) -> datetime.datetime:
    """The first moment from `at` that is inside 8:00 to 21:00 in every one of `zones` and not on
    a day `closed_day` rules out there: `at` itself when it is, else 8:00 of the next allowed
    day (local wall time, so the answer follows daylight saving time)."""
    candidate = at
    for _ in range(len(zones) * 8 + 8):  # zones within hours of each other agree fast
        moved = False
        for zone in zones:
            allowed = _next_allowed_in(candidate, zone, closed_day)
            if allowed != candidate:
                candidate, moved = allowed, True
        if not moved:
            return candidate
    return candidate


def _next_allowed_in(
    at: datetime.datetime,
    zone: zoneinfo.ZoneInfo,
    closed_day: Callable[[datetime.date], bool],
) -> datetime.datetime:
    local = at.astimezone(zone)
    day = local.date()
    if not closed_day(day) and QUIET_HOURS_START <= local.time() < QUIET_HOURS_END:
        return at
    if local.time() >= QUIET_HOURS_START:
        day += datetime.timedelta(days=1)
    for _ in range(366):
        if not closed_day(day):
            break
        day += datetime.timedelta(days=1)
    return datetime.datetime.combine(day, QUIET_HOURS_START, tzinfo=zone).astimezone(datetime.UTC)


@dataclass(frozen=True)
class QuietHours:
    """Quiet hours as they apply to one text: on or off, and with the practice's holidays."""

    held: bool
    skip_holidays: bool = False


def send_moment(
    *,
    now: datetime.datetime,
    send_at: datetime.datetime | None,
    quiet: QuietHours,
    practice: Practice,
    line: Line | None,
    patient: Patient | None,
    phone: str,
) -> datetime.datetime | None:
    """When a text stored `now` goes: None for at once, else the moment it is released."""
    due = send_at if send_at is not None and send_at > now else now
    if quiet.held:
        closed: Callable[[datetime.date], bool] = lambda day: False  # noqa: E731
        if quiet.skip_holidays:
            days = closed_days_between(
                practice=practice,
                line=line,
                start=due.date() - datetime.timedelta(days=1),
                end=due.date() + datetime.timedelta(days=_HOLIDAY_HORIZON_DAYS),
            )
            closed = days.__contains__
        zones = recipient_zones(patient=patient, phone=phone, practice=practice)
        due = quiet_hours_release_at(at=due, zones=zones, closed_day=closed)
    return due if due > now else None


# --- Letting scheduled texts go -----------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    """What one `scheduled_release` did."""

    released: int = 0
    expired: int = 0
    canceled: int = 0
    more: bool = False  # stopped at `max_batches` with texts still due


def scheduled_release(*, batch_size: int | None = None, max_batches: int = 20) -> Release:
    """Release the scheduled texts that are due (oldest `send_at` first), batch after batch,
    and fail the unsent ones past their `valid_until` (see the module docstring). Safe to run
    in several processes at once: each batch skips the rows another holds."""
    size = batch_size or settings.SMS_SCHEDULED_RELEASE_BATCH_SIZE
    released = expired = canceled = 0
    for _ in range(max_batches):
        batch = _release_batch(size)
        released, expired, canceled = (
            released + batch.released,
            expired + batch.expired,
            canceled + batch.canceled,
        )
        if not batch.more:
            return Release(released, expired, canceled)
    return Release(released, expired, canceled, more=True)


def _release_batch(limit: int) -> Release:
    now = timezone.now()
    lease = datetime.timedelta(seconds=settings.SMS_CLAIM_LEASE_SECONDS)
    opted_out = Exists(
        OptOut.objects.filter(line_id=OuterRef("line_id"), phone=OuterRef("to_number"))
    )
    with transaction.atomic():
        # Locked and skipped as the dispatcher's claim is: a release running twice at once
        # takes different texts, and a cancel waits for the batch and then sees `received`.
        due = list(
            Message.objects.filter(status=MessageStatus.SCHEDULED, send_at__lte=now)
            .order_by("send_at")
            .select_for_update(skip_locked=True)
            .values_list("pk", "line_id", "valid_until")[:limit]
        )
        # Texts that may never go any more: scheduled ones past their deadline before their
        # time came, and received ones waiting behind a slow line that no live worker holds
        # (a worker checks the ones it holds before handing them over).
        dead = list(
            Message.objects.filter(
                Q(status=MessageStatus.SCHEDULED)
                | (
                    Q(status=MessageStatus.RECEIVED)
                    & (Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - lease))
                ),
                direction=Message.Direction.OUTBOUND,
                valid_until__lte=now,
            )
            .exclude(pk__in=[pk for pk, _, _ in due])
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        opted = set(
            Message.objects.filter(pk__in=[pk for pk, _, _ in due])
            .filter(opted_out)
            .values_list("pk", flat=True)
        )
        updates = [StatusUpdate(pk, MessageStatus.FAILED, ErrorCode.EXPIRED) for pk in dead]
        release: list[uuid.UUID] = []
        lines: dict[uuid.UUID, None] = {}
        for pk, line_id, valid_until in due:
            if valid_until is not None and valid_until <= now:
                updates.append(StatusUpdate(pk, MessageStatus.FAILED, ErrorCode.EXPIRED))
            elif pk in opted:
                updates.append(StatusUpdate(pk, MessageStatus.CANCELED, ErrorCode.OPTED_OUT))
            else:
                updates.append(StatusUpdate(pk, MessageStatus.RECEIVED))
                release.append(pk)
                lines[line_id] = None
        if not updates:
            return Release()
        message_statuses_apply(updates, at=now)
        if release:
            # Into the outbox as a text stored just now is (`messaging.dispatch`).
            Message.objects.filter(pk__in=release, status=MessageStatus.RECEIVED).update(
                outbox_due_at=now + datetime.timedelta(seconds=settings.SMS_OUTBOX_GRACE_SECONDS),
                claimed_at=None,
            )
        for line_id in lines:
            dispatch_on_commit(line_id)
    return Release(
        released=len(release),
        expired=sum(1 for u in updates if u.error_code == ErrorCode.EXPIRED),
        canceled=sum(1 for u in updates if u.status == MessageStatus.CANCELED),
        more=len(due) >= limit or len(dead) >= limit,
    )


@shared_task(name="messaging.tasks.scheduled_release", bind=True, ignore_result=True)
def scheduled_release_task(self: Task[[], int]) -> int:
    """The beat's release of due scheduled texts; when more are due than one run takes, it
    publishes its own continuation (rather than holding a worker process)."""
    done = scheduled_release()
    if done.more and not self.request.is_eager:
        task_publish(scheduled_release_task)
    return done.released + done.expired + done.canceled


# --- Canceling ----------------------------------------------------------------------------------


def message_cancel(*, message: Message) -> Message:
    """Cancel a scheduled text (final: `canceled`, with its `message.status` webhook); 409
    `not_scheduled` once it was released, or finished otherwise."""
    moved = message_statuses_apply([StatusUpdate(message.pk, MessageStatus.CANCELED)])
    if not moved:
        raise Conflict(
            "Only a scheduled message can be canceled; this one was released already.",
            code="not_scheduled",
        )
    message.refresh_from_db(fields=["status", "error_code", "status_changed_at"])
    return message


def messages_cancel_for_opt_out(*, line_id: uuid.UUID, phone: str) -> int:
    """Cancel the scheduled texts from a line to a number that has just opted out of it
    (`canceled` with `opted_out`); returns how many."""
    ids = list(
        Message.objects.filter(
            line_id=line_id,
            to_number=phone,
            direction=Message.Direction.OUTBOUND,
            status=MessageStatus.SCHEDULED,
        ).values_list("pk", flat=True)
    )
    if not ids:
        return 0
    updates = [StatusUpdate(pk, MessageStatus.CANCELED, ErrorCode.OPTED_OUT) for pk in ids]
    return len(message_statuses_apply(updates))
