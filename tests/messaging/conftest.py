"""Fixtures of the send and inbound paths: the simulator backend on this run's own pacing keys.
Real Celery workers (`sms_worker`, `real_services`) and fast lines (`make_line`) are shared
fixtures (tests/support/fixtures.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from messaging.outbox import broker_backoff_reset
from tests.support import simulated_carrier


@pytest.fixture(autouse=True)
def _send_path_settings(settings: Any) -> Iterator[None]:
    simulated_carrier(settings)
    yield
    broker_backoff_reset()
