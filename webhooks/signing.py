"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

Each POST carries `webhook-id` (the delivery's id, the same on every retry), `webhook-timestamp`
(Unix seconds of this attempt) and `webhook-signature`: `v1,<base64 HMAC-SHA256>` of
`"{id}.{timestamp}.{body}"`, keyed with the base64-decoded part of the client's `whsec_…`
secret. During a secret rotation each secret signs, the signatures space-separated: a receiver
that knows either secret accepts the request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


def signing_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_…` secret: the decoded bytes, not the string itself."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(*, secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_headers(
    *, secrets: Iterable[str], webhook_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt."""
    signatures = [
        signature(secret=secret, webhook_id=webhook_id, timestamp=timestamp, body=body)
        for secret in secrets
    ]
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }
