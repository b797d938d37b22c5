"""Helpers of the secure portal's tests: the patient, the texts the carrier carried, the
link's token, and a patient's phone browser (`Visitor`) walking the portal's steps."""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.test import Client
from django.utils import timezone

from channels_app.models import PatientChannel
from messaging.models import Message, SecureLink, SimulatorText

PHONE = "+18185550142"
DOB = datetime.date(1961, 7, 23)
SECRET_TEXT = "Your biopsy result: benign. Dr. Patel will call you Tuesday."
LINK_RE = re.compile(r"https?://\S+/secure/(?P<token>[A-Za-z0-9_-]+)/")


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


def channel_of(message: Message) -> PatientChannel:
    return PatientChannel.objects.get(pk=message.channel_id)
