"""`bench.insights.insights_prepare` rolls the inbox seed up, and the dashboard's figures from
the rollups agree with counting the raw rows directly."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.utils import timezone

from bench.inbox import inbox_seed
from bench.insights import MANAGER_USERNAME, insights_prepare
from messaging.models import Message


@pytest.fixture
def seeded(db: None) -> dict[str, Any]:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (COPY): set DATABASE_URL=postgres://…")
    return inbox_seed(channels=60, messages=900, password="bench-test-password")


def test_the_rolled_up_dashboard_counts_what_the_raw_rows_hold(seeded: dict[str, Any]) -> None:
    prepared = insights_prepare(practice_id=seeded["practice_id"], password="bench-pass")
    assert prepared["waits"] > 0
    assert prepared["rollup_rows"] > 0
    manager = get_user_model().objects.get(username=MANAGER_USERNAME)
    client = Client()
    client.force_login(manager)
    response = client.get("/insights/summary.csv")
    assert response.status_code == 200
    rows = {row[0]: row[1:] for row in csv.reader(io.StringIO(response.content.decode()))}
    practice = manager.memberships.get().practice
    today = timezone.now().astimezone(practice.tz).date()
    start = datetime.datetime.combine(
        today - datetime.timedelta(days=29), datetime.time(0), tzinfo=practice.tz
    )
    in_range = Message.objects.filter(practice=practice, created_at__gte=start)
    assert rows["Texts sent"][0] == str(in_range.filter(direction="outbound").count())
    assert rows["Texts received"][0] == str(in_range.filter(direction="inbound").count())
    assert prepared["queries"] <= 30  # savepoints included: the test runs in a transaction
