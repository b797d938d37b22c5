"""Locks that serialise work on one thing (a number on a line, a caller of a workflow) without
locking a row that everything else also needs.

On PostgreSQL a transaction-scoped advisory lock on a 32-bit hash of the key: it is released
when the transaction ends, whatever happens. Two different keys may share a hash, which only
makes them wait for each other. SQLite serialises writers by itself, so there it does nothing.
"""

from __future__ import annotations

import zlib

from django.db import connection


def transaction_lock(key: str) -> None:
    """Wait until no other transaction holds `key`, then hold it until this one ends."""
    if connection.vendor != "postgresql":
        return
    if not connection.in_atomic_block:
        raise RuntimeError("transaction_lock needs a transaction (transaction.atomic).")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(key.encode()) - 2**31])
