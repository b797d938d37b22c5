"""The audit log answers questions in admin: who did what to which patient's conversation, when
(in the practice's time zone) and from which address; filters by patient name, user, practice
and date range; a CSV export of a date range. An enterprise administrator reads only their
enterprise's entries, a manager none."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from channels_app.models import AuditLog
from channels_app.services import note_add
from practices.models import EnterpriseAdministrator, Membership, Practice
from tests.factories import (
    LineFactory,
    PatientChannelFactory,
    PatientFactory,
    PracticeFactory,
    UserFactory,
)
from tests.support import client_for

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:channels_app_auditlog_changelist")
EXPORT = reverse("admin:channels_app_auditlog_export")
UTC = datetime.UTC


def at(day: int, hour: int) -> datetime.datetime:
    return datetime.datetime(2026, 3, day, hour, 0, tzinfo=UTC)


class Enterprise:
    """One enterprise's practice in Los Angeles, two patients' conversations, two staff members
    and three audit entries."""

    def __init__(self, *, first: str, last: str, ip: str) -> None:
        self.practice: Practice = PracticeFactory(timezone="America/Los_Angeles")
        line = LineFactory(practice=self.practice)
        enterprise = self.practice.enterprise
        self.patient = PatientFactory(enterprise=enterprise, first_name=first, last_name=last)
        other = PatientFactory(enterprise=enterprise, first_name="Zed", last_name="Other")
        self.channel = PatientChannelFactory(line=line, patient=self.patient)
        self.other_channel = PatientChannelFactory(line=line, patient=other)
        # Staff names that no patient search can match (Faker's last names include Smith).
        self.nurse = UserFactory(first_name="Nora", last_name="Quill")
        self.doctor = UserFactory(first_name="Dev", last_name="Okonkwo-Vale")
        self.viewed = AuditLog.objects.create(
            user=self.nurse,
            action=AuditLog.Action.CHANNEL_VIEWED,
            channel_id=self.channel.pk,
            ip_address=ip,
            at=at(1, 18),  # 10:00 in Los Angeles
        )
        self.sent = AuditLog.objects.create(
            user=self.doctor,
            action=AuditLog.Action.MESSAGE_SENT,
            channel_id=self.other_channel.pk,
            at=at(2, 7),  # still March 1st in Los Angeles, March 2nd in UTC
        )
        self.noted = AuditLog.objects.create(
            user=self.nurse,
            action=AuditLog.Action.NOTE_ADDED,
            channel_id=self.other_channel.pk,
            at=at(5, 12),
        )

    @property
    def entries(self) -> list[AuditLog]:
        return [self.viewed, self.sent, self.noted]


@pytest.fixture
def a(db: None) -> Enterprise:
    return Enterprise(first="Ann", last="Smith", ip="203.0.113.7")


@pytest.fixture
def b(db: None) -> Enterprise:
    return Enterprise(first="Ann", last="Smith", ip="198.51.100.9")


@pytest.fixture
def ada(a: Enterprise) -> Client:
    user = UserFactory(is_staff=True)
    EnterpriseAdministrator.objects.create(user=user, enterprise=a.practice.enterprise)
    return client_for(user)


def listed(client: Client, **query: Any) -> list[AuditLog]:
    response = client.get(CHANGELIST, query)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def csv_rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def test_enterprise_admin_reads_their_enterprise_entries_only(
    ada: Client, a: Enterprise, b: Enterprise
) -> None:
    assert listed(ada) == [a.noted, a.sent, a.viewed]
    for entry in b.entries:
        assert ada.get(reverse("admin:channels_app_auditlog_change", args=[entry.pk])).url == (
            reverse("admin:index")
        )
    page = ada.get(CHANGELIST).content.decode()
    assert str(b.practice.pk) not in page  # not in the practice filter
    assert b.nurse.username not in page  # nor in the user filter


def test_times_are_in_the_practice_zone_with_the_client_address(ada: Client, a: Enterprise) -> None:
    page = " ".join(ada.get(CHANGELIST).content.decode().split())
    assert "2026-03-01 10:00:00 PST" in page
    assert "203.0.113.7" in page
    assert "Ann Smith" in page
    detail = ada.get(reverse("admin:channels_app_auditlog_change", args=[a.viewed.pk]))
    assert "2026-03-01 10:00:00 PST" in detail.content.decode()


def test_filters_by_patient_name_user_practice_and_date_range(
    ada: Client, a: Enterprise, b: Enterprise
) -> None:
    assert listed(ada, q="ann smith") == [a.viewed]
    assert listed(ada, q="SMITH") == [a.viewed]
    assert listed(ada, q=a.doctor.username) == [a.sent]
    assert listed(ada, user__id__exact=a.nurse.pk) == [a.noted, a.viewed]
    assert listed(ada, practice=a.practice.pk) == [a.noted, a.sent, a.viewed]
    assert listed(ada, practice=b.practice.pk) == []
    # Days of the practice's zone: `sent` (07:00 UTC on March 2nd) was on March 1st there.
    assert listed(ada, date_from="2026-03-02", date_to="2026-03-05") == [a.noted]
    assert listed(ada, date_from="2026-03-01", date_to="2026-03-01") == [a.sent, a.viewed]
    assert listed(ada, date_to="2026-03-04") == [a.sent, a.viewed]
    assert "Days in America/Los_Angeles." in ada.get(CHANGELIST).content.decode()


def test_the_date_range_is_in_utc_when_practices_disagree(
    superuser: Any, a: Enterprise, b: Enterprise
) -> None:
    Practice.objects.filter(pk=b.practice.pk).update(timezone="Europe/Paris")
    root = client_for(superuser)
    days = {"date_from": "2026-03-02", "date_to": "2026-03-02"}
    assert listed(root, **days) == [b.sent, a.sent]  # March 2nd in UTC
    # One practice chosen: its own days again.
    assert listed(root, **days, practice=a.practice.pk) == []


@pytest.mark.parametrize(
    "query", [{"date_from": "March 1st"}, {"date_to": "2026-02-30"}, {"practice": "nope"}]
)
def test_bad_filter_values_are_an_error_flag_not_a_500(ada: Client, query: dict[str, str]) -> None:
    response = ada.get(CHANGELIST, query)
    assert response.status_code == 302
    assert response.url.endswith("?e=1")


def queries_of(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_list_and_export_cost_the_same_queries_however_long(ada: Client, a: Enterprise) -> None:
    export = EXPORT + "?date_from=2026-01-01&date_to=2030-01-01"
    before = queries_of(ada, CHANGELIST), queries_of(ada, export)
    for _ in range(40):
        AuditLog.objects.create(
            user=UserFactory(), action="channel_viewed", channel_id=a.channel.pk
        )
    assert (queries_of(ada, CHANGELIST), queries_of(ada, export)) == before


# --- CSV export ---------------------------------------------------------------------------------


def test_export_of_a_date_range(ada: Client, a: Enterprise, b: Enterprise) -> None:
    rows = csv_rows(ada.get(EXPORT, {"date_from": "2026-03-01", "date_to": "2026-03-02"}))
    assert rows[0][:3] == ["time (practice's time zone)", "time (UTC)", "practice"]
    assert rows[1:] == [
        [
            "2026-03-01T23:00:00-08:00",
            "2026-03-02T07:00:00+00:00",
            a.practice.name,
            a.doctor.username,
            "Sent a message",
            "Zed Other",
            str(a.other_channel.pk),
            "",
            "",
        ],
        [
            "2026-03-01T10:00:00-08:00",
            "2026-03-01T18:00:00+00:00",
            a.practice.name,
            a.nurse.username,
            "Opened a conversation",
            "Ann Smith",
            str(a.channel.pk),
            "",
            "203.0.113.7",
        ],
    ]


def test_export_keeps_the_other_filters(ada: Client, a: Enterprise) -> None:
    query = {"date_from": "2026-03-01", "date_to": "2026-03-31", "q": "ann"}
    rows = csv_rows(ada.get(EXPORT, query))
    assert [row[2:6] for row in rows[1:]] == [
        [a.practice.name, a.nurse.username, "Opened a conversation", "Ann Smith"]
    ]


def test_export_needs_a_date_range(ada: Client, a: Enterprise) -> None:
    response = ada.get(EXPORT, {"date_from": "2026-03-01"}, follow=True)
    assert response.redirect_chain[0][0].startswith(CHANGELIST)
    assert "Pick the dates (from and to) to export." in response.content.decode()
    assert not response.get("Content-Disposition")


def test_export_never_lets_a_name_run_as_a_spreadsheet_formula(ada: Client, a: Enterprise) -> None:
    a.patient.first_name, a.patient.last_name = "=HYPERLINK(evil)", "+1"
    a.patient.save(update_fields=["first_name", "last_name"])
    rows = csv_rows(ada.get(EXPORT, {"date_from": "2026-03-01", "date_to": "2026-03-01"}))
    [ann] = [row for row in rows if row[6] == str(a.channel.pk)]
    assert ann[5] == "'=HYPERLINK(evil) +1"


def test_another_enterprise_admin_exports_none_of_ours(a: Enterprise, b: Enterprise) -> None:
    bob = UserFactory(is_staff=True)
    EnterpriseAdministrator.objects.create(user=bob, enterprise=b.practice.enterprise)
    query = {"date_from": "2026-03-01", "date_to": "2026-03-31"}
    rows = csv_rows(client_for(bob).get(EXPORT, query))
    assert {row[6] for row in rows[1:]} == {str(b.channel.pk), str(b.other_channel.pk)}
    # Naming A's practice in the filter gives nothing, not A's entries.
    rows = csv_rows(client_for(bob).get(EXPORT, {**query, "practice": a.practice.pk}))
    assert rows[1:] == []


def test_a_superuser_exports_every_enterprise(superuser: Any, a: Enterprise, b: Enterprise) -> None:
    query = {"date_from": "2026-03-01", "date_to": "2026-03-31"}
    rows = csv_rows(client_for(superuser).get(EXPORT, query))
    assert len(rows) == 1 + len(a.entries) + len(b.entries)


def test_managers_and_plain_staff_get_no_audit_log(a: Enterprise) -> None:
    mia = UserFactory(is_staff=True)
    Membership.objects.create(user=mia, practice=a.practice, role=Membership.Role.MANAGER)
    staff = UserFactory(is_staff=True)
    Membership.objects.create(user=staff, practice=a.practice, role=Membership.Role.STAFF)
    query = {"date_from": "2026-03-01", "date_to": "2026-03-31"}
    for user in (mia, staff):
        client = client_for(user)
        assert client.get(CHANGELIST).status_code == 403
        assert client.get(EXPORT, query).status_code == 403


# --- The client address of each entry -------------------------------------------------------------


def test_a_note_records_its_author_address(a: Enterprise) -> None:
    note_add(channel=a.channel, author=a.nurse, body="Call back", ip_address="192.0.2.44")
    entry = AuditLog.objects.filter(action=AuditLog.Action.NOTE_ADDED).latest("id")
    assert entry.ip_address == "192.0.2.44"
