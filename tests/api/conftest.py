"""Fixtures for the integrator API: its settings (the simulated carrier, limits of its own, no
private webhook URLs) and a fake DNS, and another enterprise's practice. The API client, its
token and the JSON caller are shared fixtures (tests/support/fixtures.py).

Tasks run in-process (even when REDIS_URL names a broker), so a text that is committed reaches
the simulated carrier before the request returns.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from practices.models import Practice
from tests.factories import EnterpriseFactory
from tests.support import dns_answers, make_practice, own_rate_limits
from tests.support.api import PRIVATE_HOSTS, PUBLIC_HOSTS


@pytest.fixture(autouse=True)
def _api_test_settings(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    own_rate_limits(settings)
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    settings.TRUSTED_PROXY_COUNT = 0
    settings.API_TOKEN_RATE_LIMIT_PER_SECOND = 1000
    settings.API_TOKEN_RATE_LIMIT_BURST = 1000
    hosts = {**PUBLIC_HOSTS, **PRIVATE_HOSTS, "localhost": ["127.0.0.1", "::1"]}
    with dns_answers(monkeypatch, hosts):
        yield


@pytest.fixture
def foreign_practice(db: None) -> Practice:
    """Another enterprise's practice: invisible to Acme's clients."""
    return make_practice(EnterpriseFactory(name="Other Health"), "Other Clinic", "DEP100")
