"""Reads of the audit log for the people who answer questions with it (Django admin).

An entry keeps its conversation as an id, not a foreign key (the trail outlives the rows it
talks about), so its practice, time zone and patient are looked up through that id: one
statement for a page or an export, whatever its length. An entry whose conversation is gone
keeps its user, action, time and address, but no practice: only platform superusers see it.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterator
from typing import Any

from django.db.models import CharField, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Coalesce, Concat, NullIf, Trim

from .models import AuditLog, PatientChannel

AUDIT_CSV_HEADER = [
    "time (practice's time zone)",
    "time (UTC)",
    "practice",
    "user",
    "action",
    "patient",
    "conversation id",
    "message id",
    "client address",
]


def _full_name(prefix: str) -> Any:
    name = Concat(f"{prefix}__first_name", Value(" "), f"{prefix}__last_name")
    return NullIf(Trim(name), Value(""), output_field=CharField())


def audit_log_annotate(queryset: QuerySet[AuditLog]) -> QuerySet[AuditLog]:
    """Each entry with its practice's `practice_name` and `practice_timezone`, and the
    conversation's `patient_name` (the verified patient, else the known one, else the number)."""
    channel = PatientChannel.objects.filter(pk=OuterRef("channel_id"))

    def of_channel(expression: Any) -> Subquery:
        return Subquery(channel.annotate(value=expression).values("value")[:1])

    return queryset.annotate(
        practice_name=of_channel(F("practice__name")),
        practice_timezone=of_channel(F("practice__timezone")),
        patient_name=of_channel(
            Coalesce(
                _full_name("patient"),
                _full_name("known_patient"),
                Cast("phone", CharField()),
                output_field=CharField(),
            )
        ),
    )


def audit_channels_of_enterprise(*, enterprise_id: Any) -> QuerySet[PatientChannel]:
    return PatientChannel.objects.filter(practice__enterprise_id=enterprise_id)


def audit_channels_of_practice(*, practice_id: Any) -> QuerySet[PatientChannel]:
    return PatientChannel.objects.filter(practice_id=practice_id)


def audit_channels_of_patient_named(*, words: list[str]) -> QuerySet[PatientChannel]:
    """Conversations whose patient (verified or known) has every word in a first or last name."""
    condition = Q()
    for word in words:
        condition &= (
            Q(patient__first_name__icontains=word)
            | Q(patient__last_name__icontains=word)
            | Q(known_patient__first_name__icontains=word)
            | Q(known_patient__last_name__icontains=word)
        )
    return PatientChannel.objects.filter(condition)


def audit_local_time(entry: AuditLog) -> datetime.datetime:
    """The entry's time in its practice's zone (UTC when its conversation is gone)."""
    name = getattr(entry, "practice_timezone", None)
    try:
        zone: datetime.tzinfo = zoneinfo.ZoneInfo(name) if name else datetime.UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = datetime.UTC
    return entry.at.astimezone(zone)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet runs a cell that starts like a formula: a patient's name is typed by
    # whoever texts in, so never let one start that way.
    if text[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        return "'" + text
    return text


def audit_csv_rows(queryset: QuerySet[AuditLog]) -> Iterator[list[str]]:
    """The CSV of `audit_log_annotate`d entries, header first, read in chunks."""
    yield AUDIT_CSV_HEADER
    for entry in queryset.select_related("user").iterator(chunk_size=2000):
        yield [
            _cell(value)
            for value in (
                audit_local_time(entry).isoformat(timespec="seconds"),
                entry.at.astimezone(datetime.UTC).isoformat(timespec="seconds"),
                getattr(entry, "practice_name", None),
                entry.user.get_username() if entry.user else "",
                entry.get_action_display(),
                getattr(entry, "patient_name", None),
                entry.channel_id,
                entry.message_id,
                entry.ip_address,
            )
        ]
