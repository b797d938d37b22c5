"""Fixtures for the send path: eager tasks by default, and real Celery workers (subprocesses on
PostgreSQL + Redis) for the tests that need one.

A worker gets its own queue name, so it never takes another test's (or another project's)
tasks, and the test database's name, so it sees what the test committed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection

from artera.celery import app as celery_app
from messaging.outbox import broker_backoff_reset
from practices.models import Line, Practice
from tests.factories import LineFactory, PracticeFactory
from tests.support import ServiceProcess, wait_until

# One pacing namespace per test run, so runs sharing a Redis never share a line's slots.
PACING_PREFIX = f"artera-test:{uuid.uuid4().hex[:8]}:pacing"


@pytest.fixture(autouse=True)
def _send_path_settings(settings: Any) -> Iterator[None]:
    """The simulator backend, tasks in-process, and this run's own pacing keys."""
    settings.SMS_BACKEND = "simulator"
    settings.SMS_PACING_KEY_PREFIX = PACING_PREFIX
    settings.SMS_SIMULATOR_LATENCY = 0.0
    settings.SMS_SIMULATOR_REPORT_DELAY = 0.0
    was_eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    broker_backoff_reset()
    yield
    celery_app.conf.task_always_eager = was_eager
    broker_backoff_reset()


@pytest.fixture
def make_line(db: None) -> Callable[..., Line]:
    """A line of a new practice (or the given one). Fast by default so tests that are not about
    pacing do not wait for it."""

    def make(*, practice: Practice | None = None, rate: str = "1000", **kwargs: Any) -> Line:
        practice = practice or PracticeFactory()
        line: Line = LineFactory(practice=practice, send_rate=Decimal(rate), **kwargs)
        return line

    return make


@pytest.fixture
def line(make_line: Callable[..., Line]) -> Line:
    return make_line()


# --- Real services ------------------------------------------------------------------------------


def use_broker(url: str | None) -> None:
    """Point this process's Celery app at another broker. Celery has no public way to do this
    at runtime: forget its cached connection and producer pools (kombu keeps one per broker
    URL, so switching back finds the old ones intact) and the next publish uses the new URL."""
    celery_app.conf.broker_url = url
    celery_app.conf.broker_write_url = None
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def _redis_reachable(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def real_services(transactional_db: None) -> str:
    """Skip unless the tests run on PostgreSQL with a reachable Redis (REDIS_URL); returns
    the Redis URL."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://… (and REDIS_URL)")
    url = django_settings.REDIS_URL
    if not url:
        pytest.skip("needs Redis and a Celery worker: set REDIS_URL=redis://…")
    if not _redis_reachable(url):
        pytest.skip(f"Redis at {url} is not reachable")
    return str(url)


def _test_database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{db['NAME']}"


class CeleryWorker(ServiceProcess):
    """`celery -A artera worker` as a subprocess group: started, frozen, killed, stopped.

    `queue=None` starts it exactly as a deployment does, with no `-Q`: it consumes every queue
    of the settings (whose names the env may give)."""

    def __init__(self, *, name: str, queue: str | None, env: dict[str, str], beat: bool, tmp: Path):
        self.queue = queue
        command = [
            sys.executable, "-m", "celery", "-A", "artera", "worker",
            "-n", f"{name}@%h", "-P", "prefork", "-c", "2",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO",
        ]  # fmt: skip
        if queue is not None:
            command += ["-Q", queue]
        if beat:
            command += ["-B", "-s", str(tmp / f"{name}-beat-schedule")]
        super().__init__(name=name, command=command, env=env, tmp=tmp, ready=" ready.")


@pytest.fixture
def sms_worker(
    real_services: str, settings: Any, tmp_path: Path
) -> Iterator[Callable[..., CeleryWorker]]:
    """Start real Celery workers on a queue of this test's own; the test process publishes to
    it. `sms_worker(beat=True, broker_url=…, **env)` → a started `CeleryWorker`."""
    queue = f"artera-sms-test-{uuid.uuid4().hex[:10]}"
    settings.SMS_CELERY_QUEUE = queue
    celery_app.conf.task_always_eager = False
    workers: list[CeleryWorker] = []

    def start(*, beat: bool = False, broker_url: str | None = None, **env: str) -> CeleryWorker:
        # The test process runs the web side of the same deployment: same send-path settings.
        for key, value in env.items():
            current = getattr(django_settings, key, None)
            if key.startswith("SMS_") and isinstance(current, int | float):
                setattr(settings, key, type(current)(value))
        worker_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "artera.settings",
            "DATABASE_URL": _test_database_url(),
            "REDIS_URL": real_services,
            "CELERY_BROKER_URL": broker_url or real_services,
            "SMS_BACKEND": "simulator",
            "SMS_CELERY_QUEUE": queue,
            "SMS_PACING_KEY_PREFIX": PACING_PREFIX,
            "LOG_LEVEL": "INFO",
            **{key: str(value) for key, value in env.items()},
        }
        worker = CeleryWorker(
            name=f"w{len(workers)}-{queue[-6:]}",
            queue=queue,
            env=worker_env,
            beat=beat,
            tmp=tmp_path,
        )
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.stop()
    _forget_queue(redis.Redis.from_url(real_services), queue)


def _forget_queue(client: redis.Redis, queue: str) -> None:
    """Leave nothing of a test queue in the shared Redis: the queue, kombu's bindings for it,
    and the unacknowledged deliveries a killed worker left (kombu would put those back on the
    queue after the visibility timeout)."""
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    for tag, payload in client.hgetall("unacked").items():
        try:
            routing_key = json.loads(payload)[2]
        except (ValueError, IndexError, TypeError):
            continue
        if routing_key == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


class PrivateRedis:
    """A redis-server of the test's own, so the test may stop it (the shared one is not ours)."""

    def __init__(self, tmp: Path, binary: str):
        self.binary = binary
        self.port = _free_port()
        self.tmp = tmp
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: _redis_reachable(self.url), timeout=20, what="private redis")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def private_redis(real_services: str, tmp_path: Path) -> Iterator[PrivateRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("needs the redis-server binary to start and stop a broker of its own")
    server = PrivateRedis(tmp_path, binary)
    server.start()
    yield server
    server.stop()
