"""MAPI send later: `send_at` and `valid_until` on a send and on each batch item, the response's
`send_at` when quiet hours hold a text, and `DELETE /api/v1/messages/{id}`."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine

from messaging.models import Message, SimulatorText
from messaging.services import scheduled_release
from practices.models import Practice
from tests.support.api import MESSAGES_URL, ApiCaller, assert_error, message_payload
from webhooks.models import ApiClient

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
NOW = datetime.datetime(2026, 11, 20, 14, 0, tzinfo=UTC)  # 9:00 in New York, a Friday
BATCH_URL = f"{MESSAGES_URL}/batch"


@pytest.fixture
def frozen() -> Iterator[Any]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def delete(api: ApiCaller, message_id: str) -> Any:
    return api.client.delete(f"{MESSAGES_URL}/{message_id}", headers=api.headers())


def iso(moment: datetime.datetime) -> str:
    return moment.isoformat()


def test_send_at_answers_scheduled_with_the_moment(
    frozen: Any, api: ApiCaller, practice: Practice, run: Callable[..., Any]
) -> None:
    body = run(api.post, data=message_payload(practice, send_at="2026-11-20T11:30:00-05:00")).json()
    assert body["status"] == "scheduled"
    assert body["send_at"] == "2026-11-20T16:30:00Z"
    assert body["valid_until"] is None
    detail = api.get(f"{MESSAGES_URL}/{body['id']}").json()
    assert [step["status"] for step in detail["status_history"]] == ["scheduled"]
    assert not SimulatorText.objects.exists()


@pytest.mark.parametrize(
    ("send_at", "code"),
    [
        ("2026-11-20T11:30:00", "invalid_datetime"),  # no offset
        ("2026-11-20", "invalid_datetime"),
        ("tomorrow", "invalid_datetime"),
        (1763650800, "invalid_datetime"),
        ("2026-11-20T13:00:00Z", "send_at_in_past"),
        ("2026-12-25T14:00:01Z", "send_at_too_far"),  # 35 days and a second
    ],
)
def test_a_bad_send_at_is_a_400_naming_it(
    frozen: Any, api: ApiCaller, practice: Practice, send_at: Any, code: str
) -> None:
    response = api.post(data=message_payload(practice, send_at=send_at))
    assert_error(response, 400, code, "send_at")
    assert not Message.objects.exists()


def test_send_at_35_days_ahead_is_accepted(frozen: Any, api: ApiCaller, practice: Practice) -> None:
    response = api.post(data=message_payload(practice, send_at="2026-12-25T14:00:00Z"))
    assert response.status_code == 202, response.content


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"valid_until": "2026-11-20T13:59:59Z"}, "valid_until_in_past"),
        (
            {"send_at": "2026-11-20T16:00:00Z", "valid_until": "2026-11-20T15:00:00Z"},
            "valid_until_before_send_at",
        ),
        ({"valid_until": "2026-11-20 15:00"}, "invalid_datetime"),
    ],
)
def test_a_bad_valid_until_is_a_400_naming_it(
    frozen: Any, api: ApiCaller, practice: Practice, extra: dict[str, str], code: str
) -> None:
    response = api.post(data=message_payload(practice, **extra))
    assert_error(response, 400, code, "valid_until")
    assert not Message.objects.exists()


def test_quiet_hours_of_the_client_fill_in_send_at(
    api: ApiCaller, api_client: ApiClient, practice: Practice
) -> None:
    api_client.quiet_hours = True
    api_client.save(update_fields=["quiet_hours"])
    # 23:00 in New York for a 212 number; 18:00 in Honolulu for an 808 one.
    with time_machine.travel(datetime.datetime(2026, 11, 21, 4, 0, tzinfo=UTC), tick=False):
        ny = api.post(data=message_payload(practice, to="+12125550101")).json()
        hawaii = api.post(data=message_payload(practice, to="+18085550101")).json()
    assert (ny["status"], ny["send_at"]) == ("scheduled", "2026-11-21T13:00:00Z")
    assert (hawaii["status"], hawaii["send_at"]) == ("received", None)


def test_batch_items_take_send_at_and_valid_until_each(
    frozen: Any, api: ApiCaller, practice: Practice, run: Callable[..., Any]
) -> None:
    items = [
        message_payload(practice, to="+12125550101", send_at="2026-11-20T15:00:00Z"),
        message_payload(practice, to="+12125550102", valid_until="2026-11-20T15:00:00Z"),
        message_payload(practice, to="+12125550103", send_at="2026-11-20T09:00:00"),
    ]
    results = run(api.post, path=BATCH_URL, data={"messages": items}).json()["results"]
    assert [r["status"] for r in results] == [202, 202, 400]
    assert results[0]["message"]["status"] == "scheduled"
    assert results[0]["message"]["send_at"] == "2026-11-20T15:00:00Z"
    assert results[1]["message"]["valid_until"] == "2026-11-20T15:00:00Z"
    assert results[2]["error"]["code"] == "invalid_datetime"
    assert results[2]["error"]["field"] == "send_at"


def test_delete_cancels_while_scheduled_then_409(
    frozen: Any, api: ApiCaller, practice: Practice, run: Callable[..., Any]
) -> None:
    first = api.post(data=message_payload(practice, send_at="2026-11-20T14:30:00Z")).json()
    second = api.post(
        data=message_payload(practice, to="+12125550102", send_at="2026-11-20T14:30:00Z")
    ).json()
    response = delete(api, first["id"])
    assert response.status_code == 204, response.content
    assert api.get(f"{MESSAGES_URL}/{first['id']}").json()["status"] == "canceled"
    assert_error(delete(api, first["id"]), 409, "not_scheduled")

    frozen.move_to(datetime.datetime(2026, 11, 20, 14, 30, tzinfo=UTC))  # within the token's hour
    run(scheduled_release)
    assert_error(delete(api, second["id"]), 409, "not_scheduled")
    assert api.get(f"{MESSAGES_URL}/{second['id']}").json()["status"] == "delivered"
    assert list(SimulatorText.objects.values_list("to_number", flat=True)) == ["+12125550102"]


def test_delete_of_another_enterprises_message_is_404(
    frozen: Any,
    api: ApiCaller,
    foreign_practice: Practice,
    make_api: Callable[..., Any],
) -> None:
    foreign_api, _ = make_api(enterprise=foreign_practice.enterprise)
    theirs = foreign_api.post(
        data=message_payload(foreign_practice, send_at="2026-11-20T15:00:00Z")
    ).json()
    assert_error(delete(api, theirs["id"]), 404, "not_found")
    assert_error(delete(api, "not-a-uuid"), 404, "not_found")
    assert Message.objects.get(pk=theirs["id"]).status == "scheduled"


def test_delete_needs_the_send_scope(
    frozen: Any, practice: Practice, make_api: Callable[..., Any]
) -> None:
    sender, _ = make_api(token_scope="messages:send")
    reader, _ = make_api(token_scope="messages:read")
    sent = sender.post(data=message_payload(practice, send_at="2026-11-20T15:00:00Z")).json()
    assert_error(delete(reader, sent["id"]), 403, "insufficient_scope")
    assert delete(sender, sent["id"]).status_code == 204
