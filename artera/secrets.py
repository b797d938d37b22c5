"""Long random secrets that are shown once and stored only as a hash.

The tokens here carry at least 256 bits of entropy, so a fast hash (SHA-256) is enough: there is
nothing to brute-force, and a fast hash lets a request find its row by an indexed lookup. OAuth
client secrets (generated, far too long to guess) get a fast keyed hash too (`ClientSecretHasher`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import (
    BasePasswordHasher,
    check_password,
    identify_hasher,
    make_password,
    mask_hash,
)


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


# --- API client secrets ----------------------------------------------------------------------
# OAuth client secrets are generated, never chosen by a person (DOT's generator: 128 characters
# of a 62-letter alphabet; the demo's: 160 bits): nobody can guess one, so the slow password hash
# DOT uses by default (PBKDF2, ~1M iterations) protects nothing and makes every token request,
# right or wrong, cost tens of milliseconds of CPU. A keyed HMAC-SHA256 costs microseconds, and
# the key (not in the database) means a stolen database alone cannot check a guess either.
#
# The hasher is a Django password hasher so DOT's own machinery keeps working unchanged:
# `OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"]` names it (DOT hashes on save), and it is listed
# last in `PASSWORD_HASHERS` (so it is recognised, never the default for user passwords).

CLIENT_SECRET_ALGORITHM = "artera_hmac_sha256"  # noqa: S105 (a name, not a secret)


def _client_secret_keys() -> list[bytes]:
    """The key that hashes client secrets, then older keys that still verify them.

    `API_CLIENT_SECRET_HASH_KEY` if set (rotate it only together with every client secret);
    otherwise one derived from SECRET_KEY, with SECRET_KEY_FALLBACKS honoured so a SECRET_KEY
    rotation done the Django way keeps existing secrets working (and re-hashes them on use).
    """
    dedicated = settings.API_CLIENT_SECRET_HASH_KEY
    if dedicated:
        return [dedicated.encode()]
    return [
        hmac.new(str(key).encode(), b"artera.client-secret", hashlib.sha256).digest()
        for key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    ]


def _client_secret_digest(secret: str, salt: str, key: bytes) -> str:
    return hmac.new(key, f"{salt}${secret}".encode(), hashlib.sha256).hexdigest()


class ClientSecretHasher(BasePasswordHasher):
    """`artera_hmac_sha256$<salt>$<hex HMAC-SHA256(key, salt + "$" + secret)>`."""

    algorithm = CLIENT_SECRET_ALGORITHM

    def encode(self, password: str, salt: str) -> str:
        if password is None or not salt or "$" in salt:
            raise ValueError("A client secret hash needs a secret and a salt without '$'.")
        digest = _client_secret_digest(str(password), salt, _client_secret_keys()[0])
        return f"{self.algorithm}${salt}${digest}"

    def decode(self, encoded: str) -> dict[str, str]:
        algorithm, salt, digest = encoded.split("$", 2)
        if algorithm != self.algorithm:
            raise ValueError("Not a client secret hash.")
        return {"algorithm": algorithm, "salt": salt, "hash": digest}

    def verify(self, password: str, encoded: str) -> bool:
        return self.matching_key_index(password, encoded) is not None

    def matching_key_index(self, password: str, encoded: str) -> int | None:
        """Which key (0: the current one) hashed `password` into `encoded`, or None."""
        try:
            parts = self.decode(encoded)
        except ValueError:
            return None
        for index, key in enumerate(_client_secret_keys()):
            expected = _client_secret_digest(str(password), parts["salt"], key)
            if hmac.compare_digest(expected, parts["hash"]):
                return index
        return None

    def safe_summary(self, encoded: str) -> dict[Any, Any]:
        parts = self.decode(encoded)
        return {
            "algorithm": parts["algorithm"],
            "salt": mask_hash(parts["salt"], show=2),
            "hash": mask_hash(parts["hash"]),
        }


@dataclass(frozen=True)
class SecretCheck:
    ok: bool
    # The secret was right but is stored the old way (DOT's PBKDF2, or under a retired key):
    # store it again with `client_secret_make`.
    needs_rehash: bool = False


def client_secret_make(secret: str) -> str:
    """The stored form of a client secret."""
    return make_password(secret, hasher=ClientSecretHasher())


def client_secret_is_fast(stored: str) -> bool:
    """True when `stored` is checked with the fast keyed hash (False: an older, slow form)."""
    return stored.startswith(CLIENT_SECRET_ALGORITHM + "$")


def client_secret_check(*, secret: str, stored: str) -> SecretCheck:
    """Whether `secret` is the client secret stored as `stored`.

    Stored forms: this module's HMAC (microseconds); anything else Django's hashers know, i.e.
    DOT's PBKDF2 from before this hasher existed (slow, and `needs_rehash` on success); an
    unhashed secret (DOT's `hash_client_secret=False`), compared in constant time.
    """
    if client_secret_is_fast(stored):
        index = ClientSecretHasher().matching_key_index(secret, stored)
        return SecretCheck(ok=index is not None, needs_rehash=bool(index))
    try:
        identify_hasher(stored)
    except ValueError:
        return SecretCheck(
            ok=bool(stored) and hmac.compare_digest(secret.encode(), stored.encode())
        )
    return SecretCheck(ok=check_password(secret, stored), needs_rehash=True)
