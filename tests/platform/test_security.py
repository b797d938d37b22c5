"""The security baseline: headers, deploy check, idle session expiry, sign-in lockout."""

from __future__ import annotations

import datetime
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from tests.factories import TEST_PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def _login(client: Client, username: str, password: str, ip: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_pages_send_security_headers(db: None) -> None:
    response = Client().get("/accounts/login/")

    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base_env, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_deploy_check_is_clean_behind_https_with_a_real_secret() -> None:
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_HTTPS="1",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        # With the simulator as the backend the check is an error (test_deploy_safety.py).
        SMS_BACKEND="twilio",
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN="placeholder",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_with_the_development_secret() -> None:
    result = _manage("check", DJANGO_HTTPS="1")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_session_expires_after_15_idle_minutes(staff_a) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    assert _login(client, "staff_a", TEST_PASSWORD).status_code == 302
    session = Session.objects.get()
    idle = session.expire_date - timezone.now()
    assert datetime.timedelta(minutes=14) < idle <= datetime.timedelta(minutes=15)

    # Simulate 15 minutes without a request: the next request must sign in again.
    Session.objects.update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    response = client.get("/inbox/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_activity_pushes_the_idle_expiry_forward(staff_a) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    _login(client, "staff_a", TEST_PASSWORD)
    Session.objects.update(expire_date=timezone.now() + datetime.timedelta(minutes=1))

    assert client.get("/inbox/").status_code == 200

    remaining = Session.objects.get().expire_date - timezone.now()
    assert remaining > datetime.timedelta(minutes=14)


def test_sign_in_is_locked_per_username_and_ip_after_repeated_failures(staff_a) -> None:  # type: ignore[no-untyped-def]
    attacker = Client()
    for _ in range(5):
        response = _login(attacker, "staff_a", "wrong-password", ip="203.0.113.9")
    assert response.status_code in (403, 429)

    # Even the right password is refused from the attacker's address during the cool-off...
    locked = _login(attacker, "staff_a", TEST_PASSWORD, ip="203.0.113.9")
    assert locked.status_code in (403, 429)
    assert b"Too many sign-in attempts" in locked.content
    # ...while the real user, elsewhere, can still sign in.
    assert _login(Client(), "staff_a", TEST_PASSWORD, ip="198.51.100.7").status_code == 302


def test_lockout_ends_after_the_cool_off(staff_a) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    for _ in range(5):
        _login(client, "staff_a", "wrong-password", ip="203.0.113.9")
    assert _login(client, "staff_a", TEST_PASSWORD, ip="203.0.113.9").status_code in (403, 429)

    AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=16))

    assert _login(client, "staff_a", TEST_PASSWORD, ip="203.0.113.9").status_code == 302


@pytest.mark.parametrize("path", ["/inbox/", "/"])
def test_anonymous_users_are_sent_to_sign_in(db: None, path: str) -> None:
    response = Client().get(path, follow=True)

    assert response.redirect_chain[-1][0].startswith("/accounts/login/")
    assert b"Sign in to your inbox" in response.content


def test_sign_out_requires_post(staff_a) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(staff_a)

    assert client.get("/accounts/logout/").status_code == 405
    signed_out = client.post("/accounts/logout/")
    assert signed_out.status_code == 302
    assert signed_out["Location"] == "/accounts/login/"
    assert client.get("/inbox/").status_code == 302
