"""Delivery: retried on the schedule kept in the database until a 2xx, with the same webhook-id;
410 disables the endpoint; Retry-After is honoured; an endpoint failing for days is disabled."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from django.utils.http import http_date

from messaging.models import Message, MessageStatus
from messaging.services import message_status_report
from tests.support import Answer, Receiver
from tests.support.webhooks import make_due, sweep
from webhooks.delivery import webhook_delivery_attempt, webhook_delivery_redeliver
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

SCHEDULE = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]


@pytest.fixture
def fail_event(send: Callable[..., Message], run: Callable[..., Any]) -> Callable[[], Any]:
    """One `message.status` event (`failed`), delivered at once; returns its delivery."""

    def make() -> WebhookDelivery:
        message = send(execute=False)
        run(
            message_status_report,
            provider_message_id="",
            status=MessageStatus.FAILED,
            error_code="carrier_rejected",
            message_id=str(message.pk),
        )
        return WebhookDelivery.objects.get(message=message)

    return make


def seconds_until_next(delivery: WebhookDelivery) -> float:
    delivery.refresh_from_db()
    last = delivery.attempts.order_by("-number").first()
    assert last is not None
    assert delivery.next_attempt_at is not None
    return (delivery.next_attempt_at - last.started_at).total_seconds()


def test_500_then_200_redelivers_the_same_event_with_the_same_id(
    fail_event: Callable[[], WebhookDelivery], receiver: Receiver, run: Callable[..., Any]
) -> None:
    receiver.answer(Answer(500, body=b"boom"), Answer(200))
    delivery = fail_event()
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == (
        "pending",
        1,
        500,
    )
    # The next attempt is in the database, ~5 s out; nothing happens before it is due.
    assert 4.4 <= seconds_until_next(delivery) <= 5.6
    assert sweep(run) == 0
    assert len(receiver.requests) == 1
    make_due(delivery)
    assert sweep(run) == 1
    first, second = receiver.requests
    assert second.headers["webhook-id"] == first.headers["webhook-id"] == delivery.webhook_id
    assert second.body == first.body
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == ("delivered", 2)
    attempts = list(delivery.attempts.values_list("number", "status_code", "succeeded"))
    assert attempts == [(1, 500, False), (2, 200, True)]
    assert delivery.attempts.get(number=1).response_excerpt == "boom"
    assert WebhookEndpoint.objects.get().failing_since is None


def test_any_2xx_is_success(fail_event: Callable[[], WebhookDelivery], receiver: Receiver) -> None:
    receiver.answer(Answer(204, body=b""))
    assert fail_event().status == "delivered"


def test_the_retry_schedule_then_giving_up(
    fail_event: Callable[[], WebhookDelivery], receiver: Receiver, run: Callable[..., Any]
) -> None:
    receiver.answer(*[Answer(500)] * len(SCHEDULE))
    delivery = fail_event()
    for expected in SCHEDULE[1:]:
        waited = seconds_until_next(delivery)
        assert expected * 0.9 - 0.01 <= waited <= expected * 1.1 + 0.5, (expected, waited)
        make_due(delivery)
        sweep(run)
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert delivery.next_attempt_at is None
    assert delivery.attempts.count() == len(SCHEDULE) == len(receiver.requests)
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_is_honoured(
    fail_event: Callable[[], WebhookDelivery], receiver: Receiver, status: int
) -> None:
    receiver.answer(Answer(status, headers={"Retry-After": "120"}))
    delivery = fail_event()
    assert 119 <= seconds_until_next(delivery) <= 121


def test_retry_after_as_a_date_is_honoured(
    fail_event: Callable[[], WebhookDelivery], receiver: Receiver
) -> None:
    when = timezone.now() + datetime.timedelta(minutes=10)
    receiver.answer(Answer(503, headers={"Retry-After": http_date(when.timestamp())}))
    delivery = fail_event()
    assert 590 <= seconds_until_next(delivery) <= 601


def test_a_shorter_retry_after_does_not_hurry_the_schedule(
    fail_event: Callable[[], WebhookDelivery], receiver: Receiver
) -> None:
    receiver.answer(Answer(500, headers={"Retry-After": "1000"}))
    delivery = fail_event()
    # Only 429 and 503 are throttling answers.
    assert 4.4 <= seconds_until_next(delivery) <= 5.6


def test_410_disables_the_endpoint_at_once(
    fail_event: Callable[[], WebhookDelivery], receiver: Receiver, run: Callable[..., Any]
) -> None:
    receiver.answer(Answer(410))
    delivery = fail_event()
    delivery.refresh_from_db()
    assert delivery.status == "disabled"
    endpoint = WebhookEndpoint.objects.get()
    assert not endpoint.is_enabled
    assert endpoint.disabled_reason == "gone"
    assert endpoint.disabled_at is not None
    # Later events for it are not sent, and say why.
    later = fail_event()
    later.refresh_from_db()
    assert later.status == "disabled"
    assert len(receiver.requests) == 1


def test_an_endpoint_failing_for_five_days_is_disabled(
    fail_event: Callable[[], WebhookDelivery], receiver: Receiver, run: Callable[..., Any]
) -> None:
    receiver.answer(Answer(500), Answer(500))
    first = fail_event()
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.is_enabled
    assert endpoint.failing_since is not None
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - datetime.timedelta(days=5, seconds=1)
    )
    make_due(first)
    sweep(run)
    endpoint.refresh_from_db()
    assert (endpoint.is_enabled, endpoint.disabled_reason) == (False, "failing")
    first.refresh_from_db()
    assert first.status == "disabled"


def test_a_success_resets_the_failing_clock(
    fail_event: Callable[[], WebhookDelivery], receiver: Receiver, run: Callable[..., Any]
) -> None:
    receiver.answer(Answer(500))
    first = fail_event()
    assert WebhookEndpoint.objects.get().failing_since is not None
    make_due(first)
    sweep(run)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.failing_since is None
    assert endpoint.last_success_at is not None


def test_a_slow_receiver_times_out(
    fail_event: Callable[[], WebhookDelivery], receiver: Receiver, settings: Any
) -> None:
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.answer(Answer(200, delay=1.0))
    delivery = fail_event()
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    attempt = delivery.attempts.get()
    assert attempt.status_code is None
    assert attempt.error == "timeout"


def test_an_unreachable_receiver_is_retried(
    fail_event: Callable[[], WebhookDelivery], receiver: Receiver
) -> None:
    receiver.stop()
    delivery = fail_event()
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert delivery.attempts.get().error == "connection failed"


def test_a_lost_first_task_is_picked_up_by_the_sweep(
    send: Callable[..., Message], receiver: Receiver, run: Callable[..., Any]
) -> None:
    message = send(execute=False)
    # The status changes commit, but their tasks never run (a broker outage).
    message_status_report(provider_message_id="", status="failed", message_id=str(message.pk))
    delivery = WebhookDelivery.objects.get(message=message)
    assert sweep(run) == 0  # not yet: its task may still be in the queue
    make_due(delivery)
    assert sweep(run) == 1
    assert len(receiver.requests) == 1


def test_an_attempt_is_made_once_however_often_its_task_runs(
    fail_event: Callable[[], WebhookDelivery], receiver: Receiver
) -> None:
    receiver.answer(Answer(500))
    delivery = fail_event()
    assert webhook_delivery_attempt(delivery_id=delivery.pk, attempt_count=0) == "skipped"
    assert len(receiver.requests) == 1
    assert WebhookAttempt.objects.count() == 1


def test_redeliver_sends_again_with_the_same_id(
    fail_event: Callable[[], WebhookDelivery], receiver: Receiver, run: Callable[..., Any]
) -> None:
    delivery = fail_event()
    run(webhook_delivery_redeliver, delivery=delivery)
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.webhook_id] * 2
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == ("delivered", 2)


def test_redeliver_leaves_an_attempt_in_flight_alone(
    fail_event: Callable[[], WebhookDelivery], receiver: Receiver
) -> None:
    receiver.answer(Answer(500))
    delivery = fail_event()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        lease_until=timezone.now() + datetime.timedelta(seconds=30)
    )
    assert webhook_delivery_redeliver(delivery=delivery) is False
