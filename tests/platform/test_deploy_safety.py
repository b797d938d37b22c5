"""The simulator is never a production deployment's carrier by accident: `check --deploy`
reports an error while it is the backend (and is clean with a real one), and behind HTTPS its
pages and JSON API answer 404 unless the operator opted in for a public demo."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from typing import Any

import pytest
from django.test import Client

from tests.support import BASE_DIR

SIMULATOR_URLS = [
    ("get", "/simulator/"),
    ("get", "/simulator/thread/?number=%2B18185550101"),
    ("post", "/simulator/reply/"),
    ("post", "/simulator/number-type/"),
    ("get", "/simulator/api/messages?to=%2B18185550101"),
    ("post", "/simulator/api/inbound"),
    ("post", "/simulator/api/numbers"),
]


def deploy_check(**env: str) -> subprocess.CompletedProcess[str]:
    """`manage.py check --deploy --fail-level WARNING` as an operator runs it, in production
    mode (DJANGO_HTTPS=1 with a real secret key)."""
    environment = {
        **os.environ,
        "DJANGO_HTTPS": "1",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "messaging.example.org",
        "PUBLIC_BASE_URL": "https://messaging.example.org",
        **env,
    }
    for name in (
        "SMS_BACKEND",
        "SMS_SIMULATOR_PUBLIC_DEMO",
        "DJANGO_DEBUG",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    ):
        if name not in env:
            environment.pop(name, None)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR, env=environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_check_deploy_is_an_error_while_the_simulator_is_the_backend() -> None:
    result = deploy_check()  # SMS_BACKEND unset: the simulator is the default
    assert result.returncode != 0
    assert "ERRORS:" in result.stderr
    assert "messaging.E003" in result.stderr
    # Opting in for a public demo does not silence it: the simulator still texts nobody.
    demo = deploy_check(SMS_SIMULATOR_PUBLIC_DEMO="1")
    assert demo.returncode != 0
    assert "messaging.E003" in demo.stderr


def test_check_deploy_is_clean_with_a_real_backend() -> None:
    result = deploy_check(
        SMS_BACKEND="twilio", TWILIO_ACCOUNT_SID="AC" + "0" * 32, TWILIO_AUTH_TOKEN="x" * 32
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "url"), SIMULATOR_URLS)
def test_behind_https_the_simulator_answers_404(
    settings: Any, client: Client, method: str, url: str
) -> None:
    settings.SMS_BACKEND = "simulator"
    settings.HTTPS = True
    response = getattr(client, method)(url, secure=True)
    assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "url"), SIMULATOR_URLS)
def test_a_public_demo_opts_in(settings: Any, client: Client, method: str, url: str) -> None:
    settings.SMS_BACKEND = "simulator"
    settings.HTTPS = True
    settings.SMS_SIMULATOR_PUBLIC_DEMO = True
    response = getattr(client, method)(url, secure=True)
    assert response.status_code != 404


@pytest.mark.django_db
def test_without_https_the_simulator_serves_as_before(settings: Any, client: Client) -> None:
    settings.SMS_BACKEND = "simulator"
    settings.HTTPS = False
    assert client.get("/simulator/").status_code == 200
    assert client.get("/simulator/api/messages", {"to": "+18185550101"}).status_code == 200
