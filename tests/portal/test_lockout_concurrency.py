"""Parallel guesses cannot each see "four failures so far": the link row is locked per answer,
so exactly SECURE_LINK_MAX_FAILURES wrong answers are compared before the link locks."""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection, connections

from messaging.models import Message, SecureAccessAttempt, SecureLink
from messaging.secure import Client, secure_dob_check

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (row locks): set DATABASE_URL=postgres://… to run it",
    ),
]


def test_twelve_parallel_wrong_answers(
    send_secure: Callable[..., Message], monkeypatch: pytest.MonkeyPatch
) -> None:
    link = SecureLink.objects.get(message=send_secure())
    is_locked = SecureLink.is_locked

    def slow_is_locked(self: SecureLink, at: datetime.datetime) -> bool:
        # Widen the window between reading the count and writing it back.
        time.sleep(0.1)
        return is_locked(self, at)

    monkeypatch.setattr(SecureLink, "is_locked", slow_is_locked)
    start = threading.Barrier(12)
    errors: list[BaseException] = []

    def guess(n: int) -> None:
        try:
            start.wait()
            secure_dob_check(
                link=SecureLink.objects.get(pk=link.pk),
                date_of_birth=datetime.date(1950, 1, 1 + n),
                client=Client(ip_address=f"203.0.113.{n}"),
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    outcomes = sorted(SecureAccessAttempt.objects.values_list("outcome", flat=True))
    assert outcomes == ["locked"] * 7 + ["wrong"] * 5
    link.refresh_from_db()
    assert link.lockouts == 1
    assert link.locked_until is not None
