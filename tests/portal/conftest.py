"""Fixtures for secure messaging: a verified patient with a phone, secure messages sent through
the one send path (simulator carrier, tasks in-process), and a portal visitor (a browser-like
test client) that walks the portal's steps.

The API client's webhooks go to a real loopback receiver (tests/webhooks), so private
URLs are allowed here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from channels_app.models import Patient
from messaging.models import Message
from messaging.services import Api, ToNumber, message_send
from practices.models import Enterprise, Practice
from tests.factories import PatientFactory, PatientPhoneFactory
from tests.support import Receiver, dns_answers
from tests.support.portal import DOB, PHONE, SECRET_TEXT, Visitor
from webhooks.models import ApiClient


@pytest.fixture(autouse=True)
def _secure_settings(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 5
    settings.SECURE_LINK_TTL_DAYS = 7
    settings.SECURE_LINK_CODE_AFTER_HOURS = 24
    settings.SECURE_LINK_MAX_FAILURES = 5
    settings.SECURE_LINK_LOCKOUT_MINUTES = 15
    settings.SECURE_CODE_TTL_MINUTES = 10
    settings.SECURE_CODE_RESEND_SECONDS = 60
    settings.SECURE_PORTAL_IDLE_MINUTES = 15
    with dns_answers(monkeypatch):
        yield


@pytest.fixture
def patient(enterprise: Enterprise) -> Patient:
    result: Patient = PatientFactory(
        enterprise=enterprise,
        mrn="MRN-4242",
        first_name="Rosa",
        last_name="Diaz",
        date_of_birth=DOB,
    )
    PatientPhoneFactory(patient=result, number=PHONE)
    return result


@pytest.fixture
def webhook_url(receiver: Receiver) -> str:
    return receiver.url


@pytest.fixture
def send_secure(
    practice: Practice,
    patient: Patient,
    api_client: ApiClient,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> Callable[..., Message]:
    """A secure message from the API client through the whole send path (stored, handed to
    the carrier, reported delivered)."""

    def do(
        *, practice: Practice = practice, body: str = SECRET_TEXT, secure: bool = True
    ) -> Message:
        with django_capture_on_commit_callbacks(execute=True):
            message = message_send(
                to=ToNumber(practice, PHONE, patient=patient),
                sender=Api(api_client),
                body=body,
                secure=secure,
            )
        message.refresh_from_db()
        return message

    return do


@pytest.fixture
def visitor(django_capture_on_commit_callbacks: Callable[..., Any]) -> Callable[[str], Visitor]:
    def make(token: str) -> Visitor:
        return Visitor(
            token=token,
            client=Client(enforce_csrf_checks=True, HTTP_USER_AGENT="PhoneBrowser/1.0"),
            capture=django_capture_on_commit_callbacks,
        )

    return make
