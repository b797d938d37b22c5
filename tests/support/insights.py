"""The Insights tests' hand-built world: one week of a clinic's texting, every figure of which is
worked out by hand in `EXPECTED` below, plus two other practices whose numbers must never show.

Practice P ("Lakeside Clinic", America/Chicago, open Mon-Fri 09:00-17:00, closed on Thursday
2026-11-26 for a practice-level holiday) has two lines, L1 and L2. The range is 2026-11-23 (Mon)
to 2026-11-29 (Sun); the previous period is 2026-11-16 to 2026-11-22. Times below are Chicago
times (UTC-6 in November).
"""

from __future__ import annotations

import csv
import datetime
import io
import zoneinfo
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from django.test import Client

from channels_app.models import PatientChannel
from messaging.models import Message
from messaging.status import message_status_apply
from practices.models import (
    EnterpriseAdministrator,
    Holiday,
    Line,
    Membership,
    Practice,
    PracticeHours,
)
from tests.factories import (
    EnterpriseFactory,
    LineFactory,
    MembershipFactory,
    PatientChannelFactory,
    PracticeFactory,
    UserFactory,
)
from webhooks.models import ApiClient, CallToTextCall, WebhookDelivery
from webhooks.services import api_client_create, call_to_text_workflow_create

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")
RANGE = {"start": "2026-11-23", "end": "2026-11-29"}
FIRST_DAY = datetime.date(2026, 11, 10)


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 11) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, minute, second, tzinfo=CHICAGO)


@dataclass
class World:
    practice: Practice
    other_practice: Practice  # same enterprise, another manager
    foreign_practice: Practice  # another enterprise
    l1: Line
    l2: Line
    manager: Any
    staff: Any
    admin: Any
    other_manager: Any
    foreign_admin: Any
    dana: Any
    sam: Any
    late_message: Message  # staff reply, `sent` until a late `delivered`


def _message(
    channel: PatientChannel,
    when: datetime.datetime,
    *,
    direction: str = "outbound",
    sender_kind: str = "staff",
    status: str = "delivered",
    error_code: str = "",
    body: str = "Hello",
    user: Any = None,
    api_client: ApiClient | None = None,
    workflow: Any = None,
    kind: str = "conversation",
) -> Message:
    inbound = direction == "inbound"
    message = Message.objects.create(
        channel=channel,
        practice=channel.practice,
        line=channel.line,
        direction=direction,
        from_number=channel.phone.as_e164 if inbound else channel.line.phone_number.as_e164,
        to_number=channel.line.phone_number.as_e164 if inbound else channel.phone.as_e164,
        body=body,
        status="received" if inbound else status,
        error_code=error_code,
        sender_kind="patient" if inbound else sender_kind,
        sender_user=user,
        sender_api_client=api_client,
        sender_workflow=workflow,
        kind=kind,
    )
    Message.objects.filter(pk=message.pk).update(created_at=when)
    message.created_at = when
    return message


def _noise(practice: Practice, client_name: str, count: int) -> None:
    """Another practice's week: `count` API texts and STOPs, on the same days as P's."""
    line = practice.lines.get()
    client = api_client_create(enterprise=practice.enterprise, name=client_name).api_client
    for i in range(count):
        channel = PatientChannelFactory(line=line, practice=practice)
        _message(channel, at(23 + i % 7, 11), sender_kind="api", api_client=client)
        _message(channel, at(23 + i % 7, 12), direction="inbound", body="STOP")
        _message(channel, at(18, 10), direction="inbound", body="Question?")
        _message(channel, at(18, 10, 5 + i), user=None)


def world_build() -> World:
    enterprise = EnterpriseFactory(name="Lakeside Health")
    practice = PracticeFactory(
        enterprise=enterprise, name="Lakeside Clinic", timezone="America/Chicago"
    )
    l1 = LineFactory(practice=practice, name="Front desk", phone_number="+13125550101")
    l2 = LineFactory(
        practice=practice, name="Billing", phone_number="+13125550102", is_default=False
    )
    for weekday in range(5):
        PracticeHours.objects.create(
            practice=practice,
            weekday=weekday,
            opens_at=datetime.time(9),
            closes_at=datetime.time(17),
        )
    Holiday.objects.create(
        enterprise=enterprise,
        practice=practice,
        date=datetime.date(2026, 11, 26),
        name="Thanksgiving",
    )
    other = PracticeFactory(
        enterprise=enterprise, name="Hillside Clinic", timezone="America/Chicago"
    )
    LineFactory(practice=other, name="Hillside main", phone_number="+13125550201")
    foreign = PracticeFactory(name="Faraway Clinic", timezone="America/Chicago")
    LineFactory(practice=foreign, name="Faraway main", phone_number="+13125550301")

    manager = MembershipFactory(
        user__username="lake_manager", practice=practice, role=Membership.Role.MANAGER
    ).user
    staff = MembershipFactory(
        user__username="lake_staff", practice=practice, role=Membership.Role.STAFF
    ).user
    dana = MembershipFactory(
        user__username="dana", user__first_name="Dana", user__last_name="Reyes", practice=practice
    ).user
    sam = MembershipFactory(
        user__username="sam", user__first_name="Sam", user__last_name="Okafor", practice=practice
    ).user
    admin = UserFactory(username="lake_admin")
    EnterpriseAdministrator.objects.create(user=admin, enterprise=enterprise)
    other_manager = MembershipFactory(
        user__username="hill_manager", practice=other, role=Membership.Role.MANAGER
    ).user
    foreign_admin = UserFactory(username="far_admin")
    EnterpriseAdministrator.objects.create(user=foreign_admin, enterprise=foreign.enterprise)

    emr = api_client_create(enterprise=enterprise, name="Acme EMR").api_client
    workflow, _token = call_to_text_workflow_create(
        practice=practice, kind="call_to_text", message="We saw your call. Text us here.", line=l1
    )

    def channel(line: Line) -> PatientChannel:
        return PatientChannelFactory(line=line, practice=practice)

    c1, c2, c3, c4, c5, c6, c7, c8, c9 = (
        channel(l1),
        channel(l1),
        channel(l2),
        channel(l1),
        channel(l2),
        channel(l1),
        channel(l1),
        channel(l1),
        channel(l1),
    )
    # Monday 11-23. An API text answered out of order (delivered, then a stale sent).
    api_text = _message(c1, at(23, 8), sender_kind="api", status="received", api_client=emr)
    message_status_apply(message_id=api_text.pk, status="delivered", at=at(23, 8, 1))
    message_status_apply(message_id=api_text.pk, status="sent", at=at(23, 8, 2))
    _message(c3, at(23, 10), direction="inbound", body="Is my bill ready?")
    # 23:30 Chicago is 05:30 UTC on Tuesday: still Monday here.
    _message(c1, at(23, 23, 30), direction="inbound", body="Can I move my visit?")
    # Tuesday 11-24.
    late = _message(c1, at(24, 9, 30), status="sent", user=dana)  # waited 30 open minutes
    _message(c1, at(24, 10), direction="inbound", body="Thanks, and my refill?")
    _message(c3, at(24, 11), user=sam)  # c3 waited Mon 10-17 + Tue 9-11 = 9 open hours
    _message(c1, at(24, 12), user=dana)  # waited 2 open hours
    _message(c8, at(24, 13), sender_kind="smapi", status="failed", error_code="landline")
    _message(c5, at(24, 14), direction="inbound", body=" stop ")
    # Wednesday 11-25: call-to-text.
    ctt = _message(c2, at(25, 15), sender_kind="call_to_text", workflow=workflow)
    ctt_unreplied = _message(
        c6,
        at(25, 15, 10),
        sender_kind="call_to_text",
        status="undelivered",
        error_code="unreachable",
        workflow=workflow,
    )
    for message, outcome, minute in (
        (ctt, "texted", 0),
        (ctt_unreplied, "texted", 10),
        (ctt, "deduplicated", 5),
    ):
        call = CallToTextCall.objects.create(
            workflow=workflow, caller=message.to_number, outcome=outcome, message=message
        )
        CallToTextCall.objects.filter(pk=call.pk).update(created_at=at(25, 15, minute))
    _message(c5, at(25, 9), direction="inbound", body="START")
    _message(c2, at(25, 16), direction="inbound", body="I called about my results")
    _message(c2, at(25, 16, 30), direction="inbound", body="Anyone there?")  # still the same wait
    # Thursday 11-26 is the holiday. Friday 11-27: c2 waited Wed 16-17 + Fri 9-10 = 2 open hours.
    _message(c2, at(27, 10), user=sam)
    # Saturday 11-28: a text nobody answers, and the after-hours automation (not a reply).
    _message(c4, at(28, 12), direction="inbound", body="Hello?")
    _message(
        c4,
        at(28, 12, 0, 5),
        sender_kind="automation",
        kind="after_hours",
        body="We are closed.",
    )
    # Sunday 11-29 at 23:50 Chicago is Monday in UTC: still Sunday here.
    _message(c7, at(29, 23, 50), sender_kind="api", status="sent", api_client=emr)
    # The previous period: one API text, one wait of 10 open minutes.
    _message(c9, at(17, 11), sender_kind="api", api_client=emr)
    _message(c9, at(18, 10), direction="inbound", body="Question about my visit")
    _message(c9, at(18, 10, 10), user=dana)
    # Webhook deliveries about the Monday API text.
    for status, attempts in (("delivered", 1), ("delivered", 3), ("failed", 8), ("pending", 2)):
        delivery = WebhookDelivery.objects.create(
            api_client=emr,
            url="https://emr.example/hook",
            event_type="message.status",
            message=api_text,
            occurred_at=at(23, 8, 1),
            status=status,
            attempt_count=attempts,
        )
        WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=at(23, 8, 1))

    _noise(other, "Hillside EMR", 7)
    _noise(foreign, "Faraway EMR", 11)
    return World(
        practice=practice,
        other_practice=other,
        foreign_practice=foreign,
        l1=l1,
        l2=l2,
        manager=manager,
        staff=staff,
        admin=admin,
        other_manager=other_manager,
        foreign_admin=foreign_admin,
        dana=dana,
        sam=sam,
        late_message=late,
    )


# Every figure of P's week, by hand (see the comments in `world_build`). Response times in
# minutes: answered waits 30, 120, 120 and 540 open minutes; the median of four is the mean of
# the middle two, the 90th percentile interpolates (position 0.9 * 3 = 2.7 between 120 and 540).
EXPECTED: dict[str, list[list[str]]] = {
    "volume": [
        [
            "Date",
            "Sent: MAPI",
            "Sent: SMAPI",
            "Sent: Call-to-text",
            "Sent: Staff",
            "Sent: Automation",
            "Received",
        ],
        ["2026-11-23", "1", "0", "0", "0", "0", "2"],
        ["2026-11-24", "0", "1", "0", "3", "0", "2"],
        ["2026-11-25", "0", "0", "2", "0", "0", "3"],
        ["2026-11-26", "0", "0", "0", "0", "0", "0"],
        ["2026-11-27", "0", "0", "0", "1", "0", "0"],
        ["2026-11-28", "0", "0", "0", "0", "1", "1"],
        ["2026-11-29", "1", "0", "0", "0", "0", "0"],
    ],
    "delivery": [
        ["Status", "Texts", "Share of texts sent (%)"],
        ["Delivered", "6", "60.0"],
        ["Undelivered", "1", "10.0"],
        ["Failed", "1", "10.0"],
        ["Sent, no report yet", "2", "20.0"],
        ["Not sent yet", "0", "0.0"],
    ],
    "failures": [["Error code", "Texts"], ["landline", "1"], ["unreachable", "1"]],
    "optouts": [
        ["Date", "Opt-outs", "Opt-ins"],
        ["2026-11-23", "0", "0"],
        ["2026-11-24", "1", "0"],
        ["2026-11-25", "0", "1"],
        ["2026-11-26", "0", "0"],
        ["2026-11-27", "0", "0"],
        ["2026-11-28", "0", "0"],
        ["2026-11-29", "0", "0"],
    ],
    "optout_lines": [
        ["Line", "Practice", "Opt-outs", "Opt-ins"],
        ["Front desk (+13125550101)", "Lakeside Clinic", "0", "0"],
        ["Billing (+13125550102)", "Lakeside Clinic", "1", "1"],
    ],
    "response": [
        [
            "Period",
            "Patient texts waiting",
            "Answered by staff",
            "Median (minutes)",
            "90th percentile (minutes)",
            "Waited over 1 hour (%)",
            "Waited over 1 business day (%)",
        ],
        ["This period", "5", "4", "120.0", "414.0", "80.0", "40.0"],
        ["Previous period", "1", "1", "10.0", "10.0", "0.0", "0.0"],
    ],
    "response_staff": [
        [
            "Staff member",
            "Texts answered",
            "Median (minutes)",
            "90th percentile (minutes)",
            "Answered after over 1 hour (%)",
        ],
        ["Dana Reyes", "2", "75.0", "111.0", "50.0"],
        ["Sam Okafor", "2", "330.0", "498.0", "100.0"],
    ],
    "funnel": [
        ["Step", "This period", "Previous period"],
        ["Calls received", "3", "0"],
        ["Texts sent", "2", "0"],
        ["Callers replied", "1", "0"],
        ["Staff answered", "1", "0"],
    ],
    "api": [["API client", "This period", "Previous period"], ["Acme EMR", "2", "1"]],
    "webhooks": [
        ["API client", "Delivered at once", "Delivered after retries", "Failed", "Pending"],
        ["Acme EMR", "1", "1", "1", "1"],
    ],
    "summary": [
        ["Figure", "This period", "Previous period"],
        ["Texts sent", "10", "2"],
        ["Texts received", "8", "1"],
        ["Delivered (%)", "60.0", "100.0"],
        ["Undelivered (%)", "10.0", "0.0"],
        ["Failed (%)", "10.0", "0.0"],
        ["Landlines found", "1", "0"],
        ["Opt-outs", "1", "0"],
        ["Opt-ins", "1", "0"],
        ["Median response (minutes)", "120.0", "10.0"],
        ["90th percentile response (minutes)", "414.0", "10.0"],
        ["Waited over 1 hour (%)", "80.0", "0.0"],
        ["Waited over 1 business day (%)", "40.0", "0.0"],
        ["Calls received", "3", "0"],
    ],
}


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def csv_rows(client: Client, figure: str, **params: Any) -> list[list[str]]:
    response = client.get(f"/insights/{figure}.csv", {**RANGE, **params})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


class _Tables(HTMLParser):
    """The data table of each figure section (`<section id="figure-…">`, the summary's too)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._section: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section":
            label = found.get("aria-labelledby") or ""
            self._section = label.removeprefix("fig-") if label.startswith("fig-") else None
        elif tag == "tr" and self._section:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._section:
            self.tables.setdefault(self._section, []).append(self._row)
            self._row = None
        elif tag == "section":
            self._section = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def page_tables(html: str) -> dict[str, list[list[str]]]:
    """Each figure's table as the page shows it, "—" (no value) as the CSV's empty cell."""
    parser = _Tables()
    parser.feed(html)
    return {
        slug: [["" if cell == "—" else cell for cell in row] for row in rows]
        for slug, rows in parser.tables.items()
    }
