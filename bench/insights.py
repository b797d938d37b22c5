"""Scenario (j): the Insights dashboard of a practice with a million messages.

`insights_prepare` takes the practice `bench.inbox` seeded (1,000,000 messages over six months
by default), gives it weekday hours (so response times go through the business-hours calendar,
not the always-open shortcut), signs its manager in with a password, rolls every day up
(`insights.rollup.rollup_rebuild`, what installing Insights on a live database does) and counts
the SQL queries the dashboard costs that manager. `bench/run` then loads `/insights/` with wrk.

    DJANGO_SETTINGS_MODULE=artera.settings DATABASE_URL=postgres://… \\
        python -m bench.insights [--channels 100000 --messages 1000000]

seeds the inbox first (unless `--practice` names one already seeded) and prints one JSON object.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import time
from typing import Any

MANAGER_USERNAME = "bench-inbox-dana"  # the seed's first colleague is the practice's manager
DEFAULT_PASSWORD = "bench-insights-password"  # noqa: S105 - a benchmark login, not a secret
IN_PROCESS_RENDERS = 20


def insights_prepare(*, practice_id: str, password: str) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings
    from django.utils import timezone

    from insights.models import MessageDay, ResponseWait
    from insights.rollup import rollup_rebuild
    from practices.models import Membership, Practice, PracticeHours

    practice = Practice.objects.get(pk=practice_id)
    if not practice.hours.exists():
        PracticeHours.objects.bulk_create(
            PracticeHours(
                practice=practice,
                weekday=weekday,
                opens_at=datetime.time(8),
                closes_at=datetime.time(18),
            )
            for weekday in range(5)
        )
    manager = get_user_model().objects.get(
        username=MANAGER_USERNAME,
        memberships__practice=practice,
        memberships__role=Membership.Role.MANAGER,
    )
    manager.set_password(password)
    manager.save(update_fields=["password"])

    started = time.perf_counter()
    now = timezone.now()
    first_day = now.astimezone(practice.tz).date() - datetime.timedelta(days=190)
    days = rollup_rebuild(first_day=first_day, now=now)
    rebuild_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE insights_messageday")
        cursor.execute("ANALYZE insights_responsewait")

    client = Client()
    renders: list[float] = []
    with override_settings(ALLOWED_HOSTS=["testserver"]):
        client.force_login(manager)
        client.get("/insights/")
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/insights/")
        query_count = len(queries.captured_queries)  # now: the log keeps only 9000 entries
        if response.status_code != 200:
            raise RuntimeError(f"GET /insights/: {response.status_code}")
        for _ in range(IN_PROCESS_RENDERS):
            begun = time.perf_counter()
            client.get("/insights/")
            renders.append((time.perf_counter() - begun) * 1000)
    return {
        "username": MANAGER_USERNAME,
        "password": password,
        "practice_id": practice_id,
        "path": "/insights/",
        "messages": practice.messages.count(),
        "rollup_days": days,
        "rollup_rows": MessageDay.objects.filter(practice=practice).count(),
        "waits": ResponseWait.objects.filter(practice=practice).count(),
        "rebuild_seconds": round(rebuild_seconds, 1),
        "queries": query_count,
        "in_process_median_ms": round(statistics.median(renders), 1),
        "in_process_max_ms": round(max(renders), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Prepare the Insights scenario (j).")
    parser.add_argument("--practice", default="", help="a practice bench.inbox already seeded")
    parser.add_argument("--channels", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "artera.settings")
    import django

    django.setup()
    practice_id = args.practice
    seeded: dict[str, Any] = {}
    if not practice_id:
        from bench.inbox import DEFAULT_PASSWORD as INBOX_PASSWORD
        from bench.inbox import inbox_seed

        seeded = inbox_seed(channels=args.channels, messages=args.messages, password=INBOX_PASSWORD)
        practice_id = seeded["practice_id"]
    result = insights_prepare(practice_id=practice_id, password=args.password)
    if seeded:
        result["seed_seconds"] = seeded["seconds"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
