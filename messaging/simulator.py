"""The simulated carrier behind the `simulator` SMS backend.

It stands where a real provider stands: it takes texts from the platform (recording each hand-
over), later reports their fate through the platform's status-callback path, and lets a person
or a test text a line as a patient, which enters the platform's one inbound path. How it treats
a number is set per number: mobile (delivered), landline (fails with `landline`) or unreachable
(undelivered with `unreachable`).

It is part of the platform only while `SMS_BACKEND` is `simulator`; its pages and API are 404
otherwise.

This module is the carrier's side, below the send path's dispatcher (the simulator gateway hands
it texts) and above the status writer it reports to. The simulated phone that texts a line
enters the inbound path from above, in `messaging.simulator_phone`.
"""

from __future__ import annotations

import datetime
import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from artera.errors import InvalidInput, invalid_input_from
from artera.phones import normalize_us_phone

from .models import ErrorCode, MessageStatus, SimulatorNumber, SimulatorText
from .outbox import task_publish
from .status import ProviderReport, message_status_reports_apply

# The fate of a text to each kind of number: our status and error code.
OUTCOMES: dict[str, tuple[str, str]] = {
    SimulatorNumber.Kind.MOBILE: (MessageStatus.DELIVERED, ""),
    SimulatorNumber.Kind.LANDLINE: (MessageStatus.FAILED, ErrorCode.LANDLINE),
    SimulatorNumber.Kind.UNREACHABLE: (MessageStatus.UNDELIVERED, ErrorCode.UNREACHABLE),
}


def simulator_is_on() -> bool:
    return bool(settings.SMS_BACKEND == "simulator")


def simulator_pages_served() -> bool:
    """Whether the simulator's pages and JSON API answer: only while it is the backend, and,
    behind HTTPS (a deployment others reach), only when the operator opted in for a public demo
    (`SMS_SIMULATOR_PUBLIC_DEMO`); they let anyone read every text the carrier carried."""
    if not simulator_is_on():
        return False
    return not settings.HTTPS or bool(settings.SMS_SIMULATOR_PUBLIC_DEMO)


def number_parse(raw: object, field: str) -> str:
    """A US number the simulator was given, in E.164, or InvalidInput naming `field`."""
    if not isinstance(raw, str):
        raise InvalidInput(f"{field} must be a phone number.", code="invalid_phone", field=field)
    try:
        return normalize_us_phone(raw)
    except ValidationError as exc:
        raise invalid_input_from(exc, field=field) from exc


def simulator_number_normalize(number: object) -> str:
    """The E.164 form of a US number typed into the simulator, or InvalidInput."""
    return number_parse(number, "number")


def simulator_number_set(*, number: object, kind: object) -> SimulatorNumber:
    """From now on, treat `number` as a mobile phone, a landline, or unreachable."""
    if not isinstance(kind, str) or kind not in SimulatorNumber.Kind.values:
        raise InvalidInput(
            f"type must be one of {', '.join(SimulatorNumber.Kind.values)}.",
            code="invalid_number_type",
            field="type",
        )
    row, _ = SimulatorNumber.objects.update_or_create(
        number=number_parse(number, "number"), defaults={"kind": kind}
    )
    return row


def simulator_number_kind(number: str) -> str:
    kind = SimulatorNumber.objects.filter(number=number).values_list("kind", flat=True).first()
    return kind or SimulatorNumber.Kind.MOBILE


@dataclass(frozen=True)
class CarrierText:
    """A text the platform hands the carrier."""

    from_number: str
    to_number: str
    body: str
    reference: str  # our message's id


def simulator_accept(
    *, from_number: str, to_number: str, body: str, reference: str
) -> SimulatorText:
    """The carrier takes a text from the platform (`simulator_accept_many`)."""
    return simulator_accept_many([CarrierText(from_number, to_number, body, reference)])[0]


def simulator_accept_many(texts: Sequence[CarrierText]) -> list[SimulatorText]:
    """The carrier takes texts from the platform. Every hand-over is its own row (a text sent
    twice is carried twice); one task reports their fate after the rows are committed."""
    with transaction.atomic():
        carried = SimulatorText.objects.bulk_create(
            SimulatorText(
                direction=SimulatorText.Direction.TO_PATIENT,
                from_number=text.from_number,
                to_number=text.to_number,
                body=text.body,
                client_reference=text.reference,
            )
            for text in texts
        )
        transaction.on_commit(functools.partial(_report_later, [text.id for text in carried]))
    return carried


def _report_later(text_ids: list[uuid.UUID]) -> None:
    task_publish(
        simulator_report_task,
        [str(text_id) for text_id in text_ids],
        countdown=settings.SMS_SIMULATOR_REPORT_DELAY,
    )


def simulator_report(*, text_id: uuid.UUID) -> bool:
    """Report one carried text's fate (`simulator_report_many`)."""
    return bool(simulator_report_many([text_id]))


def simulator_report_many(text_ids: Sequence[uuid.UUID]) -> int:
    """Report carried texts' fates to the platform, through the status path a real provider's
    callbacks take (`message_status_reports_apply`, in one batch). The carrier's records and the
    platform's status changes commit together, and the records are locked first, so each text
    is reported exactly once however often this runs. Returns how many were reported."""
    with transaction.atomic():
        texts = list(
            SimulatorText.objects.select_for_update()
            .filter(
                pk__in=text_ids,
                direction=SimulatorText.Direction.TO_PATIENT,
                status=SimulatorText.Status.SENT,
            )
            .order_by("pk")
        )
        if not texts:
            return 0
        kinds = dict(
            SimulatorNumber.objects.filter(
                number__in={text.to_number for text in texts}
            ).values_list("number", "kind")
        )
        now = timezone.now()
        outcomes: dict[tuple[str, str], list[uuid.UUID]] = {}
        reports = []
        for text in texts:
            status, error_code = OUTCOMES[kinds.get(text.to_number, SimulatorNumber.Kind.MOBILE)]
            outcomes.setdefault((status, error_code), []).append(text.pk)
            reports.append(
                ProviderReport(
                    provider_message_id=text.provider_message_id,
                    status=status,
                    error_code=error_code,
                    message_id=text.client_reference or None,
                )
            )
        for (status, error_code), ids in outcomes.items():
            SimulatorText.objects.filter(pk__in=ids).update(
                status=status, error_code=error_code, reported_at=now
            )
        message_status_reports_apply(reports)
    return len(texts)


def simulator_report_overdue(*, limit: int = 500) -> int:
    """Like a real carrier retrying its callbacks: report the texts whose report never went out
    (the worker holding the report task died). Returns how many were reported."""
    cutoff = timezone.now() - datetime.timedelta(
        seconds=settings.SMS_SIMULATOR_REPORT_DELAY + settings.SMS_OUTBOX_GRACE_SECONDS
    )
    overdue = list(
        SimulatorText.objects.filter(
            direction=SimulatorText.Direction.TO_PATIENT,
            status=SimulatorText.Status.SENT,
            created_at__lt=cutoff,
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    return simulator_report_many(overdue) if overdue else 0


@dataclass(frozen=True)
class TextFilter:
    to: str | None = None
    from_: str | None = None
    either: str | None = None  # texts to or from this number: a phone's whole history


def simulator_texts(filters: TextFilter) -> QuerySet[SimulatorText]:
    """Texts the carrier carried, oldest first."""
    if not (filters.to or filters.from_ or filters.either):
        raise InvalidInput(
            "Give a number: ?to=+1… and/or ?from=+1…", code="number_required", field="to"
        )
    texts = SimulatorText.objects.all()
    if filters.to:
        texts = texts.filter(to_number=number_parse(filters.to, "to"))
    if filters.from_:
        texts = texts.filter(from_number=number_parse(filters.from_, "from"))
    if filters.either:
        number = number_parse(filters.either, "number")
        texts = texts.filter(Q(to_number=number) | Q(from_number=number))
    return texts.order_by("created_at", "id")


def simulator_text_as_json(text: SimulatorText) -> dict[str, str]:
    created: datetime.datetime = text.created_at
    return {
        "id": str(text.id),
        "from": text.from_number,
        "to": text.to_number,
        "body": text.body,
        "status": text.status,
        "created_at": created.isoformat(),
    }


@shared_task(name="messaging.tasks.simulator_report", ignore_result=True)
def simulator_report_task(text_ids: list[str] | str) -> int:
    """The carrier's delivery reports for one hand-over (a single id: a task published before
    hand-overs came in groups)."""
    if isinstance(text_ids, str):
        text_ids = [text_ids]
    return simulator_report_many([uuid.UUID(text_id) for text_id in text_ids])
