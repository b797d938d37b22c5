"""An unverified channel shows a known patient's name when the enterprise allows it."""

from __future__ import annotations

from channels_app.services import channel_get_or_create
from tests.factories import LineFactory, PatientFactory, PatientPhoneFactory, PracticeFactory

NUMBER = "+18185550777"


def _other_practice_patient(practice, first_name: str = "Kim"):  # type: ignore[no-untyped-def]
    patient = PatientFactory(enterprise=practice.enterprise, first_name=first_name, last_name="Lee")
    PatientPhoneFactory(patient=patient, number=NUMBER)
    return patient


def _new_unverified_channel(practice):  # type: ignore[no-untyped-def]
    return channel_get_or_create(practice=practice, line=practice.lines.get(), phone=NUMBER)


def test_enterprise_wide_access_shows_the_known_patient(practice_a) -> None:  # type: ignore[no-untyped-def]
    practice_a.enterprise.allow_enterprise_patient_access = True
    practice_a.enterprise.save()
    kim = _other_practice_patient(practice_a)

    channel = _new_unverified_channel(practice_a)

    assert channel.patient is None
    assert channel.known_patient == kim
    assert channel.display_name == "Kim Lee"
    assert not channel.is_verified


def test_without_enterprise_wide_access_only_the_number_shows(practice_a) -> None:  # type: ignore[no-untyped-def]
    _other_practice_patient(practice_a)

    channel = _new_unverified_channel(practice_a)

    assert channel.known_patient is None
    assert channel.display_name == "(818) 555-0777"


def test_a_shared_number_names_nobody(practice_a) -> None:  # type: ignore[no-untyped-def]
    practice_a.enterprise.allow_enterprise_patient_access = True
    practice_a.enterprise.save()
    _other_practice_patient(practice_a, "Kim")
    _other_practice_patient(practice_a, "Joe")

    assert _new_unverified_channel(practice_a).known_patient is None


def test_another_enterprise_patient_is_never_shown(practice_a, practice_b) -> None:  # type: ignore[no-untyped-def]
    practice_a.enterprise.allow_enterprise_patient_access = True
    practice_a.enterprise.save()
    _other_practice_patient(practice_b)

    assert _new_unverified_channel(practice_a).known_patient is None


def test_known_name_appears_in_the_inbox(practice_a, staff_a) -> None:  # type: ignore[no-untyped-def]
    from tests.support import client_for

    practice_a.enterprise.allow_enterprise_patient_access = True
    practice_a.enterprise.save()
    sibling = PracticeFactory(enterprise=practice_a.enterprise)
    LineFactory(practice=sibling)
    _other_practice_patient(sibling)
    _new_unverified_channel(practice_a)

    page = client_for(staff_a).get("/inbox/").content.decode()

    assert "Kim Lee" in page
    assert "known number" in page
