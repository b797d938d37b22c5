"""Idempotency-Key: a retry gets the first response and sends nothing again."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from messaging.models import Message, OptOut, SimulatorText
from practices.models import Line, Practice
from tests.support.api import ApiCaller, assert_error, message_payload
from webhooks.api.idempotency import idempotency_keys_purge
from webhooks.api.tasks import idempotency_keys_purge as purge_task
from webhooks.models import ApiClient, IdempotencyKey

pytestmark = pytest.mark.django_db

KEY = {"Idempotency-Key": "3f0a2c1e-order-1234"}


def test_a_retry_replays_the_first_response(
    api: ApiCaller, practice: Practice, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    payload = message_payload(practice, metadata={"order": 1})
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post(data=payload, headers=KEY)
    assert first.status_code == 202
    assert "Idempotent-Replayed" not in first
    with django_capture_on_commit_callbacks(execute=True):
        again = api.post(data=payload, headers=KEY)
    assert again.status_code == 202
    assert again.json() == first.json()  # including "status": "received", as first answered
    assert again["Idempotent-Replayed"] == "true"
    assert Message.objects.count() == 1
    assert SimulatorText.objects.count() == 1  # one text reached the carrier


def test_key_order_and_whitespace_do_not_make_another_body(
    api: ApiCaller, practice: Practice
) -> None:
    payload = message_payload(practice, metadata={"a": 1, "b": 2})
    first = api.post(data=payload, headers=KEY)
    reordered = json.dumps(dict(reversed(list(payload.items()))), indent=4)
    again = api.post(raw=reordered, headers=KEY)
    assert again.status_code == 202
    assert again.json()["id"] == first.json()["id"]


def test_same_key_with_another_body_is_refused(api: ApiCaller, practice: Practice) -> None:
    api.post(data=message_payload(practice), headers=KEY)
    other = api.post(data=message_payload(practice, body="Something else"), headers=KEY)
    assert_error(other, 422, "idempotency_key_reuse", "Idempotency-Key")
    assert Message.objects.count() == 1


def test_keys_are_per_client(
    api: ApiCaller, practice: Practice, make_api: Callable[..., Any]
) -> None:
    other, _ = make_api()
    first = api.post(data=message_payload(practice), headers=KEY)
    second = other.post(data=message_payload(practice), headers=KEY)
    assert second.status_code == 202
    assert second.json()["id"] != first.json()["id"]
    assert Message.objects.count() == 2


def test_a_refused_request_keeps_no_key(api: ApiCaller, practice: Practice, line: Line) -> None:
    OptOut.objects.create(line=line, phone="+18185550101", keyword="STOP")
    assert_error(api.post(data=message_payload(practice), headers=KEY), 422, "recipient_opted_out")
    assert not IdempotencyKey.objects.exists()
    OptOut.objects.all().delete()  # the patient texted START
    assert api.post(data=message_payload(practice), headers=KEY).status_code == 202
    invalid = api.post(data=message_payload(practice, body=""), headers={"Idempotency-Key": "k2"})
    assert invalid.status_code == 400
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == [KEY["Idempotency-Key"]]


def test_without_a_key_every_request_sends(api: ApiCaller, practice: Practice) -> None:
    api.post(data=message_payload(practice))
    api.post(data=message_payload(practice))
    assert Message.objects.count() == 2
    assert not IdempotencyKey.objects.exists()


def test_the_key_row_keeps_the_response(
    api: ApiCaller, practice: Practice, api_client: ApiClient
) -> None:
    body = api.post(data=message_payload(practice), headers=KEY).json()
    row = IdempotencyKey.objects.get()
    assert (row.api_client, row.key) == (api_client, KEY["Idempotency-Key"])
    assert row.response_status == 202
    assert row.response_body == body
    assert len(row.request_fingerprint) == 64


@pytest.mark.parametrize("key", ["", "   ", "k" * 256, "naïve", "tab\tkey"])
def test_unusable_keys(api: ApiCaller, practice: Practice, key: str) -> None:
    response = api.post(data=message_payload(practice), headers={"Idempotency-Key": key})
    assert_error(response, 400, "invalid_idempotency_key", "Idempotency-Key")


def test_a_key_of_255_characters_is_fine(api: ApiCaller, practice: Practice) -> None:
    response = api.post(data=message_payload(practice), headers={"Idempotency-Key": "k" * 255})
    assert response.status_code == 202


def test_keys_are_kept_a_day_then_purged(api: ApiCaller, practice: Practice, settings: Any) -> None:
    api.post(data=message_payload(practice), headers=KEY)
    api.post(data=message_payload(practice), headers={"Idempotency-Key": "old"})
    IdempotencyKey.objects.filter(key="old").update(
        created_at=timezone.now() - datetime.timedelta(hours=25)
    )
    IdempotencyKey.objects.filter(key=KEY["Idempotency-Key"]).update(
        created_at=timezone.now() - datetime.timedelta(hours=23)
    )
    settings.API_IDEMPOTENCY_KEY_HOURS = 1  # a setting below a day does not shorten the promise
    assert idempotency_keys_purge() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == [KEY["Idempotency-Key"]]
    # A purged key is free again: the same key sends anew.
    response = api.post(data=message_payload(practice), headers={"Idempotency-Key": "old"})
    assert "Idempotent-Replayed" not in response


def test_purge_task_is_scheduled_and_runs(settings: Any, db: None) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["api-idempotency-keys-purge"]
    assert entry["task"] == purge_task.name
    assert purge_task.apply().get() == 0


def test_purge_works_in_batches(api_client: ApiClient) -> None:
    old = timezone.now() - datetime.timedelta(days=3)
    IdempotencyKey.objects.bulk_create(
        IdempotencyKey(api_client=api_client, key=f"k{i}", request_fingerprint="x", created_at=old)
        for i in range(25)
    )
    assert idempotency_keys_purge(batch_size=10) == 25
    assert not IdempotencyKey.objects.exists()
