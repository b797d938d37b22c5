"""Shared fixtures: two practices in one enterprise, a third in another, and the people every
permission test needs (staff of A, manager of A, staff of B)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery._state import _set_task_join_will_block

from artera.celery import app as celery_app
from messaging.outbox import broker_backoff_reset
from practices.models import Membership, Practice
from webhooks.api.authentication import token_cache

from .factories import LineFactory, MembershipFactory, PracticeFactory, UserFactory
from .support import simulated_carrier

# Shared helpers and the enterprise/practice/line/receiver fixtures of the integration suites.
pytest_plugins = ["tests.support.fixtures"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps calling home, and this network refuses it.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        # Playwright's sync API runs an event loop in the test thread; the ORM must still work.
        os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        return
    skip = pytest.mark.skip(reason="browser tests need Debian's chromium at /usr/bin/chromium")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's browser is Debian's Chromium: Playwright cannot download its own."""
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture(autouse=True)
def _tasks_run_in_process() -> Iterator[None]:
    """Tasks run eagerly in every test, even when REDIS_URL names a broker (as in CI).

    Tests about the worker itself (`sms_worker`, `real_services`) start real Celery workers and
    switch this off explicitly; nothing else may leave work queued in a broker.
    """
    was_eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = was_eager
    # An eager `delay()` flips a process-wide "inside a task" flag and puts the old value back;
    # threads doing it at once (the inbound concurrency tests) can leave it set, and a later
    # test's `result.get()` would then refuse to run. celery.contrib.testing resets it the same way.
    _set_task_join_will_block(False)


@pytest.fixture(autouse=True)
def _simulated_carrier(settings: Any) -> Iterator[None]:
    """Every test's texts go to the simulator, which answers at once, on this run's own pacing
    keys; no broker back-off outlives the test that caused it."""
    simulated_carrier(settings)
    yield
    broker_backoff_reset()


@pytest.fixture(autouse=True)
def _no_remembered_tokens() -> None:
    """A rolled-back test deletes its tokens without a signal: forget what the API remembered."""
    token_cache().forget_all()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:  # type: ignore[no-untyped-def]
    # PBKDF2's deliberate slowness protects real passwords; tests only need a working hash.
    # OAuth client secrets keep their own (already fast) hasher: DOT must recognise it.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "artera.secrets.ClientSecretHasher",
    ]


@pytest.fixture
def practice_a(db: None) -> Practice:
    practice = PracticeFactory(name="Practice A")
    LineFactory(practice=practice, name="A main")
    return practice


@pytest.fixture
def practice_b(db: None) -> Practice:
    """Another enterprise's practice: nothing of A may ever show up for B's people."""
    practice = PracticeFactory(name="Practice B")
    LineFactory(practice=practice, name="B main")
    return practice


@pytest.fixture
def staff_a(practice_a: Practice):  # type: ignore[no-untyped-def]
    return MembershipFactory(
        user__username="staff_a", practice=practice_a, role=Membership.Role.STAFF
    ).user


@pytest.fixture
def manager_a(practice_a: Practice):  # type: ignore[no-untyped-def]
    return MembershipFactory(
        user__username="manager_a", practice=practice_a, role=Membership.Role.MANAGER
    ).user


@pytest.fixture
def staff_b(practice_b: Practice):  # type: ignore[no-untyped-def]
    return MembershipFactory(
        user__username="staff_b", practice=practice_b, role=Membership.Role.STAFF
    ).user


@pytest.fixture
def superuser(db: None):  # type: ignore[no-untyped-def]
    return UserFactory(username="root", is_staff=True, is_superuser=True)
