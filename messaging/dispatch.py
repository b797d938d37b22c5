"""The worker's side of sending (core): claim, pacing, the gateway, and the outbox sweep.

- `message_dispatch` hands one stored outbound message to the SMS gateway, at most once;
- `message_sms_text` is what the carrier gets (the body, or a secure message's notice);
- `dispatch_enqueue` publishes the Celery task (`message_dispatch_task`) after the send path's
  commit; `outbox_sweep` re-enqueues what was stored but never handed over.

The task is defined here, next to the service it runs and the function that publishes it, so
the send path, the task and the sweeper need no import cycle (`messaging.tasks` re-exports it
for Celery's autodiscovery). Core: imports only the status writer and the plumbing below it.
"""

from __future__ import annotations

import datetime
import enum
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db.models import Exists, F, Q
from django.utils import timezone

from artera import outbox

from .gateways import GatewayError, gateway_get
from .models import Message, MessageStatus, SecureLink
from .outbox import task_publish
from .pacing import line_slot_reserve
from .secure_links import secure_notice_text
from .status import message_status_apply

logger = logging.getLogger(__name__)

# A message waiting for an earlier one to the same patient checks back this often (at least).
ORDER_RETRY_SECONDS = 0.5
# When tasks run in-process (no broker), a deferred send waits in place instead; bounded so a
# message stuck behind a lost predecessor cannot hold a request forever (the sweeper has it).
EAGER_MAX_ROUNDS = 20


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


def dispatch_enqueue(message_id: uuid.UUID, countdown: float | None = None) -> bool:
    """Publish the dispatch task for `message_id`; False when the broker is unreachable (the
    sweeper has it then)."""
    return task_publish(message_dispatch_task, str(message_id), countdown=countdown)


def outbox_sweep(*, batch_size: int = 500, max_batches: int = 20) -> int:
    """Re-enqueue outbound messages that are due and still unsent; returns how many.

    A message is due when no task has claimed it for `SMS_OUTBOX_GRACE_SECONDS` past the time
    it was meant to be sent (its publish failed, or its task was lost with a worker), or when
    the lease of the worker that claimed it ran out (it died). Enqueuing twice is harmless: only
    one task can claim a message. The loop (batches, stopping when the broker refuses) is
    `artera.outbox.outbox_sweep`, shared with webhook deliveries.
    """
    swept = outbox.outbox_sweep(
        take_due=_messages_due,
        publish=dispatch_enqueue,
        batch_size=batch_size,
        max_batches=max_batches,
    )
    if swept:
        logger.info("Outbox sweep re-enqueued %d message(s)", swept)
    return swept


def _messages_due(limit: int) -> list[uuid.UUID]:
    """The next `limit` due messages, each pushed one grace period forward (so the next sweeps
    leave it alone while its task waits in the queue)."""
    now = timezone.now()
    due = list(
        Message.objects.filter(
            direction=Message.Direction.OUTBOUND,
            status=MessageStatus.RECEIVED,
            outbox_due_at__lt=now,
        )
        .order_by("outbox_due_at")
        .values_list("pk", flat=True)[:limit]
    )
    if due:
        Message.objects.filter(pk__in=due, status=MessageStatus.RECEIVED).update(
            outbox_due_at=now + _seconds(settings.SMS_OUTBOX_GRACE_SECONDS)
        )
    return due


@shared_task(name="messaging.tasks.message_dispatch", bind=True, ignore_result=True)
def message_dispatch_task(self: Task[[str], str], message_id: str) -> str:
    eager = bool(self.request.is_eager)
    max_inline_wait = None if eager else settings.SMS_PACING_MAX_INLINE_WAIT
    for _ in range(EAGER_MAX_ROUNDS if eager else 1):
        outcome = message_dispatch(
            message_id=uuid.UUID(message_id), max_inline_wait=max_inline_wait
        )
        if outcome.retry_in is None:
            return outcome.state.value
        if not eager:
            task_publish(message_dispatch_task, message_id, countdown=outcome.retry_in)
            return outcome.state.value
        time.sleep(outcome.retry_in)
    return DispatchState.DEFERRED.value
