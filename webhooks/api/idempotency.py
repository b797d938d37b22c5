"""`Idempotency-Key`: a retried request gets the first response, and nothing happens twice.

Scoped to the API client: two clients may use the same key. The request's fingerprint (method,
path and its JSON body in canonical form, so key order and whitespace do not matter) is stored
with the key; the same key with another body is refused with 422 `idempotency_key_reuse`.

How it stays correct under concurrency (see `IdempotencyKey`): the key's row is the first thing
the request's transaction inserts, and the response is stored in that transaction before it
commits. A concurrent duplicate blocks on that INSERT until the first one commits, then gets a
unique-constraint violation, leaves its (empty) transaction and replays the stored response.
Only accepted requests are stored: a request refused with a 4xx (or failing with a 5xx) leaves
no row, so correcting and retrying it with the same key works.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from artera.errors import InvalidInput, Refused
from webhooks.models import ApiClient, IdempotencyKey

IDEMPOTENCY_KEY_MAX_LENGTH = 255
# Keys are kept at least this long whatever the setting says: the contract promises a day.
IDEMPOTENCY_KEY_MIN_HOURS = 24


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: dict[str, Any]
    replayed: bool = False


def idempotency_key_parse(value: str | None) -> str | None:
    """The header's key, or None when there is none; refuses keys that cannot be stored."""
    if value is None:
        return None
    if not value.strip() or len(value) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise InvalidInput(
            f"An Idempotency-Key is 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters.",
            code="invalid_idempotency_key",
            field="Idempotency-Key",
        )
    if not value.isascii() or not value.isprintable():
        raise InvalidInput(
            "An Idempotency-Key may only use printable ASCII characters.",
            code="invalid_idempotency_key",
            field="Idempotency-Key",
        )
    return value


def request_fingerprint(*, method: str, path: str, data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def idempotent_call(
    *,
    api_client: ApiClient,
    key: str | None,
    fingerprint: str,
    call: Callable[[], StoredResponse],
) -> StoredResponse:
    """Run `call` (which returns the response to send) at most once per client and key.

    `call` runs inside the transaction that holds the key: everything it writes commits with
    the stored response, or not at all.
    """
    if key is None:
        return call()
    try:
        with transaction.atomic():
            row = IdempotencyKey.objects.create(
                api_client=api_client, key=key, request_fingerprint=fingerprint
            )
            response = call()
            IdempotencyKey.objects.filter(pk=row.pk).update(
                response_status=response.status, response_body=response.body
            )
            return response
    except IntegrityError:
        stored = IdempotencyKey.objects.filter(api_client=api_client, key=key).first()
        if stored is None:
            raise  # not the key's constraint: a real error inside `call`
    if stored.request_fingerprint != fingerprint:
        raise Refused(
            "This Idempotency-Key was already used with a different request body; use a new "
            "key for a new message.",
            code="idempotency_key_reuse",
            field="Idempotency-Key",
        )
    return StoredResponse(
        status=int(stored.response_status or 200), body=stored.response_body or {}, replayed=True
    )


def idempotency_keys_purge(*, now: datetime.datetime | None = None, batch_size: int = 5000) -> int:
    """Delete keys older than the retention period, in batches; returns how many."""
    hours = max(IDEMPOTENCY_KEY_MIN_HOURS, int(settings.API_IDEMPOTENCY_KEY_HOURS))
    cutoff = (now or timezone.now()) - datetime.timedelta(hours=hours)
    expired = IdempotencyKey.objects.filter(created_at__lt=cutoff)
    purged = 0
    while ids := list(expired.values_list("pk", flat=True)[:batch_size]):
        purged += IdempotencyKey.objects.filter(pk__in=ids).delete()[0]
    return purged
