"""Long random secrets that are shown once and stored only as a hash.

The tokens here carry at least 256 bits of entropy, so a fast hash (SHA-256) is enough: there is
nothing to brute-force, and a fast hash lets a request find its row by an indexed lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings


def token_generate(*, prefix: str = "", nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(token), stored_hash)


def demo_secret(*, purpose: str, length: int = 32) -> str:
    """A secret derived from SECRET_KEY, so demo seeding can print the same credentials twice
    without ever storing them in clear."""
    digest = hmac.new(settings.SECRET_KEY.encode(), purpose.encode(), hashlib.sha256).hexdigest()
    return digest[:length]
