"""Fixtures for the collaborative inbox: a verified patient's and an unverified number's
conversations in practice A, and a colleague of staff_a to assign to and @mention."""

from __future__ import annotations

from typing import Any

import pytest

from channels_app.models import PatientChannel
from practices.models import Membership, Practice
from tests.factories import (
    MembershipFactory,
    PatientChannelFactory,
    PatientFactory,
    PatientPhoneFactory,
)


@pytest.fixture
def colleague(practice_a: Practice) -> Any:
    return MembershipFactory(
        user__username="dana",
        user__first_name="Dana",
        user__last_name="Reyes",
        practice=practice_a,
        role=Membership.Role.STAFF,
    ).user


@pytest.fixture
def verified_channel(practice_a: Practice) -> PatientChannel:
    patient = PatientFactory(enterprise=practice_a.enterprise, first_name="Ana", last_name="Lopez")
    phone = PatientPhoneFactory(patient=patient, number="+18185550101")
    return PatientChannelFactory(line=practice_a.lines.get(), patient=patient, phone=phone.number)


@pytest.fixture
def unverified_channel(practice_a: Practice) -> PatientChannel:
    return PatientChannelFactory(line=practice_a.lines.get(), phone="+18185550102")
