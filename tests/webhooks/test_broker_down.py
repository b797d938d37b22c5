"""Webhook deliveries while the broker is down (PostgreSQL + a Redis broker of the test's own):
after one failed publish no status callback waits for the broker again within the back-off
(`artera.outbox`), and the sweep hands the deliveries over once the broker is back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis

from artera import outbox
from artera.celery import app as celery_app
from messaging.models import Message
from messaging.services import message_status_report
from tests.support.webhooks import make_due
from tests.support.workers import PrivateRedis, use_broker
from webhooks import tasks
from webhooks.delivery import webhook_deliveries_sweep
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)


class Clock:
    """The back-off's clock, turned by hand: no test waits for real time to pass."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_broker_outage_costs_one_publish_attempt_and_the_sweep_catches_up(
    private_redis: PrivateRedis,
    send: Callable[..., Message],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queue = f"artera-webhooks-test-{uuid.uuid4().hex[:10]}"
    settings.WEBHOOK_CELERY_QUEUE = queue
    settings.SMS_CELERY_QUEUE = f"{queue}-sms"  # the sends' own tasks: nobody consumes them
    settings.BROKER_BACKOFF_SECONDS = 5
    clock = Clock()
    monkeypatch.setattr(outbox, "_clock", clock)
    attempts: list[tuple[Any, ...]] = []

    def count(task: Any) -> None:
        publish = task.apply_async

        def counted(*args: Any, **kwargs: Any) -> Any:
            attempts.append(kwargs["args"])
            return publish(*args, **kwargs)

        monkeypatch.setattr(task, "apply_async", counted)

    count(tasks.webhook_deliver_first)  # a batch of status changes' first attempts
    count(tasks.webhook_deliver)  # the sweep's

    broker_url, was_eager = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    use_broker(private_redis.url)
    celery_app.conf.task_always_eager = False
    try:
        first, second = send(execute=False), send(execute=False, to="+18185550102")
        private_redis.stop()

        for message in (first, second):  # two status callbacks during the outage
            message_status_report(
                provider_message_id="", status="failed", message_id=str(message.pk)
            )
        deliveries = list(WebhookDelivery.objects.order_by("created_at"))
        assert [d.message_id for d in deliveries] == [first.pk, second.pk]
        assert {d.status for d in deliveries} == {"pending"}
        # The first callback tried the broker and failed; the second did not try at all.
        assert attempts == [([str(deliveries[0].pk)],)]
        assert outbox.broker_backing_off()

        # Within the back-off the sweep does not try the broker either.
        for delivery in deliveries:
            make_due(delivery)
        assert webhook_deliveries_sweep() == 0
        assert len(attempts) == 1

        # The broker is back and the back-off is over: the sweep hands both over.
        private_redis.start()
        use_broker(private_redis.url)
        clock.now += settings.BROKER_BACKOFF_SECONDS + 1
        for delivery in deliveries:
            make_due(delivery)
        assert webhook_deliveries_sweep() == 2
        assert attempts[1:] == [(str(d.pk), 0) for d in deliveries]
        queued = redis.Redis.from_url(private_redis.url).lrange(queue, 0, -1)
        carried = {json.loads(raw)["headers"]["argsrepr"] for raw in queued}
        assert carried == {repr((str(d.pk), 0)) for d in deliveries}
    finally:
        use_broker(broker_url)
        celery_app.conf.task_always_eager = was_eager
        outbox.broker_backoff_reset()
