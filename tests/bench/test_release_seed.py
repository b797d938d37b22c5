"""The release scenario's seed (`bench.release`): scheduled texts as the send path stores them
with `send_at`, which the real release task then sends, each once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count

from bench.release import release_progress, release_seed
from messaging.models import Message, MessageStatus, SimulatorText
from messaging.services import scheduled_release

pytestmark = pytest.mark.django_db


def test_the_seed_is_released_and_sent_once_across_its_lines(run: Callable[..., Any]) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the seed is bulk SQL for PostgreSQL")
    seeded = release_seed(messages=30, lines=3)
    texts = Message.objects.filter(metadata__bench="release")
    assert texts.count() == 30
    per_line = dict(texts.values_list("line_id").annotate(n=Count("id")))
    assert sorted(per_line.values()) == [10, 10, 10]
    assert {str(line) for line in per_line} == set(seeded["lines"])
    for message in texts:
        assert message.status == MessageStatus.SCHEDULED
        assert message.channel.phone == message.to_number
        assert list(message.status_history.values_list("status", flat=True)) == ["scheduled"]
    assert release_progress() == {"scheduled": 30, "released": 0, "handed_over": 0}

    done = run(scheduled_release, batch_size=7)
    assert done.released == 30
    assert release_progress() == {"scheduled": 0, "released": 30, "handed_over": 30}
    carried = dict(SimulatorText.objects.values_list("client_reference").annotate(n=Count("id")))
    assert carried == {str(pk): 1 for pk in texts.values_list("pk", flat=True)}
