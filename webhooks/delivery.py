"""Outbound webhooks: `message.status` and `patient.response` events, signed and delivered to API
clients, retried on a schedule kept in the database.

- Events are stored inside the transaction that makes them (handlers of `messaging.events`,
  registered in `WebhooksConfig.ready`), one `WebhookDelivery` row each, and enqueued with
  `artera.outbox` after commit: a committed event is never lost, a rolled back one never sent;
  while the broker is down no request waits for it (the back-off), and the sweep catches up.
- `webhook_delivery_attempt` (the Celery task's body) makes one attempt: claim, SSRF check,
  sign, POST, record a `WebhookAttempt`, and schedule the next attempt or finish.
- `webhook_deliveries_sweep` (a beat task every `WEBHOOK_SWEEP_SECONDS`) enqueues the deliveries
  whose next attempt is due: retries, and first attempts whose task was lost.
- Admin operations: `webhook_delivery_redeliver`, `webhook_endpoint_enable` / `_disable`,
  `api_client_webhook_secret_rotate`, `webhook_test_send` (a `webhook.test` event).

Nothing here logs a message body, a phone number or a URL (URLs can carry integrators' tokens):
only ids, event types, status codes and durations.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import logging
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import certifi
import urllib3
from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from artera.errors import ApplicationError
from artera.outbox import outbox_sweep, publish_on_commit, task_publish
from messaging.events import InboundMessageReceived, MessageStatusChanged
from messaging.models import STATUS_RANK, Message

from .models import ApiClient, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .services import webhook_secret_generate
from .signing import webhook_headers
from .ssrf import IPAddress, UnsafeWebhookUrl, webhook_url_check

logger = logging.getLogger(__name__)

USER_AGENT = "Artera-Webhooks/1.0"
# A claimed attempt belongs to its worker this long past the request timeout; after that the
# worker is presumed dead and the sweep may hand the delivery to another.
LEASE_MARGIN_SECONDS = 30.0
# URL refusals that may pass (DNS trouble) are retried; the others cannot get better by waiting.
_RETRYABLE_URL_REASONS = frozenset(
    {UnsafeWebhookUrl.DNS_UNAVAILABLE, UnsafeWebhookUrl.UNRESOLVABLE}
)
_THROTTLE_STATUSES = frozenset({429, 503})


def _now() -> datetime.datetime:
    return timezone.now()


def _seconds(value: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=value)


# --- Events (inside the transaction that makes them) ------------------------------------------


def message_status_events_store(events: Sequence[MessageStatusChanged]) -> None:
    """Status changes of outbound messages: a `message.status` delivery for each change of a
    message sent through the API by an active client with a webhook URL (the message's
    callback_url, else the client's default).

    This runs inside the status changes' transaction on the worker's hot path, for a whole
    batch at once: one query finds the API-sent messages among them, one INSERT stores every
    delivery, and after commit one task per API client delivers them (in order). The body is
    built at the first attempt, from the row and the message.
    """
    targets = {
        row["pk"]: row
        for row in Message.objects.filter(
            pk__in={event.message_id for event in events}, sender_api_client__is_active=True
        ).values("pk", "sender_api_client_id", "callback_url", "sender_api_client__webhook_url")
    }
    now = _now()
    first_attempt_due = now + _seconds(settings.WEBHOOK_ENQUEUE_GRACE_SECONDS)
    deliveries = []
    for event in events:
        target = targets.get(event.message_id)
        url = target and (target["callback_url"] or target["sender_api_client__webhook_url"])
        if not target or not url:
            continue
        deliveries.append(
            WebhookDelivery(
                api_client_id=target["sender_api_client_id"],
                url=url,
                event_type=WebhookDelivery.EventType.MESSAGE_STATUS,
                message_id=event.message_id,
                message_status=event.status,
                error_code=event.error_code,
                sequence=STATUS_RANK[event.status],
                occurred_at=event.at,
                # The first attempt is enqueued on commit; the sweep only steps in if that task
                # is lost.
                next_attempt_at=first_attempt_due,
                created_at=now,
            )
        )
    if not deliveries:
        return
    WebhookDelivery.objects.bulk_create(deliveries)
    by_client: dict[uuid.UUID, list[str]] = {}
    for delivery in deliveries:
        by_client.setdefault(delivery.api_client_id, []).append(str(delivery.pk))
    for delivery_ids in by_client.values():
        publish_on_commit(webhook_deliver_first, delivery_ids, queue=settings.WEBHOOK_CELERY_QUEUE)


def patient_response_event_store(event: InboundMessageReceived) -> None:
    """A patient's text in a conversation where an API client has texted: a `patient.response`
    delivery to the client of the latest API-sent message (`in_reply_to`), at its default
    webhook URL (or, for a client without one, that message's callback_url). A secure reply
    (typed on the secure portal) answers the latest API-sent *secure* message when there is
    one, not a plain reminder sent after it."""
    message, channel = event.message, event.channel
    api_sent = (
        Message.objects.filter(
            channel_id=channel.pk,
            direction=Message.Direction.OUTBOUND,
            sender_api_client__isnull=False,
            sender_api_client__is_active=True,
        )
        .order_by("-created_at", "-pk")
        .values("pk", "sender_api_client_id", "callback_url", "sender_api_client__webhook_url")
    )
    latest = api_sent.filter(is_secure=True).first() if message.is_secure else None
    if latest is None:
        latest = api_sent.first()
    if latest is None:
        return
    url = latest["sender_api_client__webhook_url"] or latest["callback_url"]
    if not url:
        return
    occurred_at = message.status_changed_at or message.created_at or _now()
    data = {
        "message_id": str(message.pk),
        "channel_id": str(channel.pk),
        "patient_id": str(channel.patient_id) if channel.patient_id else None,
        "from": message.from_number,
        "body": message.body,
        "secure": message.is_secure,
        "in_reply_to": str(latest["pk"]),
        "at": _iso(occurred_at),
    }
    now = _now()
    delivery = WebhookDelivery.objects.create(
        api_client_id=latest["sender_api_client_id"],
        url=url,
        event_type=WebhookDelivery.EventType.PATIENT_RESPONSE,
        message_id=message.pk,
        occurred_at=occurred_at,
        body=_body(WebhookDelivery.EventType.PATIENT_RESPONSE, occurred_at, data),
        next_attempt_at=now + _seconds(settings.WEBHOOK_ENQUEUE_GRACE_SECONDS),
        created_at=now,
    )
    _enqueue_on_commit(delivery.pk, 0)


def webhook_delivery_enqueue(delivery_id: uuid.UUID, attempt_count: int) -> bool:
    """Publish the attempt task (`artera.outbox`: no publish is tried while the broker backs
    off); when the broker is unreachable the sweep takes over (False)."""
    return task_publish(
        webhook_deliver, str(delivery_id), attempt_count, queue=settings.WEBHOOK_CELERY_QUEUE
    )


def _enqueue_on_commit(delivery_id: uuid.UUID, attempt_count: int) -> None:
    publish_on_commit(
        webhook_deliver, str(delivery_id), attempt_count, queue=settings.WEBHOOK_CELERY_QUEUE
    )


def _iso(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def _body(event_type: str, occurred_at: datetime.datetime, data: dict[str, Any]) -> str:
    payload = {"type": event_type, "timestamp": _iso(occurred_at), "data": data}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def _message_status_body(delivery: WebhookDelivery) -> str:
    """The `message.status` payload. Never the message's body: status events go to whoever the
    URL names, and carry only what the integrator sent us plus the outcome."""
    message = None
    if delivery.message_id is not None:
        message = (
            Message.objects.filter(pk=delivery.message_id)
            .values("to_number", "practice_id", "metadata")
            .first()
        )
    data: dict[str, Any] = {
        "message_id": str(delivery.message_id) if delivery.message_id else None,
        "status": delivery.message_status,
        "error_code": delivery.error_code or None,
        "to": message["to_number"] if message else None,
        "practice_id": str(message["practice_id"]) if message else None,
        "metadata": message["metadata"] if message else {},
        "sequence": delivery.sequence,
        "at": _iso(delivery.occurred_at),
    }
    return _body(delivery.event_type, delivery.occurred_at, data)


# --- Attempts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpResult:
    status_code: int | None
    excerpt: str = ""
    error: str = ""
    retry_after: float | None = None


def webhook_delivery_attempt(*, delivery_id: uuid.UUID, attempt_count: int) -> str:
    """Make attempt number `attempt_count + 1` of a delivery; returns the delivery's status
    afterwards, or "skipped" when it is not this call's to make (another worker has it, it was
    made already, or the delivery is finished). Safe to run twice."""
    now = _now()
    lease = _seconds(settings.WEBHOOK_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS)
    claimed = (
        WebhookDelivery.objects.filter(
            pk=delivery_id, status=WebhookDelivery.Status.PENDING, attempt_count=attempt_count
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + lease, next_attempt_at=now + lease)
    )
    if not claimed:
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("api_client", "endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint or _endpoint_for(delivery)
    if not endpoint.is_enabled:
        _delivery_finish(delivery, status=WebhookDelivery.Status.DISABLED, error="")
        logger.info("Webhook delivery %s not sent: endpoint %s disabled", delivery.pk, endpoint.pk)
        return delivery.status
    if not delivery.body:
        delivery.body = _message_status_body(delivery)
        delivery.save(update_fields=["body"])

    started = _now()
    clock = time.monotonic()
    try:
        addresses = webhook_url_check(delivery.url)
    except UnsafeWebhookUrl as exc:
        result = HttpResult(status_code=None, error=f"URL refused: {exc.reason}")
        final = exc.reason not in _RETRYABLE_URL_REASONS
    else:
        timestamp = int(time.time())
        body = delivery.body.encode()
        headers = webhook_headers(
            secrets=delivery.api_client.webhook_signing_secrets(at=started),
            webhook_id=delivery.webhook_id,
            timestamp=timestamp,
            body=body,
        )
        result = webhook_post(url=delivery.url, addresses=addresses, body=body, headers=headers)
        final = False
    duration_ms = int((time.monotonic() - clock) * 1000)
    succeeded = result.status_code is not None and 200 <= result.status_code < 300
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempt_count + 1,
            started_at=started,
            duration_ms=duration_ms,
            status_code=result.status_code,
            response_excerpt=result.excerpt,
            error=result.error[:200],
            succeeded=succeeded,
        )
        delivery.attempt_count += 1
        delivery.schedule_step += 1
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error[:200]
        finished_at = _now()
        if succeeded:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
                failing_since=None, last_success_at=finished_at
            )
            delivery.delivered_at = finished_at
            _delivery_finish(delivery, status=WebhookDelivery.Status.DELIVERED)
        elif result.status_code == 410:
            webhook_endpoint_disable(
                endpoint=endpoint, reason=WebhookEndpoint.DisabledReason.GONE, at=finished_at
            )
            _delivery_finish(delivery, status=WebhookDelivery.Status.DISABLED)
        elif _endpoint_failing_too_long(endpoint, at=finished_at):
            webhook_endpoint_disable(
                endpoint=endpoint, reason=WebhookEndpoint.DisabledReason.FAILING, at=finished_at
            )
            _delivery_finish(delivery, status=WebhookDelivery.Status.DISABLED)
        elif final or delivery.schedule_step >= len(settings.WEBHOOK_RETRY_SCHEDULE):
            _delivery_finish(delivery, status=WebhookDelivery.Status.FAILED)
        else:
            throttled = result.status_code in _THROTTLE_STATUSES
            delay = retry_delay(
                step=delivery.schedule_step, retry_after=result.retry_after if throttled else None
            )
            delivery.next_attempt_at = finished_at + _seconds(delay)
            delivery.lease_until = None
            delivery.save(update_fields=_ATTEMPT_FIELDS)
    logger.info(
        "Webhook delivery %s (%s) attempt %d to endpoint %s: %s in %d ms -> %s",
        delivery.pk,
        delivery.event_type,
        delivery.attempt_count,
        endpoint.pk,
        result.status_code or result.error.split(":")[0] or "-",
        duration_ms,
        delivery.status,
    )
    return delivery.status


@shared_task(name="webhooks.tasks.webhook_deliver_first", ignore_result=True)
def webhook_deliver_first(delivery_ids: list[str]) -> int:
    """The first attempts of one client's new deliveries, in the order their events happened
    (one task for a batch of status changes instead of one per change); returns how many were
    made. Each is its own attempt, claimed and recorded as `webhook_deliver` does, so a
    redelivered task makes none twice, and a delivery this task never reaches (its worker died)
    is the sweep's."""
    made = 0
    for delivery_id in delivery_ids:
        status = webhook_delivery_attempt(delivery_id=uuid.UUID(delivery_id), attempt_count=0)
        made += status != "skipped"
    return made


@shared_task(name="webhooks.tasks.webhook_deliver", ignore_result=True)
def webhook_deliver(delivery_id: str, attempt_count: int) -> str:
    """The attempt's Celery task (queue `artera-webhooks`): ids in, safe to run twice. It lives
    beside the code that publishes it, so publishing needs no import inside a function;
    `webhooks.tasks` re-exports it for the worker's autodiscovery."""
    return webhook_delivery_attempt(
        delivery_id=uuid.UUID(delivery_id), attempt_count=int(attempt_count)
    )


_ATTEMPT_FIELDS = [
    "attempt_count",
    "schedule_step",
    "last_status_code",
    "last_error",
    "next_attempt_at",
    "lease_until",
    "delivered_at",
    "status",
]


def _delivery_finish(delivery: WebhookDelivery, *, status: str, error: str | None = None) -> None:
    delivery.status = status
    delivery.next_attempt_at = None
    delivery.lease_until = None
    if error is not None:
        delivery.last_error = error
    delivery.save(update_fields=_ATTEMPT_FIELDS)


def _endpoint_for(delivery: WebhookDelivery) -> WebhookEndpoint:
    endpoint, _ = WebhookEndpoint.objects.get_or_create(
        api_client_id=delivery.api_client_id, url=delivery.url
    )
    delivery.endpoint = endpoint
    delivery.save(update_fields=["endpoint"])
    return endpoint


def _endpoint_failing_too_long(endpoint: WebhookEndpoint, *, at: datetime.datetime) -> bool:
    """Record a failure; True once the endpoint has failed for the whole disable period."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
        failing_since=at
    )
    since = WebhookEndpoint.objects.values_list("failing_since", flat=True).get(pk=endpoint.pk)
    limit = datetime.timedelta(days=settings.WEBHOOK_DISABLE_AFTER_FAILING_DAYS)
    return since is not None and at - since >= limit


def retry_delay(*, step: int, retry_after: float | None) -> float:
    """Seconds before attempt `step + 1` (0-based schedule index `step`), with jitter; a
    receiver's Retry-After is honoured when it asks for longer (up to a cap)."""
    base = settings.WEBHOOK_RETRY_SCHEDULE[step]
    jitter = settings.WEBHOOK_RETRY_JITTER
    delay = base * random.uniform(1 - jitter, 1 + jitter)  # noqa: S311 (not security)
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.WEBHOOK_RETRY_AFTER_MAX_SECONDS))
    return delay


def retry_after_seconds(value: str | None, *, now: datetime.datetime | None = None) -> float | None:
    """A Retry-After header: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - (now or _now())).total_seconds())


def webhook_post(
    *, url: str, addresses: list[IPAddress], body: bytes, headers: dict[str, str]
) -> HttpResult:
    """POST `body` to `url`, connecting only to `addresses` when given (the ones the SSRF check
    validated, so a second DNS lookup cannot send us elsewhere), with TLS still checked against
    the URL's host name. No redirects are followed. One overall time budget."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = host if ":" not in host else f"[{host}]"
    if parts.port:
        host_header += f":{parts.port}"
    request_headers = {
        **headers,
        "Host": host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    deadline = time.monotonic() + settings.WEBHOOK_TIMEOUT_SECONDS
    targets = [str(a) for a in addresses] or [host]
    last_error = "connection failed"
    for target in targets:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return HttpResult(status_code=None, error="timeout")
        timeout = urllib3.Timeout(connect=remaining, read=remaining)
        pool: urllib3.HTTPConnectionPool
        if https:
            pool = urllib3.HTTPSConnectionPool(
                target,
                port,
                timeout=timeout,
                retries=False,
                maxsize=1,
                cert_reqs="CERT_REQUIRED",
                ca_certs=certifi.where(),
                server_hostname=host,
                assert_hostname=host,
            )
        else:
            pool = urllib3.HTTPConnectionPool(
                target, port, timeout=timeout, retries=False, maxsize=1
            )
        try:
            response = pool.urlopen(
                "POST",
                path,
                body=body,
                headers=request_headers,
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
            try:
                excerpt = _read_excerpt(response, deadline)
            finally:
                response.release_conn()
            return HttpResult(
                status_code=response.status,
                excerpt=excerpt,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError):
            last_error = "connection failed"
            continue
        except urllib3.exceptions.TimeoutError:
            return HttpResult(status_code=None, error="timeout")
        except urllib3.exceptions.SSLError:
            return HttpResult(status_code=None, error="TLS error")
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return HttpResult(status_code=None, error=f"connection error: {type(exc).__name__}")
        finally:
            pool.close()
    return HttpResult(status_code=None, error=last_error)


def _read_excerpt(response: Any, deadline: float) -> str:
    limit = settings.WEBHOOK_RESPONSE_EXCERPT_BYTES
    chunks: list[bytes] = []
    size = 0
    while size < limit and time.monotonic() < deadline:
        chunk = response.read(min(4096, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[:limit].decode("utf-8", errors="replace")


# --- The sweep -----------------------------------------------------------------------------------


def webhook_deliveries_sweep(*, batch_size: int = 500, max_batches: int = 20) -> int:
    """Enqueue the pending deliveries whose next attempt is due; returns how many.

    Each is pushed `WEBHOOK_ENQUEUE_GRACE_SECONDS` forward before it is enqueued, so the next
    sweeps leave it alone while its task waits in the queue (and take it again if that task is
    lost). Enqueuing twice is harmless: only one task can claim an attempt.
    """
    swept = outbox_sweep(
        take_due=_deliveries_due,
        publish=lambda due: webhook_delivery_enqueue(*due),
        batch_size=batch_size,
        max_batches=max_batches,
    )
    if swept:
        logger.info("Webhook sweep enqueued %d delivery(ies)", swept)
    return swept


def _deliveries_due(limit: int) -> list[tuple[uuid.UUID, int]]:
    now = _now()
    due = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        )
        .order_by("next_attempt_at")
        .values_list("pk", "attempt_count")[:limit]
    )
    if due:
        WebhookDelivery.objects.filter(
            pk__in=[pk for pk, _ in due], status=WebhookDelivery.Status.PENDING
        ).update(next_attempt_at=now + _seconds(settings.WEBHOOK_ENQUEUE_GRACE_SECONDS))
    return due


# --- Admin operations ----------------------------------------------------------------------------


def webhook_delivery_redeliver(*, delivery: WebhookDelivery) -> bool:
    """Send a delivery again (same webhook-id, same body), now, with a fresh retry schedule.
    False when an attempt is in flight right now (its outcome stands; try again after it)."""
    with transaction.atomic():
        locked = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        now = _now()
        if locked.lease_until is not None and locked.lease_until > now:
            return False
        locked.status = WebhookDelivery.Status.PENDING
        locked.schedule_step = 0
        locked.lease_until = None
        locked.next_attempt_at = now + _seconds(settings.WEBHOOK_ENQUEUE_GRACE_SECONDS)
        locked.save(update_fields=["status", "schedule_step", "lease_until", "next_attempt_at"])
        _enqueue_on_commit(locked.pk, locked.attempt_count)
    return True


class WebhookTestRefused(ApplicationError):
    """A test webhook cannot be sent: the client is inactive or has no webhook URL."""

    http_status = 422
    default_code = "webhook_test_refused"


def webhook_test_send(*, api_client: ApiClient) -> WebhookDelivery:
    """A `webhook.test` event to the client's default webhook URL, delivered like every other
    webhook (signed, SSRF-checked before each attempt, retried, every attempt recorded), so the
    admin sees on the delivery's page what the receiver answered."""
    if not api_client.is_active:
        raise WebhookTestRefused(
            "This API client is inactive: it gets no webhooks.", code="api_client_inactive"
        )
    if not api_client.webhook_url:
        raise WebhookTestRefused(
            "This API client has no default webhook URL to test.", code="no_webhook_url"
        )
    now = _now()
    data = {"api_client": api_client.name, "message": "A test webhook sent from admin."}
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            api_client=api_client,
            url=api_client.webhook_url,
            event_type=WebhookDelivery.EventType.TEST,
            occurred_at=now,
            body=_body(WebhookDelivery.EventType.TEST, now, data),
            next_attempt_at=now + _seconds(settings.WEBHOOK_ENQUEUE_GRACE_SECONDS),
            created_at=now,
        )
        _enqueue_on_commit(delivery.pk, 0)
    logger.info("API client %s: test webhook %s queued", api_client.pk, delivery.pk)
    return delivery


def webhook_endpoint_disable(
    *, endpoint: WebhookEndpoint, reason: str, at: datetime.datetime | None = None
) -> None:
    at = at or _now()
    WebhookEndpoint.objects.filter(pk=endpoint.pk, is_enabled=True).update(
        is_enabled=False, disabled_at=at, disabled_reason=reason
    )
    endpoint.refresh_from_db()
    logger.warning("Webhook endpoint %s disabled: %s", endpoint.pk, reason)


def webhook_endpoint_enable(*, endpoint: WebhookEndpoint) -> None:
    """Enable an endpoint again; deliveries that were not sent meanwhile can be redelivered."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_enabled=True, disabled_at=None, disabled_reason="", failing_since=None
    )
    endpoint.refresh_from_db()


def api_client_webhook_secret_rotate(
    *, api_client: ApiClient, overlap: datetime.timedelta | None = None
) -> str:
    """Give the client a new signing secret and return it (it is shown once). The old one keeps
    signing too for `overlap` (default `WEBHOOK_SECRET_ROTATION_HOURS`), so the integrator can
    switch without refusing a webhook."""
    if overlap is None:
        overlap = datetime.timedelta(hours=settings.WEBHOOK_SECRET_ROTATION_HOURS)
    new_secret = webhook_secret_generate()
    with transaction.atomic():
        client = ApiClient.objects.select_for_update().get(pk=api_client.pk)
        client.previous_webhook_secret = client.webhook_secret
        client.previous_webhook_secret_expires_at = _now() + overlap
        client.webhook_secret = new_secret
        client.save(
            update_fields=[
                "webhook_secret",
                "previous_webhook_secret",
                "previous_webhook_secret_expires_at",
            ]
        )
    api_client.webhook_secret = client.webhook_secret
    api_client.previous_webhook_secret = client.previous_webhook_secret
    api_client.previous_webhook_secret_expires_at = client.previous_webhook_secret_expires_at
    logger.info("API client %s: webhook signing secret rotated", api_client.pk)
    return new_secret
