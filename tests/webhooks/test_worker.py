"""With a real Celery worker (PostgreSQL + Redis): API message → carrier → status changes →
webhooks on their own queue; a 500 is retried from the schedule in the database, by the sweep,
with the same webhook-id. Skipped without DATABASE_URL=postgres://… and REDIS_URL."""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connection

from artera.celery import app as celery_app
from messaging.services import Api, ToNumber, message_send
from practices.models import Practice
from tests.support import PACING_PREFIX, Answer, Receiver, wait_until
from tests.support.webhooks import PATIENT
from tests.support.workers import CeleryWorker, forget_queue, redis_reachable, worker_database_url
from webhooks.delivery import webhook_deliveries_sweep
from webhooks.models import ApiClient, WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker(settings: Any, tmp_path: Path) -> Iterator[CeleryWorker]:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://… (and REDIS_URL)")
    url = settings.REDIS_URL
    if not url or not redis_reachable(url):
        pytest.skip("needs a reachable Redis: set REDIS_URL=redis://…")
    # One queue of this test's own for both the send path and webhooks: no other worker
    # takes these tasks, and this worker takes no one else's.
    queue = f"artera-webhooks-test-{uuid.uuid4().hex[:10]}"
    settings.WEBHOOK_CELERY_QUEUE = queue
    settings.SMS_CELERY_QUEUE = queue
    celery_app.conf.task_always_eager = False
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "artera.settings",
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": url,
        "CELERY_BROKER_URL": url,
        "SMS_BACKEND": "simulator",
        "SMS_CELERY_QUEUE": queue,
        "SMS_PACING_KEY_PREFIX": PACING_PREFIX,
        "WEBHOOK_CELERY_QUEUE": queue,
        "WEBHOOK_ALLOW_PRIVATE_URLS": "1",
        "WEBHOOK_RETRY_SCHEDULE": "0,0.5,0.5,0.5",
        "WEBHOOK_RETRY_JITTER": "0",
        "LOG_LEVEL": "INFO",
    }
    started = CeleryWorker(name=f"wh-{queue[-6:]}", queue=queue, env=env, beat=False, tmp=tmp_path)
    try:
        yield started.start()
    finally:
        started.stop()
        celery_app.conf.task_always_eager = True
        forget_queue(redis.Redis.from_url(url), queue)


def test_a_real_worker_retries_from_the_database_schedule(
    worker: CeleryWorker, receiver: Receiver, practice: Practice, api_client: ApiClient
) -> None:
    receiver.answer(Answer(500))
    message = message_send(
        to=ToNumber(practice, PATIENT), sender=Api(api_client), body="Hello from the EMR"
    )

    def all_delivered() -> bool:
        webhook_deliveries_sweep()  # what beat does every WEBHOOK_SWEEP_SECONDS
        rows = list(
            WebhookDelivery.objects.filter(message=message).values_list("status", flat=True)
        )
        return len(rows) == 2 and set(rows) == {"delivered"}

    wait_until(all_delivered, timeout=60, interval=0.3, what=f"deliveries\n{worker.log()[-3000:]}")
    by_id: dict[str, list[bytes]] = defaultdict(list)
    for request in receiver.requests:
        by_id[request.headers["webhook-id"]].append(request.body)
    assert sorted(len(bodies) for bodies in by_id.values()) == [1, 2]
    retried = next(bodies for bodies in by_id.values() if len(bodies) == 2)
    assert retried[0] == retried[1]
    statuses = sorted(r.json()["data"]["status"] for r in receiver.requests)
    assert set(statuses) == {"sent", "delivered"}
