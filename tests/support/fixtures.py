"""Fixtures every test folder may use (a plugin of tests/conftest.py): the enterprise, practice
and line the integration suites start from, a real webhook receiver, API credentials, the
real-services switches (PostgreSQL + Redis + Celery workers), and `run`."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client

from artera.celery import app as celery_app
from practices.models import Enterprise, Line, Practice
from tests.factories import EnterpriseFactory, LineFactory, PracticeFactory
from webhooks.models import ApiClient
from webhooks.services import ApiClientCredentials, api_client_create

from . import PACING_PREFIX, Receiver, make_practice
from .api import ApiCaller, get_token
from .workers import CeleryWorker, PrivateRedis, forget_queue, redis_reachable, worker_database_url


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def enterprise(db: None) -> Enterprise:
    result: Enterprise = EnterpriseFactory(name="Acme Health")
    return result


@pytest.fixture
def practice(enterprise: Enterprise) -> Practice:
    return make_practice(enterprise, "Acme Clinic", location_id="DEP100")


@pytest.fixture
def line(practice: Practice) -> Line:
    return practice.lines.get(is_default=True)


@pytest.fixture
def make_line(db: None) -> Callable[..., Line]:
    """A line of a new practice (or the given one). Fast by default so tests that are not about
    pacing do not wait for it."""

    def make(*, practice: Practice | None = None, rate: str = "1000", **kwargs: Any) -> Line:
        practice = practice or PracticeFactory()
        line: Line = LineFactory(practice=practice, send_rate=Decimal(rate), **kwargs)
        return line

    return make


# --- API credentials ----------------------------------------------------------------------------


@pytest.fixture
def webhook_url() -> str:
    """Where the `api_client`'s webhooks go: nowhere, unless a folder points it at `receiver`."""
    return ""


@pytest.fixture
def credentials(enterprise: Enterprise, webhook_url: str) -> ApiClientCredentials:
    return api_client_create(enterprise=enterprise, name="Epic", webhook_url=webhook_url)


@pytest.fixture
def api_client(credentials: ApiClientCredentials) -> ApiClient:
    return credentials.api_client


@pytest.fixture
def token(credentials: ApiClientCredentials) -> str:
    return get_token(credentials)


@pytest.fixture
def api(token: str) -> ApiCaller:
    return ApiCaller(token=token, client=Client())


@pytest.fixture
def make_api(enterprise: Enterprise) -> Callable[..., tuple[ApiCaller, ApiClientCredentials]]:
    """Another client of the enterprise (or of `enterprise=`), with its own token."""

    def make(**kwargs: Any) -> tuple[ApiCaller, ApiClientCredentials]:
        scope = kwargs.pop("token_scope", None)
        kwargs.setdefault("enterprise", enterprise)
        kwargs.setdefault("name", f"Client {uuid.uuid4().hex[:6]}")
        creds = api_client_create(**kwargs)
        form = {"scope": scope} if scope else {}
        return ApiCaller(token=get_token(creds, **form), client=Client()), creds

    return make


@pytest.fixture
def run(django_capture_on_commit_callbacks: Callable[..., Any]) -> Callable[..., Any]:
    """Run `fn(**kwargs)` and then whatever it enqueued on commit (tasks run in-process)."""

    def do(fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kwargs)

    return do


# --- Real services ------------------------------------------------------------------------------


@pytest.fixture
def real_services(transactional_db: None) -> str:
    """Skip unless the tests run on PostgreSQL with a reachable Redis (REDIS_URL); returns
    the Redis URL."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://… (and REDIS_URL)")
    url = django_settings.REDIS_URL
    if not url:
        pytest.skip("needs Redis and a Celery worker: set REDIS_URL=redis://…")
    if not redis_reachable(url):
        pytest.skip(f"Redis at {url} is not reachable")
    return str(url)


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
            "DATABASE_URL": worker_database_url(),
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
    forget_queue(redis.Redis.from_url(real_services), queue)


@pytest.fixture
def private_redis(real_services: str, tmp_path: Path) -> Iterator[PrivateRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("needs the redis-server binary to start and stop a broker of its own")
    server = PrivateRedis(tmp_path, binary)
    server.start()
    yield server
    server.stop()
