"""Fixtures for secure messaging: a verified patient with a phone, secure messages sent through
the one send path (simulator carrier, tasks in-process), and a portal visitor (a browser-like
test client) that walks the portal's steps.

The API client's webhooks go to a real loopback receiver (tests/outbound_webhooks), so private
URLs are allowed here.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from channels_app.models import Patient, PatientChannel
from messaging.models import Message, SecureLink, SimulatorText
from messaging.services import Api, ToNumber, message_send
from practices.models import Enterprise, Practice
from tests.factories import PatientFactory, PatientPhoneFactory
from tests.support import Receiver, dns_answers, simulated_carrier
from webhooks.models import ApiClient
from webhooks.services import ApiClientCredentials, api_client_create

PHONE = "+18185550142"
DOB = datetime.date(1961, 7, 23)
SECRET_TEXT = "Your biopsy result: benign. Dr. Patel will call you Tuesday."
LINK_RE = re.compile(r"https?://\S+/secure/(?P<token>[A-Za-z0-9_-]+)/")


@pytest.fixture(autouse=True)
def _secure_settings(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    simulated_carrier(settings)
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
def credentials(enterprise: Enterprise, receiver: Receiver) -> ApiClientCredentials:
    return api_client_create(enterprise=enterprise, name="Epic", webhook_url=receiver.url)


@pytest.fixture
def api_client(credentials: ApiClientCredentials) -> ApiClient:
    return credentials.api_client


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


def carried_to(number: str = PHONE) -> list[str]:
    """Every text the simulated carrier carried to `number`, oldest first."""
    return list(
        SimulatorText.objects.filter(to_number=number)
        .order_by("created_at", "id")
        .values_list("body", flat=True)
    )


def token_in(text: str) -> str:
    match = LINK_RE.search(text)
    assert match, text
    return match.group("token")


def link_token(message: Message) -> str:
    """The token of the link the carrier carried for `message`."""
    texts = SimulatorText.objects.filter(client_reference=str(message.pk)).values_list(
        "body", flat=True
    )
    return token_in(texts.get())


def age(link: SecureLink, **delta: float) -> None:
    """Make the link as old as `delta` (the portal judges ages from created_at)."""
    SecureLink.objects.filter(pk=link.pk).update(
        created_at=timezone.now() - datetime.timedelta(**delta)
    )


@dataclass
class Visitor:
    """A patient's phone browser on the portal."""

    token: str
    client: Client
    capture: Callable[..., Any]

    @property
    def base(self) -> str:
        return f"/secure/{self.token}/"

    def open(self) -> Any:
        return self.client.get(self.base, follow=True)

    def _form(self, data: dict[str, str] | None = None) -> dict[str, str]:
        """Form data with the CSRF token a browser would have from the page (CSRF is enforced
        in these tests)."""
        if "csrftoken" not in self.client.cookies:
            self.client.get(self.base)
        if "csrftoken" not in self.client.cookies:  # the page had no form (e.g. locked)
            self.client.cookies["csrftoken"] = "a" * 32
        return {**(data or {}), "csrfmiddlewaretoken": self.client.cookies["csrftoken"].value}

    def dob(self, date: datetime.date | None = None, **fields: str) -> Any:
        date = date or DOB
        data = {"month": str(date.month), "day": str(date.day), "year": str(date.year)}
        data.update(fields)
        with self.capture(execute=True):
            return self.client.post(self.base, self._form(data), follow=True)

    def code(self, code: str) -> Any:
        return self.client.post(self.base + "code/", self._form({"code": code}), follow=True)

    def resend(self) -> Any:
        with self.capture(execute=True):
            return self.client.post(self.base + "code/resend/", self._form(), follow=True)

    def thread(self) -> Any:
        return self.client.get(self.base + "thread/", follow=True)

    def reply(self, body: str, reply_key: str | None = None) -> Any:
        with self.capture(execute=True):
            return self.client.post(
                self.base + "thread/",
                self._form({"body": body, "reply_key": reply_key or str(uuid.uuid4())}),
                follow=True,
            )


@pytest.fixture
def visitor(django_capture_on_commit_callbacks: Callable[..., Any]) -> Callable[[str], Visitor]:
    def make(token: str) -> Visitor:
        return Visitor(
            token=token,
            client=Client(enforce_csrf_checks=True, HTTP_USER_AGENT="PhoneBrowser/1.0"),
            capture=django_capture_on_commit_callbacks,
        )

    return make


def channel_of(message: Message) -> PatientChannel:
    return PatientChannel.objects.get(pk=message.channel_id)


@pytest.fixture
def run(django_capture_on_commit_callbacks: Callable[..., Any]) -> Callable[..., Any]:
    """Run `fn(**kwargs)` and then whatever it enqueued on commit (tasks run in-process)."""

    def do(fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kwargs)

    return do
