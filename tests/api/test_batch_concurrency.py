"""Concurrent batches on PostgreSQL: a batch is one transaction and holds the rows of the
conversations it writes until it commits. Two batches naming the same numbers in opposite orders
would deadlock if each wrote in its own order (PostgreSQL would abort one: a 503); they write in
one order (by patient, then number), so both succeed, each whole."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client

from messaging.models import Message
from practices.models import Practice
from tests.support.api import MESSAGES_URL, message_payload

pytestmark = pytest.mark.django_db(transaction=True)

BATCH_URL = f"{MESSAGES_URL}/batch"
ITEMS = 60
ROUNDS = 3


@pytest.fixture(autouse=True)
def _postgresql_only(transactional_db: None) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks): set DATABASE_URL=postgres://… to run it")


def post_all_at_once(token: str, bodies: list[dict[str, Any]]) -> list[Any]:
    barrier = threading.Barrier(len(bodies))
    responses: list[Any] = [None] * len(bodies)
    errors: list[BaseException] = []

    def post(index: int) -> None:
        try:
            client = Client(raise_request_exception=False)
            barrier.wait(timeout=30)
            responses[index] = client.post(
                BATCH_URL,
                bodies[index],
                content_type="application/json",
                headers={"Authorization": f"Bearer {token}"},
            )
        except BaseException as exc:  # reported by the test thread below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return responses


def test_batches_crossing_each_other_are_each_whole_or_not_at_all(
    token: str, practice: Practice
) -> None:
    numbers = [f"+1818555{i:04d}" for i in range(ITEMS)]
    forward = {"messages": [message_payload(practice, to=to) for to in numbers]}
    backward = {"messages": list(reversed(forward["messages"]))}
    for round_ in range(1, ROUNDS + 1):
        responses = post_all_at_once(token, [forward, backward])
        assert [r.status_code for r in responses] == [207, 207], [r.content for r in responses]
        for response, body in zip(responses, (forward, backward), strict=True):
            results = response.json()["results"]
            assert [r["message"]["to"] for r in results] == [m["to"] for m in body["messages"]]
        assert Message.objects.count() == round_ * 2 * ITEMS
