"""Malformed input on any staff, simulator or portal URL is a 4xx or an empty result, never a
500: every id, filter and form field below is fed garbage."""

from __future__ import annotations

import pytest

from tests.factories import PatientChannelFactory, PatientFactory
from tests.support import client_for

GARBAGE = ["not-a-uuid", "", "1' OR 1=1", "9" * 40, "\x00"]


@pytest.mark.parametrize("value", GARBAGE)
def test_garbage_never_reaches_a_server_error(staff_a, practice_a, value: str) -> None:  # type: ignore[no-untyped-def]
    practice_a.enterprise.allow_enterprise_patient_access = True
    practice_a.enterprise.save()
    patient = PatientFactory(enterprise=practice_a.enterprise)
    channel = PatientChannelFactory(line=practice_a.lines.get(), patient=patient)
    c = client_for(staff_a)
    c.raise_request_exception = False  # count a crash as a 500 response instead of raising
    u = f"/inbox/channels/{channel.pk}/"
    quick = f"/inbox/practices/{practice_a.pk}/quick-responses/"
    reqs = [
        ("post", "/inbox/start/", {"patient": value, "practice": value}),
        ("post", "/inbox/start/", {"patient": str(patient.pk), "practice": value}),
        (
            "get",
            f"/inbox/?practice={value}&q={value}&status={value}&assigned={value}&after={value}&before={value}",
            None,
        ),
        ("get", f"/inbox/live/?since={value}&stamp={value}&practice={value}", None),
        ("get", f"/inbox/channels/{value}/", None),
        ("get", u + f"live/?stamp={value}", None),
        ("post", u + "send/", {"body": "hi", "seen": value, "secure": value}),
        ("post", u + "notes/", {"body": value}),
        ("post", u + "status/", {"status": value}),
        ("post", u + "assign/", {"assignee": value}),
        ("post", u + "star/", {"star": value}),
        ("post", "/inbox/phrases/", {"name": value, "text": value}),
        ("post", f"/inbox/practices/{value}/quick-responses/", {"topic": value, "text": value}),
        ("post", quick, {"topic": value, "text": value}),
        ("get", f"/simulator/api/messages?to={value}&from={value}", None),
        ("post", "/simulator/api/inbound", {"from": value, "to": value, "body": value}),
        ("post", "/simulator/api/numbers", {"number": value, "type": value}),
        ("post", "/simulator/reply/", {"from": value, "to": value, "body": value}),
        ("get", f"/simulator/thread/?number={value}&line={value}", None),
        ("get", f"/secure/{value or 'x'}/", None),
        ("get", f"/s/{value or 'x'}", None),
    ]
    bad: list[tuple[str, str, int]] = []
    for method, url, data in reqs:
        r = getattr(c, method)(url, data) if data is not None else getattr(c, method)(url)
        if r.status_code >= 500:
            bad.append((method, url, r.status_code))
    assert not bad, bad


# Inbox cursors (`after`, the keyset of the "Older" link) that are not a moment and an id: each
# is ignored (the first page), never a 500. `before` is not a parameter of the inbox at all.
_ID = "0b9c1f9e-1d5e-4a8e-9a57-6c1f0b2a3c4d"
BAD_CURSORS = [
    f"9999-99-99~{_ID}",
    f"9999-99-99T00:00:00+00:00~{_ID}",
    f"0000-01-01T00:00:00+00:00~{_ID}",
    f"2024-02-30T10:00:00+00:00~{_ID}",
    f"2024-01-01T25:61:00+00:00~{_ID}",
    f"2024-01-01T00:00:00+99:00~{_ID}",
    f"9999-12-31T23:59:59-14:00~{_ID}",  # past year 9999 in UTC
    f"0001-01-01T00:00:00+14:00~{_ID}",  # before year 1 in UTC
    f"99999999999999999999~{_ID}",
    f"{'9' * 5000}~{_ID}",
    f"+275760-09-13T00:00:00Z~{_ID}",
    f"2024-01-01T00:00:00~{_ID}",  # no offset: ambiguous
    "2024-01-01T00:00:00+00:00~not-an-id",
    "2024-01-01T00:00:00+00:00",
    f"9999-99-99T00:00:00\x00+00:00~{_ID}",
    f"\x00~{_ID}\x00",
    "~",
    "~~~",
    "%",
    "é~ü",
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
@pytest.mark.parametrize("path", ["/inbox/", "/inbox/live/"])
def test_impossible_cursors_show_the_first_page(  # type: ignore[no-untyped-def]
    staff_a, practice_a, cursor: str, path: str
) -> None:
    patient = PatientFactory(enterprise=practice_a.enterprise, first_name="Ana", last_name="Lopez")
    PatientChannelFactory(line=practice_a.lines.get(), patient=patient)
    c = client_for(staff_a)
    c.raise_request_exception = False
    response = c.get(path, {"after": cursor, "before": cursor})
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    # The cursor was ignored: the newest page, with its one row and no link back to "Newest".
    assert "Ana Lopez" in html
    assert "Newest" not in html
