"""What the benchmark's scenarios need, made once in the bench database.

`python -m bench.fixtures --patients N` (with the bench's settings and database) makes the
enterprise `seed_demo` makes, under the name "Bench Health", plus N verified patients with MRNs
BENCH0000000… and phones +1 617 200 0000 + i, and turns pacing off on the clinic's line (a rate
no carrier grants: the end-to-end scenario measures the platform, not a line's limit). It prints
one JSON object: the demo's shape plus `bench`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
from typing import Any

PATIENT_AREA = 617
PATIENT_EXCHANGE_BASE = 2_000_000  # +1 617 200 0000 + i
# Pacing "off": a line may send this many texts per second, far above what this machine does.
UNPACED_RATE = 9_999


def patient_phone(index: int) -> str:
    return f"+1{PATIENT_AREA:03d}{PATIENT_EXCHANGE_BASE + index:07d}"


def fixtures_make(*, patients: int) -> dict[str, Any]:
    from django.db import connection, transaction

    from channels_app.models import Patient, PatientPhone
    from practices.demo import demo_enterprise_seed
    from practices.models import Line

    with transaction.atomic():
        demo = demo_enterprise_seed(name="Bench Health")
        clinic = demo["practices"][0]
        Line.objects.filter(practice_id=clinic["id"]).update(send_rate=UNPACED_RATE)
        enterprise_id = demo["enterprise"]["id"]
        rows = Patient.objects.bulk_create(
            Patient(
                enterprise_id=enterprise_id,
                mrn=f"BENCH{i:07d}",
                first_name="Bench",
                last_name=f"Patient {i}",
                date_of_birth=datetime.date(1980, 1, 1) + datetime.timedelta(days=i % 9000),
                is_verified=True,
            )
            for i in range(patients)
        )
        PatientPhone.objects.bulk_create(
            PatientPhone(
                patient=row, enterprise_id=enterprise_id, number=patient_phone(i), is_primary=True
            )
            for i, row in enumerate(rows)
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # a bulk load leaves the planner's statistics empty
    demo["bench"] = {
        "practice_id": clinic["id"],
        "patients": patients,
        "patient_area": PATIENT_AREA,
        "call_to_text_url": demo["call_to_text"][0]["url"],
    }
    return demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=10_000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    print(json.dumps(fixtures_make(patients=args.patients)))


if __name__ == "__main__":
    main()
