"""Concurrent batches on PostgreSQL: a batch is one transaction and holds the rows of the
conversations it writes until it commits. Two batches naming the same numbers in opposite orders
would deadlock if each wrote in its own order (PostgreSQL would abort one: a 503); they write in
one order (by patient, then number), so both succeed, each whole."""

from __future__ import annotations

import pytest
from django.db import connection

from messaging.models import Message
from practices.models import Practice
from tests.support.api import MESSAGES_URL, message_payload, post_all_at_once

pytestmark = pytest.mark.django_db(transaction=True)

BATCH_URL = f"{MESSAGES_URL}/batch"
ITEMS = 60
ROUNDS = 3


@pytest.fixture(autouse=True)
def _postgresql_only(transactional_db: None) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks): set DATABASE_URL=postgres://… to run it")


def test_batches_crossing_each_other_are_each_whole_or_not_at_all(
    token: str, practice: Practice
) -> None:
    numbers = [f"+1818555{i:04d}" for i in range(ITEMS)]
    forward = {"messages": [message_payload(practice, to=to) for to in numbers]}
    backward = {"messages": list(reversed(forward["messages"]))}
    for round_ in range(1, ROUNDS + 1):
        responses = post_all_at_once(BATCH_URL, token, [forward, backward])
        assert [r.status_code for r in responses] == [207, 207], [r.content for r in responses]
        for response, body in zip(responses, (forward, backward), strict=True):
            results = response.json()["results"]
            assert [r["message"]["to"] for r in results] == [m["to"] for m in body["messages"]]
        assert Message.objects.count() == round_ * 2 * ITEMS
