"""POST /api/v1/messages/batch: many sends in one request, one result per item, in order.

Each item is exactly a single send's body and gets exactly a single send's answer: the 202 body,
or the error a single send of it would get. One bad item writes nothing and blocks no other.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from channels_app.models import Patient
from messaging.models import Message, MessageStatus, MessageStatusChange, OptOut, SimulatorText
from practices.models import Line, Practice
from tests.factories import PatientFactory
from tests.support.api import MESSAGES_URL, ApiCaller, assert_error, message_payload
from webhooks.api import services
from webhooks.models import IdempotencyKey

pytestmark = pytest.mark.django_db

BATCH_URL = f"{MESSAGES_URL}/batch"
KEY = {"Idempotency-Key": "reminders-2026-12-05"}


def numbers(n: int, start: int = 0) -> list[str]:
    return [f"+1818555{start + i:04d}" for i in range(n)]


def batch(practice: Practice, n: int, **overrides: Any) -> dict[str, Any]:
    return {
        "messages": [message_payload(practice, to=to, **overrides) for to in numbers(n)],
    }


def post_batch(
    api: ApiCaller, data: Any, run_tasks: Callable[..., Any] | None = None, **headers: str
) -> Any:
    if run_tasks is None:
        return api.post(BATCH_URL, data=data, headers=headers)
    with run_tasks(execute=True):
        return api.post(BATCH_URL, data=data, headers=headers)


def test_each_item_gets_its_own_result_in_order(
    api: ApiCaller,
    practice: Practice,
    line: Line,
    foreign_practice: Practice,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    items = [
        message_payload(practice, to="(818) 555-0101", body="First"),
        message_payload(practice, practice_id="6a1f7c2e-3d4b-4e5f-8a9b-0c1d2e3f4a5b"),
        message_payload(practice, to="555"),
        message_payload(practice, body=""),
        message_payload(practice, metadata=["not", "an", "object"]),
        message_payload(practice, to="+18185550106", body="Sixth", metadata={"n": 6}),
        message_payload(foreign_practice),
        message_payload(practice, secure=True),
        message_payload(practice, location_id="DEP100", practice_id=...),
        "not an object",
    ]
    response = post_batch(api, {"messages": items}, django_capture_on_commit_callbacks)
    assert response.status_code == 207, response.content
    results = response.json()["results"]
    assert [(r["status"], r.get("error", {}).get("code")) for r in results] == [
        (202, None),
        (422, "unknown_practice"),
        (400, "invalid_phone"),
        (400, "empty_body"),
        (400, "invalid_type"),
        (202, None),
        (422, "unknown_practice"),
        (422, "secure_requires_verified_patient"),
        (202, None),
        (400, "invalid_body"),
    ]
    for result in results:
        assert set(result) == {"status", "message" if result["status"] == 202 else "error"}
    accepted = [r["message"] for r in results if r["status"] == 202]
    assert [(m["to"], m["body"]) for m in accepted] == [
        ("+18185550101", "First"),
        ("+18185550106", "Sixth"),
        ("+18185550101", "Your appointment is tomorrow at 9:00."),
    ]
    assert accepted[1]["metadata"] == {"n": 6}
    assert {m["line_id"] for m in accepted} == {str(line.pk)}
    # Exactly the accepted items are stored, each delivered through the simulated carrier.
    stored = Message.objects.all()
    assert {str(m.pk) for m in stored} == {m["id"] for m in accepted}
    assert all(m.status == MessageStatus.DELIVERED for m in stored)
    assert sorted(SimulatorText.objects.values_list("body", flat=True)) == sorted(
        m["body"] for m in accepted
    )
    assert MessageStatusChange.objects.filter(status=MessageStatus.RECEIVED).count() == 3


def test_an_item_answers_what_a_single_send_answers(
    api: ApiCaller, practice: Practice, foreign_practice: Practice
) -> None:
    items = [
        message_payload(practice, to="555"),
        message_payload(practice, body="x" * 1601),
        message_payload(practice, metadata={"k": "v" * 3000}),
        message_payload(practice, patient={"mrn": "NOPE"}),
        message_payload(practice, extra=True),
        message_payload(foreign_practice),
        message_payload(practice, location_id="DEP100"),
    ]
    results = post_batch(api, {"messages": items}).json()["results"]
    for item, result in zip(items, results, strict=True):
        single = api.post(data=item)
        assert result == {"status": single.status_code, "error": single.json()["error"]}
    assert Message.objects.count() == 0


def test_a_refused_item_writes_nothing(api: ApiCaller, practice: Practice) -> None:
    """An unknown MRN with names and date of birth adds the patient; when that item's send is
    then refused (opted-out number), the patient goes with it; the next item is untouched."""
    OptOut.objects.create(line=practice.lines.get(), phone="+18185550101")
    patient = {
        "mrn": "NEW1",
        "first_name": "Ana",
        "last_name": "Ruiz",
        "date_of_birth": "1980-01-02",
    }
    items = [
        message_payload(practice, to="+18185550101", patient=patient),
        message_payload(practice, to="+18185550102"),
    ]
    results = post_batch(api, {"messages": items}).json()["results"]
    assert [r["status"] for r in results] == [422, 202]
    assert results[0]["error"]["code"] == "recipient_opted_out"
    assert not Patient.objects.filter(mrn="NEW1").exists()
    assert list(Message.objects.values_list("to_number", flat=True)) == ["+18185550102"]


def test_another_enterprises_practice_fails_alone(
    api: ApiCaller, practice: Practice, foreign_practice: Practice
) -> None:
    foreign_line = foreign_practice.lines.get()
    items = [
        message_payload(practice, to="+18185550101"),
        message_payload(foreign_practice, to="+18185550102"),
        message_payload(foreign_practice, practice_id=..., location_id="DEP100"),
        message_payload(practice, to="+18185550103", line_id=str(foreign_line.pk)),
        message_payload(practice, to="+18185550104"),
    ]
    results = post_batch(api, {"messages": items}).json()["results"]
    assert [r["status"] for r in results] == [202, 422, 202, 422, 202]
    assert results[1]["error"] == {
        "code": "unknown_practice",
        "message": "No practice of your enterprise has this id.",
        "field": "practice_id",
    }
    # "DEP100" is a location id of both enterprises: ours is the one it names.
    assert results[2]["message"]["practice_id"] == str(practice.pk)
    assert results[3]["error"]["code"] == "unknown_line"
    assert not Message.objects.filter(practice=foreign_practice).exists()
    assert set(Message.objects.values_list("practice_id", flat=True)) == {practice.pk}


def test_five_hundred_items_are_accepted(api: ApiCaller, practice: Practice) -> None:
    response = post_batch(api, batch(practice, 500))
    assert response.status_code == 207, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == [202] * 500
    assert [r["message"]["to"] for r in results] == numbers(500)
    assert Message.objects.count() == 500


def test_more_than_five_hundred_items_are_refused_whole(api: ApiCaller, practice: Practice) -> None:
    response = post_batch(api, batch(practice, 501))
    assert_error(response, 400, "too_many_messages", "messages")
    assert "500" in response.json()["error"]["message"]
    assert Message.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "status", "code", "field"),
    [
        ({"messages": []}, 400, "empty_batch", "messages"),
        ({}, 400, "missing_field", "messages"),
        ({"messages": {"to": "+18185550101"}}, 400, "invalid_type", "messages"),
        ({"messages": None}, 400, "invalid_type", "messages"),
        ([{"to": "+18185550101"}], 400, "invalid_body", None),
        ({"messages": [], "extra": 1}, 400, "unknown_field", "extra"),
    ],
)
def test_a_malformed_batch_is_refused_whole(
    api: ApiCaller, data: Any, status: int, code: str, field: str | None
) -> None:
    assert_error(post_batch(api, data), status, code, field)


def test_not_json_is_refused_whole(api: ApiCaller) -> None:
    assert_error(api.post(BATCH_URL, raw="{not json"), 400, "malformed_json")
    assert_error(
        api.post(BATCH_URL, raw="to=1", content_type="text/plain"), 415, "unsupported_media_type"
    )


def test_the_body_has_a_bound_of_its_own(api: ApiCaller, practice: Practice, settings: Any) -> None:
    """Larger than a single send's, so 500 texts fit; but bounded."""
    data = batch(practice, 200, body="y" * 1000)
    assert len(json.dumps(data)) > settings.API_MAX_BODY_BYTES
    assert post_batch(api, data).status_code == 207
    settings.API_BATCH_MAX_BODY_BYTES = 100_000
    assert_error(post_batch(api, data), 413, "request_too_large")


def test_needs_a_token_with_the_send_scope(
    practice: Practice, make_api: Callable[..., Any]
) -> None:
    anonymous = ApiCaller(token=None, client=Client())
    assert_error(post_batch(anonymous, batch(practice, 2)), 401, "not_authenticated")
    bad = ApiCaller(token="not-a-token", client=Client())
    assert_error(post_batch(bad, batch(practice, 2)), 401, "invalid_token")
    reader, _ = make_api(token_scope="messages:read")
    assert_error(post_batch(reader, batch(practice, 2)), 403, "insufficient_scope")
    assert Message.objects.count() == 0
    sender, _ = make_api(token_scope="messages:send")
    assert post_batch(sender, batch(practice, 2)).status_code == 207


def test_a_retry_with_the_key_replays_the_batch(
    api: ApiCaller, practice: Practice, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    data = {"messages": [*batch(practice, 3)["messages"], message_payload(practice, to="555")]}
    first = post_batch(api, data, django_capture_on_commit_callbacks, **KEY)
    assert first.status_code == 207
    assert "Idempotent-Replayed" not in first
    again = post_batch(api, data, django_capture_on_commit_callbacks, **KEY)
    assert again.status_code == 207
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()  # the refused item's answer too
    assert Message.objects.count() == 3
    assert SimulatorText.objects.count() == 3  # nothing reached the carrier twice


def test_the_key_with_another_batch_is_refused(api: ApiCaller, practice: Practice) -> None:
    post_batch(api, batch(practice, 2), **KEY)
    other = post_batch(api, batch(practice, 3), **KEY)
    assert_error(other, 422, "idempotency_key_reuse", "Idempotency-Key")
    assert Message.objects.count() == 2


def test_a_single_sends_key_is_not_a_batchs(api: ApiCaller, practice: Practice) -> None:
    payload = message_payload(practice)
    api.post(data=payload, headers=KEY)
    assert_error(post_batch(api, {"messages": [payload]}, **KEY), 422, "idempotency_key_reuse")
    assert Message.objects.count() == 1


def test_a_batch_refused_whole_keeps_no_key(api: ApiCaller, practice: Practice) -> None:
    assert_error(post_batch(api, {"messages": []}, **KEY), 400, "empty_batch")
    assert not IdempotencyKey.objects.exists()
    assert post_batch(api, batch(practice, 1), **KEY).status_code == 207


def test_a_batch_counts_as_one_request_against_the_rate_limit(
    api: ApiCaller, practice: Practice, settings: Any
) -> None:
    settings.API_RATE_LIMIT_PER_SECOND = 0.001
    settings.API_RATE_LIMIT_BURST = 2
    assert post_batch(api, batch(practice, 50)).status_code == 207
    assert post_batch(api, batch(practice, 50)).status_code == 207
    assert_error(post_batch(api, batch(practice, 1)), 429, "rate_limited")


# As counted inside a test, where every transaction is a savepoint (2 queries) of the test's.
# Per request: the token 0 or 1 (cached per process), the batch's transaction 2, the practice
# and its default line 1 (once per practice named, not per item). Per item to a number already
# in a conversation: message_send's savepoint 2, opt-out 1, channel lookup 1, message + history
# 2, channel activity 1. message_send is the single send's path, one item at a time, so the
# bound grows linearly with the items; what does not is the lookup of the practice and line.
PER_REQUEST = 4
PER_ITEM = 7


def test_queries_grow_only_with_the_sends(api: ApiCaller, practice: Practice) -> None:
    post_batch(api, batch(practice, 40))  # every number has its conversation now

    def queries(n: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = post_batch(api, batch(practice, n))
        assert [r["status"] for r in response.json()["results"]] == [202] * n
        return len(captured.captured_queries)

    one, two, forty = queries(1), queries(2), queries(40)
    assert one <= PER_REQUEST + PER_ITEM
    assert two - one <= PER_ITEM
    assert forty - one == 39 * (two - one)  # the same cost for every item
    assert forty <= PER_REQUEST + 40 * PER_ITEM


def test_refused_items_cost_no_write(
    api: ApiCaller, practice: Practice, django_assert_max_num_queries: Any
) -> None:
    """Items refused by the serializer never reach the database; items naming the same
    unknown practice look it up once (two queries: the line, then the practice alone)."""
    items = [message_payload(practice, to="555")] * 100 + [
        message_payload(practice, practice_id="6a1f7c2e-3d4b-4e5f-8a9b-0c1d2e3f4a5b")
    ] * 100
    with django_assert_max_num_queries(PER_REQUEST + 2):
        results = post_batch(api, {"messages": items}).json()["results"]
    assert {r["status"] for r in results} == {400, 422}


def test_items_name_patients_and_lines_as_single_sends_do(
    api: ApiCaller, practice: Practice, enterprise: Any, make_line: Callable[..., Line]
) -> None:
    known = PatientFactory(enterprise=enterprise, mrn="E1")
    other_line = make_line(practice=practice, is_default=False)
    new = {"mrn": "E2", "first_name": "Ana", "last_name": "Ruiz", "date_of_birth": "1980-01-02"}
    items = [
        message_payload(practice, to="+18185550101", patient={"mrn": "E1"}, secure=True),
        message_payload(practice, to="+18185550102", patient=new),
        message_payload(practice, to="+18185550103", line_id=str(other_line.pk)),
    ]
    results = post_batch(api, {"messages": items}).json()["results"]
    assert [r["status"] for r in results] == [202, 202, 202]
    first, second, third = (r["message"] for r in results)
    assert (first["patient_id"], first["secure"], first["channel"]["verified"]) == (
        str(known.pk),
        True,
        True,
    )
    assert second["patient_id"] == str(Patient.objects.get(mrn="E2").pk)
    assert third["line_id"] == str(other_line.pk)


@pytest.mark.parametrize("headers", [{}, KEY], ids=["without-key", "with-key"])
def test_a_failure_that_is_no_refusal_stores_nothing_of_the_batch(
    token: str, practice: Practice, monkeypatch: pytest.MonkeyPatch, headers: dict[str, str]
) -> None:
    """A server error half-way (here: a bug in the third send) rolls back the items before it
    too, so the client's retry of the whole batch cannot send anything twice."""
    real_send = services.api_message_send
    calls = 0

    def failing_third(**kwargs: Any) -> Message:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("a bug")
        return real_send(**kwargs)

    monkeypatch.setattr(services, "api_message_send", failing_third)
    caller = ApiCaller(token=token, client=Client(raise_request_exception=False))
    response = post_batch(caller, batch(practice, 5), **headers)
    assert_error(response, 500, "internal_error")
    assert calls == 3
    assert Message.objects.count() == 0
    assert not IdempotencyKey.objects.exists()


def test_texts_to_one_number_or_patient_are_stored_in_batch_order(
    api: ApiCaller, practice: Practice, enterprise: Any
) -> None:
    PatientFactory(enterprise=enterprise, mrn="E1")
    x, y = "+18185550101", "+18185550102"
    items = [
        message_payload(practice, to=y, body="y1"),
        message_payload(practice, to=x, body="x1"),
        message_payload(practice, to="+18185550109", body="p1", patient={"mrn": "E1"}),
        message_payload(practice, to=y, body="y2"),
        message_payload(practice, to=x, body="x2"),
        message_payload(practice, to="+18185550108", body="p2", patient={"mrn": "E1"}),
        message_payload(practice, to=x, body="x3"),
    ]
    results = post_batch(api, {"messages": items}).json()["results"]
    assert [r["message"]["body"] for r in results] == [item["body"] for item in items]

    def bodies(**lookup: Any) -> list[str]:
        stored = Message.objects.filter(**lookup).order_by("created_at")
        return list(stored.values_list("body", flat=True))

    assert bodies(to_number=x) == ["x1", "x2", "x3"]
    assert bodies(to_number=y) == ["y1", "y2"]
    assert bodies(patient__mrn="E1") == ["p1", "p2"]
