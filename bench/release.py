"""Scenario (j): the release of scheduled texts ("a million reminders due at 8:00").

`release_seed` fills the current (PostgreSQL) database with N texts `scheduled` for one moment
across L lines of one practice, by bulk SQL (`INSERT … SELECT generate_series`: channels,
messages and their first history rows), as the send path stores a text with `send_at`. The lines
are unpaced (a rate no carrier grants), so what is measured is the platform: the beat's release
(`messaging.schedule.scheduled_release`) and the dispatch behind it.

    DJANGO_SETTINGS_MODULE=artera.settings DATABASE_URL=postgres://… \\
        python -m bench.release --messages 100000 --lines 50

prints one JSON object: what was seeded, and the moment the texts are due. `bench/run` then
starts a worker with its beat and times until every text is `received` and until every one was
handed to the carrier.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
from typing import Any

ENTERPRISE_NAME = "Release Bench Health"
PRACTICE_NAME = "Release Bench Clinic"
# Line numbers +1 646 300 0000 + i; patients' numbers +1 332 000 0000 + i.
LINE_BASE = 6463000000
PATIENT_BASE = 3320000000
UNPACED_RATE = 9_999
TAG = {"bench": "release"}


def release_seed(
    *, messages: int, lines: int, due_at: datetime.datetime | None = None
) -> dict[str, Any]:
    """N scheduled texts due at `due_at` (default: now), one conversation each, spread over
    `lines` lines round-robin. Returns the practice, the lines and the moment."""
    from django.db import connection, transaction
    from django.utils import timezone

    from practices.models import Enterprise, Line, Practice

    if connection.vendor != "postgresql":
        raise RuntimeError("release_seed needs PostgreSQL: set DATABASE_URL=postgres://…")
    due_at = due_at or timezone.now()
    with transaction.atomic():
        enterprise, _ = Enterprise.objects.get_or_create(name=ENTERPRISE_NAME)
        practice, _ = Practice.objects.get_or_create(enterprise=enterprise, name=PRACTICE_NAME)
        line_ids = []
        for index in range(lines):
            line, _ = Line.objects.get_or_create(
                practice=practice,
                phone_number=f"+1{LINE_BASE + index}",
                defaults={
                    "name": f"Release line {index}",
                    "send_rate": UNPACED_RATE,
                    "is_default": index == 0,
                },
            )
            line_ids.append(str(line.pk))
        with connection.cursor() as cursor:
            # Line i of the list takes texts i, i + L, i + 2L, …
            cursor.execute(
                """
                CREATE TEMP TABLE release_seed ON COMMIT DROP AS
                SELECT n, gen_random_uuid() AS channel_id, gen_random_uuid() AS message_id,
                       (%s::uuid[])[1 + n %% %s] AS line_id,
                       '+1' || (%s + n)::text AS phone
                  FROM generate_series(0, %s - 1) AS n
                """,
                [line_ids, lines, PATIENT_BASE, messages],
            )
            cursor.execute(
                """
                INSERT INTO channels_app_patientchannel
                       (id, created_at, practice_id, line_id, phone, status, needs_action,
                        last_activity_at)
                SELECT channel_id, %s, %s, line_id, phone, 'open', false, %s FROM release_seed
                """,
                [due_at, practice.pk, due_at],
            )
            cursor.execute(
                """
                INSERT INTO messaging_message
                       (id, created_at, channel_id, practice_id, line_id, direction, from_number,
                        to_number, body, kind, is_secure, segments, encoding, status, error_code,
                        status_changed_at, sender_kind, callback_url, metadata, send_at,
                        send_attempts)
                SELECT s.message_id, %s, s.channel_id, %s, s.line_id, 'outbound',
                       l.phone_number, s.phone, 'Your appointment is today at 9:00.',
                       'conversation', false, 1, 'gsm7', 'scheduled', '', %s, 'api', '',
                       %s::jsonb, %s, 0
                  FROM release_seed s JOIN practices_line l ON l.id = s.line_id
                """,
                [due_at, practice.pk, due_at, json.dumps(TAG), due_at],
            )
            cursor.execute(
                """
                INSERT INTO messaging_messagestatuschange (message_id, status, error_code, at)
                SELECT message_id, 'scheduled', '', %s FROM release_seed
                """,
                [due_at],
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE messaging_message")
        cursor.execute("ANALYZE channels_app_patientchannel")
    return {
        "practice_id": str(practice.pk),
        "lines": line_ids,
        "messages": messages,
        "due_at": due_at.isoformat(),
    }


def release_progress() -> dict[str, int]:
    """How far the seeded texts are: still scheduled, released, handed to the carrier."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE status = 'scheduled'),
                   count(*) FILTER (WHERE status <> 'scheduled'),
                   count(*) FILTER (WHERE status IN ('sent', 'delivered', 'undelivered',
                                                      'failed'))
              FROM messaging_message WHERE metadata @> %s::jsonb
            """,
            [json.dumps(TAG)],
        )
        scheduled, released, handed_over = cursor.fetchone()
    return {"scheduled": scheduled, "released": released, "handed_over": handed_over}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=50)
    parser.add_argument("--progress", action="store_true", help="print release_progress() only")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    if args.progress:
        print(json.dumps(release_progress()))
        return
    print(json.dumps(release_seed(messages=args.messages, lines=args.lines)))


if __name__ == "__main__":
    main()
