"""What an API client may name in a request: its own enterprise's practices and their lines.

These are the tenancy gate of the send endpoints: a practice or line of another enterprise is
reported exactly like one that does not exist.
"""

from __future__ import annotations

import uuid

from artera.errors import Refused
from practices.models import Enterprise, Line, Practice


def practice_get_for_enterprise(
    *,
    enterprise: Enterprise | uuid.UUID,
    practice_id: uuid.UUID | None = None,
    location_id: str | None = None,
) -> Practice:
    """The practice named by its id or by an EMR location id (`PracticeLocation`, unique per
    enterprise), within `enterprise` only; else 422 `unknown_practice`."""
    enterprise_id = enterprise.pk if isinstance(enterprise, Enterprise) else enterprise
    practices = Practice.objects.select_related("enterprise").filter(enterprise_id=enterprise_id)
    if practice_id is not None:
        practice = practices.filter(pk=practice_id).first()
        field = "practice_id"
    elif location_id is not None:
        practice = practices.filter(
            locations__enterprise_id=enterprise_id, locations__location_id=location_id
        ).first()
        field = "location_id"
    else:
        raise TypeError("Name the practice by practice_id or location_id.")
    if practice is None:
        raise Refused(
            "No practice of your enterprise has this id.", code="unknown_practice", field=field
        )
    return practice


def practice_and_line_get_for_enterprise(
    *,
    enterprise: Enterprise | uuid.UUID,
    practice_id: uuid.UUID | None = None,
    location_id: str | None = None,
    line_id: uuid.UUID | None = None,
) -> tuple[Practice, Line | None]:
    """The practice a send names (by id or EMR location id) and its line: `line_id`, or else
    its default line (None when it has none: the send path refuses that).

    One query when both exist, the line with its practice and enterprise; when the line is not
    found, the practice is looked up alone, so the error names what is wrong
    (`unknown_practice`, then `unknown_line`).
    """
    enterprise_id = enterprise.pk if isinstance(enterprise, Enterprise) else enterprise
    lines = Line.objects.select_related("practice__enterprise").filter(
        practice__enterprise_id=enterprise_id
    )
    if practice_id is not None:
        lines = lines.filter(practice_id=practice_id)
    elif location_id is not None:
        lines = lines.filter(
            practice__locations__enterprise_id=enterprise_id,
            practice__locations__location_id=location_id,
        )
    else:
        raise TypeError("Name the practice by practice_id or location_id.")
    line = (lines.filter(pk=line_id) if line_id else lines.filter(is_default=True)).first()
    if line is not None:
        return line.practice, line
    practice = practice_get_for_enterprise(
        enterprise=enterprise_id, practice_id=practice_id, location_id=location_id
    )
    if line_id:
        line_get_for_practice(practice=practice, line_id=line_id)  # raises unknown_line
    return practice, None


def line_get_for_practice(*, practice: Practice, line_id: uuid.UUID) -> Line:
    """A line of `practice`; else 422 `unknown_line`."""
    line = Line.objects.filter(pk=line_id, practice=practice).first()
    if line is None:
        raise Refused(
            "This practice has no line with this id.", code="unknown_line", field="line_id"
        )
    return line
