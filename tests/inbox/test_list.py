"""The inbox list: assigned filters, search, keyset pagination, unread markers."""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.utils import timezone

from channels_app.models import PatientChannel
from messaging.models import Message
from practices.models import Practice
from tests.factories import (
    LineFactory,
    MessageFactory,
    PatientChannelFactory,
    PatientFactory,
    PatientPhoneFactory,
    PracticeFactory,
)
from tests.support import channel_url, client_for


def _named(practice: Practice, first: str, last: str, **kwargs: Any) -> PatientChannel:
    patient = PatientFactory(enterprise=practice.enterprise, first_name=first, last_name=last)
    return PatientChannelFactory(line=practice.lines.get(), patient=patient, **kwargs)


def test_assigned_filters(staff_a: Any, colleague: Any, practice_a: Practice) -> None:
    _named(practice_a, "Mine", "Only", assignee=staff_a)
    _named(practice_a, "Dana's", "Patient", assignee=colleague)
    _named(practice_a, "Nobody's", "Patient")
    client = client_for(staff_a)

    mine = client.get("/inbox/?assigned=me").content.decode()
    unassigned = client.get("/inbox/?assigned=unassigned").content.decode()
    everyone = client.get("/inbox/?assigned=bogus").content.decode()

    assert "Mine Only" in mine
    assert "Dana" not in mine
    assert "Nobody" not in mine
    assert "Nobody&#x27;s Patient" in unassigned
    assert "Mine Only" not in unassigned
    assert all(name in everyone for name in ("Mine Only", "Dana&#x27;s", "Nobody&#x27;s"))


def test_search_by_name_and_phone(staff_a: Any, practice_a: Practice) -> None:
    _named(practice_a, "Ana", "Lopez", phone="+18185550101")
    _named(practice_a, "Bea", "Smith", phone="+18185550202")
    PatientChannelFactory(line=practice_a.lines.get(), phone="+18185550303")
    client = client_for(staff_a)

    by_name = client.get("/inbox/?q=lop").content.decode()
    by_full_name = client.get("/inbox/?q=Bea+Smith").content.decode()
    by_phone = client.get("/inbox/?q=(818) 555-0303").content.decode()
    nothing = client.get("/inbox/?q=zzz").content.decode()

    assert "Ana Lopez" in by_name
    assert "Bea Smith" not in by_name
    assert "Bea Smith" in by_full_name
    assert "Ana Lopez" not in by_full_name
    assert "(818) 555-0303" in by_phone
    assert "Ana Lopez" not in by_phone
    assert "No conversations match" in nothing


def test_search_never_reaches_other_practices_channels(staff_a: Any, practice_a: Practice) -> None:
    sibling = PracticeFactory(enterprise=practice_a.enterprise, name="Sibling")
    LineFactory(practice=sibling)
    _named(sibling, "Hidden", "Sibling")

    assert "Hidden Sibling" not in client_for(staff_a).get("/inbox/?q=hidden").content.decode()


def test_enterprise_wide_patient_search_follows_the_setting(
    staff_a: Any, practice_a: Practice
) -> None:
    patient = PatientFactory(
        enterprise=practice_a.enterprise, first_name="Wide", last_name="Search"
    )
    PatientPhoneFactory(patient=patient, number="+18185550777")
    client = client_for(staff_a)

    assert "Patients in your organization" not in client.get("/inbox/?q=wide").content.decode()

    practice_a.enterprise.allow_enterprise_patient_access = True
    practice_a.enterprise.save()
    by_name = client.get("/inbox/?q=wide").content.decode()
    by_phone = client.get("/inbox/?q=8185550777").content.decode()
    assert "Patients in your organization" in by_name
    assert "Wide Search" in by_name
    assert "Wide Search" in by_phone


def test_keyset_pagination_walks_every_channel_once(
    staff_a: Any, practice_a: Practice, monkeypatch: Any
) -> None:
    monkeypatch.setattr("inbox.views.INBOX_PAGE_SIZE", 3)
    now = timezone.now()
    for i in range(7):
        channel = _named(practice_a, f"Person{i}", "Paged")
        # Two channels share a timestamp: the id breaks the tie.
        at = now - datetime.timedelta(minutes=i if i != 4 else 3)
        PatientChannel.objects.filter(pk=channel.pk).update(last_activity_at=at)
    client = client_for(staff_a)

    seen: list[str] = []
    url = "/inbox/"
    for _ in range(5):
        html = client.get(url).content.decode()
        seen += re.findall(r"(Person\d) Paged", html)
        more = re.search(r'href="\?([^"]*after=[^"]+)"', html)
        if not more:
            break
        url = "/inbox/?" + more.group(1).replace("&amp;", "&")
    assert sorted(seen) == [f"Person{i}" for i in range(7)]
    assert len(seen) == 7
    assert seen[:3] == ["Person0", "Person1", "Person2"]


def test_unread_until_opened(staff_a: Any, colleague: Any, practice_a: Practice) -> None:
    channel = _named(practice_a, "Una", "Read")
    MessageFactory(
        channel=channel,
        direction=Message.Direction.INBOUND,
        sender_kind=Message.SenderKind.PATIENT,
        body="Hello?",
    )
    assert "is-unread" in client_for(staff_a).get("/inbox/").content.decode()

    client_for(staff_a).get(channel_url(channel))

    assert "is-unread" not in client_for(staff_a).get("/inbox/").content.decode()
    assert "is-unread" in client_for(colleague).get("/inbox/").content.decode()


def test_inbox_query_count_is_constant(
    staff_a: Any, colleague: Any, practice_a: Practice, django_assert_max_num_queries: Any
) -> None:
    client = client_for(staff_a)

    def add(n: int) -> None:
        for _ in range(n):
            channel = _named(practice_a, "Q", "Count", assignee=colleague)
            channel.starred_by.add(staff_a)
            MessageFactory(channel=channel)

    add(2)
    with django_assert_max_num_queries(20) as few:
        client.get("/inbox/?q=count&assigned=&status=all")
    add(25)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/inbox/?q=count&assigned=&status=all")


def test_open_a_conversation_with_a_patient_found_enterprise_wide(
    staff_a: Any, staff_b: Any, practice_a: Practice
) -> None:
    practice_a.enterprise.allow_enterprise_patient_access = True
    practice_a.enterprise.save()
    patient = PatientFactory(enterprise=practice_a.enterprise, first_name="Wide", last_name="Open")
    PatientPhoneFactory(patient=patient, number="+18185550778")

    response = client_for(staff_a).post("/inbox/start/", {"patient": str(patient.pk)})

    channel = PatientChannel.objects.get(patient=patient)
    assert channel.practice == practice_a
    assert channel.phone == "+18185550778"
    assert response["Location"] == channel_url(channel)
    outsider = client_for(staff_b).post("/inbox/start/", {"patient": str(patient.pk)})
    assert outsider["Location"] == "/inbox/"
    assert PatientChannel.objects.count() == 1


def test_no_enterprise_wide_start_without_the_setting(staff_a: Any, practice_a: Practice) -> None:
    patient = PatientFactory(enterprise=practice_a.enterprise)
    PatientPhoneFactory(patient=patient)

    client_for(staff_a).post("/inbox/start/", {"patient": str(patient.pk)})

    assert not PatientChannel.objects.exists()
