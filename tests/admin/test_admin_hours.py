"""The practice changelist's "Open now?" column, and hours shown without seconds."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from practices.hours import practice_is_open, practices_open_at
from practices.models import Holiday, Practice, PracticeHours
from tests.factories import (
    EnterpriseFactory,
    HolidayFactory,
    PracticeFactory,
    PracticeHoursFactory,
)
from tests.support import client_for
from tests.support.admin import admin_url

pytestmark = pytest.mark.django_db


def _practices() -> list[Practice]:
    enterprise = EnterpriseFactory()
    weekdays = PracticeFactory(enterprise=enterprise, timezone="America/Los_Angeles")
    for day in range(5):
        PracticeHoursFactory(
            practice=weekdays,
            weekday=day,
            opens_at=datetime.time(8),
            closes_at=datetime.time(17),
        )
    always = PracticeFactory(enterprise=enterprise, timezone="Pacific/Auckland")
    HolidayFactory(enterprise=enterprise, date=datetime.date(2027, 12, 25), name="Christmas")
    HolidayFactory(
        enterprise=enterprise,
        practice=weekdays,
        date=datetime.date(2027, 12, 24),
        name="Short day",
        is_closed=False,
        opens_at=datetime.time(9),
        closes_at=datetime.time(12),
    )
    return list(Practice.objects.filter(pk__in=[weekdays.pk, always.pk]).prefetch_related("hours"))


@pytest.mark.parametrize(
    "at",
    [
        datetime.datetime(2027, 12, d, h, tzinfo=datetime.UTC)
        for d, h in itertools.product((23, 24, 25, 26), (0, 10, 17, 19, 22))
    ],
    ids=str,
)
def test_the_page_answer_is_the_inbound_path_answer(at: datetime.datetime) -> None:
    practices = _practices()
    expected = {p.pk: practice_is_open(practice=p, at=at) for p in practices}
    assert practices_open_at(practices=practices, at=at) == expected


def test_changelist_shows_open_and_closed(superuser: Any) -> None:
    enterprise = EnterpriseFactory()
    PracticeFactory(enterprise=enterprise, name="Open Clinic")  # no hours: always open
    closed_one = PracticeFactory(enterprise=enterprise, name="Closed Clinic")
    today = timezone.now().astimezone(closed_one.tz).date()
    for offset in (-1, 0, 1):  # whatever day it is by the time the page renders
        HolidayFactory(
            enterprise=enterprise,
            practice=closed_one,
            date=today + datetime.timedelta(days=offset),
            name=f"Closed {offset}",
        )
    root = client_for(superuser)
    root.get(admin_url(Practice, "changelist"))
    with CaptureQueriesContext(connection) as queries:
        response = root.get(admin_url(Practice, "changelist"))
    listed = {p.name: p.is_open_now for p in response.context["cl"].result_list}
    assert listed == {"Open Clinic": True, "Closed Clinic": False}
    assert "Open now?" in response.content.decode()
    PracticeFactory(enterprise=enterprise)
    with CaptureQueriesContext(connection) as more:
        root.get(admin_url(Practice, "changelist"))
    assert len(more) == len(queries)


def test_hours_and_holiday_times_have_no_seconds(superuser: Any) -> None:
    practice = PracticeFactory()
    PracticeHours.objects.create(
        practice=practice, weekday=0, opens_at=datetime.time(8, 30), closes_at=datetime.time(17)
    )
    holiday = Holiday.objects.create(
        enterprise=practice.enterprise,
        practice=practice,
        date=datetime.date(2027, 12, 24),
        name="Short day",
        is_closed=False,
        opens_at=datetime.time(9),
        closes_at=datetime.time(12, 15),
    )
    root = client_for(superuser)
    page = root.get(admin_url(Practice, "change", practice.pk)).content.decode()
    assert 'value="08:30"' in page
    assert 'value="12:15"' in page
    assert "08:30:00" not in page
    page = root.get(admin_url(Holiday, "change", holiday.pk)).content.decode()
    assert 'value="09:00"' in page
    assert "09:00:00" not in page
