"""The worker's side of sending (core): claim a line's due texts, pace them, hand them to the
gateway, record them; and the outbox sweep.

- `line_dispatch` sends a batch of one line's due texts: claimed together with one locking
  statement, handed to the gateway in groups as their pacing slots come, recorded `sent` in
  bulk (`messaging.status.message_statuses_apply`), each text at most once;
- `message_sms_text` is what the carrier gets (the body, or a secure message's notice);
- `dispatch_on_commit` publishes the line's task (`line_dispatch_task`) once the send path's
  transaction commits, once per line however many texts the transaction stored (a MAPI batch),
  and not at all while a task of the line is queued already (`messaging.pacing`);
  `outbox_sweep` re-enqueues the lines of texts stored but never handed over.

The task is defined here, next to the service it runs and the function that publishes it, so
the send path, the task and the sweeper need no import cycle (`messaging.tasks` re-exports it
for Celery's autodiscovery). Core: imports only the status writer and the plumbing below it.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from artera import outbox
from practices.models import Line

from .gateways import GatewayError, gateway_get
from .models import ErrorCode, Message, MessageStatus, SecureLink
from .outbox import task_publish
from .pacing import line_dispatch_mark_queued, line_dispatch_started, line_slot_reserve
from .secure_links import secure_notice_text
from .status import StatusUpdate, message_statuses_apply

logger = logging.getLogger(__name__)

# When tasks run in-process (no broker), a line's dispatch runs in place until nothing is due;
# bounded so a text stuck behind a lost predecessor cannot hold a request forever (the sweeper
# has it).
EAGER_MAX_ROUNDS = 20
# Texts whose pacing slots fall within this window go to the gateway together, at the window's
# last slot (so none reaches the provider before its slot).
GROUP_WINDOW_SECONDS = 0.02
# A text released until a moment (a retry's backoff, a pacing slot) may be claimed this much
# before it, so a task that runs a little early still finds it.
EARLY_CLAIM_SECONDS = 0.5


@dataclass(frozen=True)
class LineDispatch:
    """What one `line_dispatch` did."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0
    # Some claims were given back (a pacing slot too far off, a provider error to retry): come
    # back after this many seconds.
    retry_in: float | None = None
    # Due texts were left for the next batch (the claim was full, or a patient's next text
    # waited for the one just sent).
    more_due: bool = False

    @property
    def progressed(self) -> bool:
        return bool(self.sent or self.failed)


def line_dispatch(
    *, line_id: uuid.UUID, max_inline_wait: float | None, limit: int | None = None
) -> LineDispatch:
    """Hand a batch of a line's due texts to the SMS gateway, each at most once.

    1. Claim up to `limit` due texts of the line (`SMS_DISPATCH_BATCH_SIZE`, and no more than
       its pacing lets out within `max_inline_wait` seconds) with one locking statement that
       skips rows another worker is claiming: only texts whose earlier texts to the same
       patient are all out, so a patient's texts keep their order (the next one goes in the
       next batch).
    2. For a text an earlier attempt may have got to the provider (its worker died, or the
       provider timed out), ask the provider first instead of sending again.
    3. Reserve each text's pacing slot, shared by all workers through Redis; rather than wait
       longer than `max_inline_wait` (None: no limit), give the rest of the batch back.
    4. Send texts whose slots have come in groups (`SmsGateway.send_batch`), and record `sent`
       with the provider's ids, or `failed`, in bulk after each group. A text whose
       `valid_until` has passed, when it is claimed or when its slot comes, fails with
       `expired` and is never handed over. Errors that may pass are
       retried with exponential backoff, up to `SMS_SEND_MAX_ATTEMPTS`.
    """
    line = Line.objects.filter(pk=line_id).values("send_rate").first()
    if line is None:
        return LineDispatch()
    rate: Decimal = line["send_rate"]
    size = limit or settings.SMS_DISPATCH_BATCH_SIZE
    if max_inline_wait is not None:
        size = max(1, min(size, int(float(rate) * max_inline_wait) + 1))
    claimed = _line_claim(line_id, limit=size)
    if not claimed:
        return LineDispatch()
    done = _Batch(line_id=line_id, rate=rate, max_inline_wait=max_inline_wait).run(claimed)
    if len(claimed) == size or (done.progressed and _line_has_due(line_id)):
        return dataclasses.replace(done, more_due=True)
    return done


def _due(line_id: uuid.UUID, now: datetime.datetime) -> QuerySet[Message]:
    """The line's texts a worker may claim now, first in line for their patient or not."""
    lease = _seconds(settings.SMS_CLAIM_LEASE_SECONDS)
    # A stored text is due from the moment it is stored: its `outbox_due_at` is that moment
    # plus the grace; a text given back until a later moment has that moment plus the grace.
    not_after = now + _seconds(settings.SMS_OUTBOX_GRACE_SECONDS + EARLY_CLAIM_SECONDS)
    return Message.objects.filter(
        line_id=line_id,
        direction=Message.Direction.OUTBOUND,
        status=MessageStatus.RECEIVED,
        outbox_due_at__lte=not_after,
    ).filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - lease))


def _line_has_due(line_id: uuid.UUID) -> bool:
    """Whether texts of the line are still due after a batch (one index lookup, cheaper than
    the next batch's task finding nothing)."""
    return _due(line_id, timezone.now()).exists()


def _line_claim(line_id: uuid.UUID, *, limit: int) -> list[Message]:
    """Claim the line's next due texts (oldest first): unsent, not released to a later moment,
    not claimed by a live worker (a claim whose lease ran out was a dead worker's), and first
    in line for their patient. On PostgreSQL the rows are locked with SKIP LOCKED, so workers
    claiming the same line at once take different texts and never wait for each other."""
    now = timezone.now()
    lease = _seconds(settings.SMS_CLAIM_LEASE_SECONDS)
    earlier_unsent = Message.objects.filter(
        Q(created_at__lt=OuterRef("created_at"))
        | Q(created_at=OuterRef("created_at"), pk__lt=OuterRef("pk")),
        channel_id=OuterRef("channel_id"),
        direction=Message.Direction.OUTBOUND,
        status=MessageStatus.RECEIVED,
        outbox_due_at__isnull=False,  # rows that never entered the outbox block nobody
    )
    due = _due(line_id, now).filter(~Exists(earlier_unsent)).order_by("created_at", "pk")
    with transaction.atomic():
        ids = list(
            due.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True)[
                :limit
            ]
        )
        if not ids:
            return []
        Message.objects.filter(pk__in=ids).update(
            claimed_at=now, outbox_due_at=now + lease, send_attempts=F("send_attempts") + 1
        )
    messages = list(
        Message.objects.select_related("line", "practice")
        .filter(pk__in=ids)
        .order_by("created_at", "pk")
    )
    for message in messages:
        message.claimed_at = now
    return messages


class _Batch:
    """One claimed batch on its way to the gateway (see `line_dispatch`)."""

    def __init__(self, *, line_id: uuid.UUID, rate: Decimal, max_inline_wait: float | None) -> None:
        self.line_id = line_id
        self.rate = rate
        self.max_inline_wait = max_inline_wait
        self.gateway = gateway_get()
        self.records: list[StatusUpdate] = []
        self.group: list[tuple[Message, str]] = []
        self.group_ready_at = 0.0  # monotonic time of the group's last slot
        self.sent = self.failed = 0
        self.retry_in: float | None = None
        # The claim must not outlive its lease (another worker would take the texts over):
        # a batch stuck behind a slow provider gives the rest back at half of it.
        self.give_back_at = time.monotonic() + settings.SMS_CLAIM_LEASE_SECONDS / 2

    def run(self, claimed: Sequence[Message]) -> LineDispatch:
        try:
            for index, message in enumerate(claimed):
                if time.monotonic() > self.give_back_at:
                    for rest in claimed[index:]:
                        _claim_release(rest, retry_in=0, attempt_used=False)
                    self._retry_in(0)
                    break
                text = message_sms_text(message)
                if message.send_attempts > 1 and self._found_at_provider(message, text):
                    continue
                if _expired(message, at=timezone.now()):
                    self._expire(message)
                    continue
                slot = line_slot_reserve(
                    line_id=self.line_id, rate=self.rate, max_wait=self.max_inline_wait
                )
                if not slot.granted:
                    for rest in claimed[index:]:
                        _claim_release(rest, retry_in=slot.wait, attempt_used=False)
                    self._retry_in(slot.wait)
                    break
                ready_at = time.monotonic() + slot.wait
                if self.group and ready_at - self.group_ready_at > GROUP_WINDOW_SECONDS:
                    self._send_group()
                self.group.append((message, text))
                self.group_ready_at = max(self.group_ready_at, ready_at)
            self._send_group()
        finally:
            self._record()
        return LineDispatch(
            claimed=len(claimed), sent=self.sent, failed=self.failed, retry_in=self.retry_in
        )

    def _found_at_provider(self, message: Message, text: str) -> bool:
        try:
            provider_id = self.gateway.find_sent(message=message, text=text)
        except GatewayError as exc:
            self._refused(message, exc)
            return True
        if not provider_id:
            return False
        logger.info("Message %s had reached the provider already", message.pk)
        self._record_sent(message, provider_id)
        return True

    def _send_group(self) -> None:
        if not self.group:
            return
        group, self.group = self.group, []
        wait = self.group_ready_at - time.monotonic()
        if wait > 0:
            self._record()  # what is done is recorded before sleeping
            time.sleep(wait)
        # The last look before the carrier: a text whose `valid_until` passed while it waited
        # for its slot is never handed over.
        now = timezone.now()
        for message, _ in group:
            if _expired(message, at=now):
                self._expire(message)
        group = [(message, text) for message, text in group if not _expired(message, at=now)]
        if not group:
            self._record()
            return
        results = self.gateway.send_batch(group)
        for (message, _), result in zip(group, results, strict=True):
            if isinstance(result, GatewayError):
                self._refused(message, result)
            else:
                self._record_sent(message, result.provider_message_id)
        self._record()

    def _record_sent(self, message: Message, provider_message_id: str) -> None:
        self.records.append(
            StatusUpdate(message.pk, MessageStatus.SENT, provider_message_id=provider_message_id)
        )
        self.sent += 1

    def _refused(self, message: Message, exc: GatewayError) -> None:
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
            self._retry_in(retry_in)
            return
        logger.warning(
            "Message %s failed: %s (%s)", message.pk, exc.error_code, exc.provider_code or "-"
        )
        self.records.append(StatusUpdate(message.pk, MessageStatus.FAILED, exc.error_code))
        self.failed += 1

    def _expire(self, message: Message) -> None:
        logger.info("Message %s expired before it was sent", message.pk)
        self.records.append(StatusUpdate(message.pk, MessageStatus.FAILED, ErrorCode.EXPIRED))
        self.failed += 1

    def _retry_in(self, seconds: float) -> None:
        self.retry_in = seconds if self.retry_in is None else min(self.retry_in, seconds)

    def _record(self) -> None:
        if self.records:
            records, self.records = self.records, []
            message_statuses_apply(records)


def _expired(message: Message, *, at: datetime.datetime) -> bool:
    return message.valid_until is not None and message.valid_until <= at


def _claim_release(message: Message, *, retry_in: float, attempt_used: bool) -> None:
    """Give a claim back; the message is due again after `retry_in` (and for the sweeper one
    grace period later)."""
    release: dict[str, Any] = {
        "claimed_at": None,
        "outbox_due_at": timezone.now() + _seconds(retry_in + settings.SMS_OUTBOX_GRACE_SECONDS),
    }
    if not attempt_used:
        release["send_attempts"] = F("send_attempts") - 1
    Message.objects.filter(
        pk=message.pk, status=MessageStatus.RECEIVED, claimed_at=message.claimed_at
    ).update(**release)


def message_sms_text(message: Message, *, link: SecureLink | None = None) -> str:
    """What the carrier gets: the body, or for a secure message only a notice with the
    practice's name and the link to the portal, never the content (`messaging.secure`). The
    same message always gives the same text, so a retried hand-over is the same SMS."""
    if not message.is_secure:
        return message.body
    return secure_notice_text(message, link=link)


def _seconds(value: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=value)


# --- The outbox ---------------------------------------------------------------------------------


def dispatch_on_commit(line_id: uuid.UUID) -> None:
    """Publish the line's dispatch task once the current transaction commits (at once outside
    one). A transaction that stores many texts (a MAPI batch) publishes once per line: the
    lines wait in one commit hook of the transaction (Django keeps hooks in
    `connection.run_on_commit`; a hook registered in a savepoint that was rolled back is gone
    with it, and one still there outlives every text stored after it in the transaction)."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        line_dispatch_enqueue(line_id)
        return
    for _, hook, _ in reversed(connection.run_on_commit):
        if isinstance(hook, _LinesToPublish) and not hook.ran:
            hook.lines[line_id] = None
            return
    transaction.on_commit(_LinesToPublish(line_id))


class _LinesToPublish:
    def __init__(self, line_id: uuid.UUID) -> None:
        self.lines: dict[uuid.UUID, None] = {line_id: None}  # an ordered set
        # Run hooks stay in the list when a test runs them early (captureOnCommitCallbacks).
        self.ran = False

    def __call__(self) -> None:
        self.ran = True
        for line_id in self.lines:
            line_dispatch_enqueue(line_id)


def line_dispatch_enqueue(
    line_id: uuid.UUID, *, countdown: float | None = None, again: bool = False
) -> bool:
    """Publish the line's dispatch task unless one is queued already (`again`: the running task
    publishes its own continuation); False when the broker is unreachable (the sweeper has the
    line's texts then).

    A new task starts `SMS_DISPATCH_GATHER_SECONDS` later (50 ms): texts stored meanwhile, one
    POST after another, join its first batch instead of each costing the worker a batch of one.
    """
    eager = bool(line_dispatch_task.app.conf.task_always_eager)  # runs now: nothing queued
    if not eager and not line_dispatch_mark_queued(line_id, force=again):
        return True
    if countdown is None and not again and not eager:
        countdown = settings.SMS_DISPATCH_GATHER_SECONDS or None
    published = task_publish(line_dispatch_task, str(line_id), countdown=countdown)
    if not published and not eager:
        line_dispatch_started(line_id)  # nothing is queued after all
    return published


def outbox_sweep(*, batch_size: int = 500, max_batches: int = 20) -> int:
    """Re-enqueue the lines of outbound texts that are due and still unsent; returns how many
    lines' tasks it published.

    A text is due when no task has claimed it for `SMS_OUTBOX_GRACE_SECONDS` past the time it
    was meant to be sent (its publish failed, or its task was lost with a worker), or when the
    lease of the worker that claimed it ran out (it died). Enqueuing twice is harmless: only one
    task can claim a text. The loop (batches, stopping when the broker refuses) is
    `artera.outbox.outbox_sweep`, shared with webhook deliveries.
    """
    swept = outbox.outbox_sweep(
        take_due=_lines_due,
        publish=lambda line_id: line_dispatch_enqueue(line_id, again=True),
        batch_size=batch_size,
        max_batches=max_batches,
    )
    if swept:
        logger.info("Outbox sweep re-enqueued %d line(s)", swept)
    return swept


def _lines_due(limit: int) -> list[uuid.UUID]:
    """The lines of the next `limit` due texts; each text is pushed one grace period forward
    (so the next sweeps leave it alone while its line's task waits)."""
    now = timezone.now()
    due = list(
        Message.objects.filter(
            direction=Message.Direction.OUTBOUND,
            status=MessageStatus.RECEIVED,
            outbox_due_at__lt=now,
        )
        .order_by("outbox_due_at")
        .values_list("pk", "line_id")[:limit]
    )
    if not due:
        return []
    Message.objects.filter(pk__in=[pk for pk, _ in due], status=MessageStatus.RECEIVED).update(
        outbox_due_at=now + _seconds(settings.SMS_OUTBOX_GRACE_SECONDS)
    )
    return list(dict.fromkeys(line_id for _, line_id in due))


@shared_task(name="messaging.tasks.line_dispatch", bind=True, ignore_result=True)
def line_dispatch_task(self: Task[[str], int], line_id: str) -> int:
    """Send the line's due texts, batch after batch, then stop; returns how many were sent or
    failed. Each batch publishes the next one (a continuation, not a loop in the worker, so
    one busy line does not hold a worker process away from the others)."""
    eager = bool(self.request.is_eager)
    line = uuid.UUID(line_id)
    if not eager:
        line_dispatch_started(line)
        done = line_dispatch(line_id=line, max_inline_wait=settings.SMS_PACING_MAX_INLINE_WAIT)
        if done.more_due:
            line_dispatch_enqueue(line, again=True)
        if done.retry_in is not None:
            line_dispatch_enqueue(line, countdown=done.retry_in, again=True)
        return done.sent + done.failed
    total, pending = 0, None
    for _ in range(EAGER_MAX_ROUNDS):
        done = line_dispatch(line_id=line, max_inline_wait=None)
        total += done.sent + done.failed
        if done.retry_in is not None:
            pending = min(pending or done.retry_in, done.retry_in)
        if done.more_due:
            continue
        if pending is None:
            break
        time.sleep(pending)
        pending = None
    return total


@shared_task(name="messaging.tasks.message_dispatch", ignore_result=True)
def message_dispatch_task(message_id: str) -> int:
    """A task published by a release that dispatched one message per task, still queued when
    this one started (a rolling deploy): its line's task takes the message, with the rest."""
    line_id = (
        Message.objects.filter(pk=uuid.UUID(message_id)).values_list("line_id", flat=True).first()
    )
    if line_id is None:
        return 0
    return int(line_dispatch_enqueue(line_id))
