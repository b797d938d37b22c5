"""Writes on patient channels that the send and inbound paths need.

Channels are found or created by the message services (`messaging.services`), never by views.
"""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from artera.errors import Refused
from practices.models import Enterprise, Line, Practice

from .models import Patient, PatientChannel, PatientPhone


def channel_get_or_create(
    *, practice: Practice, line: Line, phone: str, patient: Patient | None = None
) -> PatientChannel:
    """The conversation of `line` with `patient` (verified channel) or with the bare `phone`
    (unverified channel), created if it does not exist yet.

    Safe under concurrency: two requests that both miss create one channel between them (the
    loser of the unique constraint reads the winner's row). A patient's channel follows the
    number the patient was last texted at.
    """
    lookup = PatientChannel.objects.filter(practice=practice, line=line)
    lookup = (
        lookup.filter(patient=patient)
        if patient
        else lookup.filter(phone=phone, patient__isnull=True)
    )
    channel = lookup.first()
    if channel is None:
        known = None if patient else patient_known_for_phone(practice=practice, phone=phone)
        try:
            with transaction.atomic():
                channel = PatientChannel.objects.create(
                    practice=practice, line=line, patient=patient, phone=phone, known_patient=known
                )
        except IntegrityError:
            channel = lookup.get()
    if patient is not None and channel.phone != phone:
        channel.phone = phone
        channel.save(update_fields=["phone"])
    return channel


def patient_known_for_phone(*, practice: Practice, phone: str) -> Patient | None:
    """The one patient of the practice's enterprise with this number, when the enterprise lets
    practices see patients across the enterprise; None when it does not, when nobody has the
    number, or when several patients share it (naming one of them would be a guess)."""
    if not practice.enterprise.allow_enterprise_patient_access:
        return None
    owners = list(
        Patient.objects.filter(
            enterprise_id=practice.enterprise_id, phones__number=phone
        ).distinct()[:2]
    )
    return owners[0] if len(owners) == 1 else None


def channel_find_for_inbound(*, line: Line, phone: str) -> PatientChannel | None:
    """The number's most recently active conversation on `line`, or None when the number has
    never talked to this line. `messaging.routing` calls this only after its own rules (a
    standing shared-phone choice, the shared-phone prompt) have not decided."""
    return (
        PatientChannel.objects.filter(line=line, phone=phone)
        .select_related("patient")
        .order_by("-last_activity_at")
        .first()
    )


def channel_record_outbound(*, channel: PatientChannel, at: datetime.datetime) -> None:
    """An outbound message moves the conversation to the top of the inbox."""
    PatientChannel.objects.filter(pk=channel.pk).update(last_activity_at=at)
    channel.last_activity_at = at


def channel_record_inbound(*, channel: PatientChannel, at: datetime.datetime | None = None) -> None:
    """A patient's text (re)opens the conversation and asks staff to act on it."""
    channel.status = PatientChannel.Status.OPEN
    channel.needs_action = True
    channel.last_activity_at = at or timezone.now()
    channel.save(update_fields=["status", "needs_action", "last_activity_at"])


def patient_get_or_create_verified(
    *,
    enterprise: Enterprise,
    mrn: str,
    first_name: str = "",
    last_name: str = "",
    date_of_birth: datetime.date | None = None,
    phone: str | None = None,
) -> Patient:
    """The enterprise's patient with this MRN, as identified by the EMR (so: verified).

    An unknown MRN creates the patient when the names and date of birth are given (with
    `phone` as their number); without them it is refused (`unknown_patient`). An existing
    patient is taken as it is: the EMR's names do not overwrite ours, and `phone` is not added
    to their numbers (one message to a number does not make it theirs). A patient known by this
    MRN but not yet verified becomes verified: the EMR has now identified them.

    Safe under concurrency: two requests that both miss create one patient between them (the
    loser of the unique constraint reads the winner's row).
    """
    lookup = Patient.objects.filter(enterprise=enterprise, mrn=mrn)
    patient = lookup.first()
    if patient is None:
        if not (first_name and last_name and date_of_birth):
            raise Refused(
                "No patient of this enterprise has this MRN; give first_name, last_name and "
                "date_of_birth to add one.",
                code="unknown_patient",
                field="patient.mrn",
            )
        try:
            with transaction.atomic():
                patient = Patient.objects.create(
                    enterprise=enterprise,
                    mrn=mrn,
                    first_name=first_name,
                    last_name=last_name,
                    date_of_birth=date_of_birth,
                    is_verified=True,
                )
                if phone:
                    PatientPhone.objects.create(patient=patient, number=phone, is_primary=True)
        except IntegrityError:
            patient = lookup.get()
    if not patient.is_verified:
        patient.is_verified = True
        patient.save(update_fields=["is_verified", "updated_at"])
    return patient


def channel_close_automatically(*, channel: PatientChannel) -> None:
    """An inbound automation closes the conversation: nobody needs to act on it (the patient's
    next text reopens it)."""
    channel.status = PatientChannel.Status.CLOSED
    channel.needs_action = False
    channel.save(update_fields=["status", "needs_action"])


def channel_assign_automatically(*, channel: PatientChannel, user: AbstractBaseUser) -> None:
    """An inbound automation assigns the conversation (the automation checked that `user` is a
    member of the practice when it was configured)."""
    channel.assignee = user  # type: ignore[assignment]
    channel.save(update_fields=["assignee"])
