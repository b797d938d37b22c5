"""Malformed input on any staff, simulator or portal URL is a 4xx or an empty result, never a
500: every id, filter and form field below is fed garbage."""

from __future__ import annotations

import pytest

from tests.conftest import client_for
from tests.factories import PatientChannelFactory, PatientFactory

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
