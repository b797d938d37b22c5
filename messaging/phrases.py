"""Smart phrases: `{token}`s filled in when a message is sent.

Built-in phrases come from the practice, line, patient and sending staff member; custom ones are
the enterprise's `SmartPhrase` rows, where a staff member's own phrase shadows a general one of
the same name. A known phrase without a value (no patient, no sender, an empty name) renders
blank. A `{word}` that is no phrase at all is left as written, so text that happens to contain
braces is not eaten.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.db.models import Q

from artera.phones import format_us_phone
from channels_app.models import Patient
from practices.models import BUILTIN_SMART_PHRASES, Line, Practice, SmartPhrase

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractUser

PHRASE_RE = re.compile(r"\{([A-Za-z][A-Za-z0-9_]{0,49})\}")


def phrases_render(
    *,
    text: str,
    practice: Practice,
    line: Line,
    patient: Patient | None = None,
    staff: AbstractUser | None = None,
) -> str:
    """Return `text` with its smart phrases filled in (no query unless it has custom ones)."""
    names = set(PHRASE_RE.findall(text))
    if not names:
        return text
    values = _builtin_values(names, practice=practice, line=line, patient=patient, staff=staff)
    custom_names = names - BUILTIN_SMART_PHRASES.keys()
    if custom_names:
        # A custom phrase may use built-in ones; it is not expanded any further than that.
        for name, phrase_text in _custom_phrases(custom_names, practice, staff).items():
            values[name] = PHRASE_RE.sub(
                lambda m: (
                    values.get(m.group(1), m.group(0))
                    if m.group(1) in BUILTIN_SMART_PHRASES
                    else m.group(0)
                ),
                phrase_text,
            )
    return PHRASE_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _builtin_values(
    names: set[str],
    *,
    practice: Practice,
    line: Line,
    patient: Patient | None,
    staff: AbstractUser | None,
) -> dict[str, str]:
    # Every built-in the text (or a custom phrase) might use; the enterprise is only loaded when
    # asked for, since it may cost a query.
    values = {
        "practiceName": practice.name,
        "lineName": line.name,
        "linePhone": format_us_phone(line.phone_number),
        "patientFirstName": patient.first_name if patient else "",
        "patientLastName": patient.last_name if patient else "",
        "patientFullName": patient.full_name if patient else "",
        "staffFirstName": staff.first_name if staff else "",
        "staffLastName": staff.last_name if staff else "",
        "staffFullName": staff.get_full_name() if staff else "",
    }
    if "enterpriseName" in names or names - BUILTIN_SMART_PHRASES.keys():
        values["enterpriseName"] = practice.enterprise.name
    return values


def _custom_phrases(
    names: set[str], practice: Practice, staff: AbstractUser | None
) -> dict[str, str]:
    owner = Q(owner__isnull=True)
    if staff is not None:
        owner |= Q(owner=staff)
    rows = SmartPhrase.objects.filter(owner, enterprise_id=practice.enterprise_id, name__in=names)
    phrases: dict[str, str] = {}
    # General phrases first, so the sender's own phrase of the same name wins.
    for name, text, _owner in sorted(
        rows.values_list("name", "text", "owner_id"), key=lambda row: row[2] is not None
    ):
        phrases[name] = text
    return phrases
