"""A deployment started the way DESIGN.md and the README say: gunicorn serving
`artera.wsgi:application`, `celery -A artera worker` with no `-Q`, and `celery -A artera beat`,
on the test's PostgreSQL database and Redis. Skipped without DATABASE_URL=postgres://… and
REDIS_URL.

Each deployment gets queue names, pacing and rate-limit keys of its own (through the same
environment variables an operator would set), so it never takes another run's work.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connection

from artera.celery import app as celery_app
from messaging.outbox import broker_backoff_reset
from tests.support import PACING_PREFIX, ServiceProcess, free_port
from tests.support.deploy import Deployment
from tests.support.workers import (
    CeleryWorker,
    forget_queue,
    redis_reachable,
    worker_database_url,
)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback, built here)
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except OSError:
        return False


@pytest.fixture
def deployment(settings: Any, tmp_path: Path, transactional_db: None) -> Iterator[Deployment]:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://… (and REDIS_URL)")
    redis_url = settings.REDIS_URL
    if not redis_url or not redis_reachable(redis_url):
        pytest.skip("needs a reachable Redis: set REDIS_URL=redis://…")
    run = uuid.uuid4().hex[:8]
    queues = (f"deploy-{run}-sms", f"deploy-{run}-webhooks", f"deploy-{run}-default")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "artera.settings",
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "SMS_BACKEND": "simulator",
        "SMS_CELERY_QUEUE": queues[0],
        "WEBHOOK_CELERY_QUEUE": queues[1],
        "DEFAULT_CELERY_QUEUE": queues[2],
        "SMS_PACING_KEY_PREFIX": PACING_PREFIX,
        "API_RATE_LIMIT_KEY_PREFIX": f"artera-test:{run}:ratelimit",
        "PUBLIC_BASE_URL": base_url,
        # The integrator's receiver is a local test server.
        "WEBHOOK_ALLOW_PRIVATE_URLS": "1",
        # Sweeps often and soon, so a test sees the periodic jobs at work within seconds.
        "SMS_OUTBOX_SWEEP_SECONDS": "1",
        "SMS_OUTBOX_GRACE_SECONDS": "1",
        "WEBHOOK_SWEEP_SECONDS": "1",
        "LOG_LEVEL": "INFO",
    }
    # The test process is one more web node of the same deployment.
    settings.SMS_CELERY_QUEUE, settings.WEBHOOK_CELERY_QUEUE = queues[0], queues[1]
    settings.SMS_PACING_KEY_PREFIX = PACING_PREFIX
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.SMS_OUTBOX_GRACE_SECONDS = 1.0
    celery_app.conf.task_always_eager = False
    bin_dir = Path(sys.executable).parent
    web = ServiceProcess(
        name=f"gunicorn-{run}",
        command=[
            str(bin_dir / "gunicorn"),
            "artera.wsgi:application",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
        ],
        env=env,
        tmp=tmp_path,
        ready_check=lambda: _answers(f"{base_url}/accounts/login/"),
    )
    worker = CeleryWorker(name=f"worker-{run}", queue=None, env=env, beat=False, tmp=tmp_path)
    beat = ServiceProcess(
        name=f"beat-{run}",
        command=[
            sys.executable,
            "-m",
            "celery",
            "-A",
            "artera",
            "beat",
            "-s",
            str(tmp_path / "beat-schedule"),
            "-l",
            "INFO",
        ],
        env=env,
        tmp=tmp_path,
        ready="beat: Starting...",
    )
    started: list[ServiceProcess] = []
    try:
        for process in (web, worker, beat):
            process.start()
            started.append(process)
        yield Deployment(base_url=base_url, web=web, worker=worker, beat=beat, queues=queues)
    finally:
        for process in reversed(started):
            process.stop()
        celery_app.conf.task_always_eager = True
        broker_backoff_reset()
        client = redis.Redis.from_url(redis_url)
        for queue in queues:
            forget_queue(client, queue)
