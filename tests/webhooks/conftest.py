"""Fixtures for outbound webhooks: a real HTTP receiver on 127.0.0.1 (a thread running
`http.server`) that answers as each test scripts it, an API client whose webhooks go there, and
helpers that send API messages through the real send path (simulator carrier, tasks in-process).

Private URLs are allowed here (the receiver is on loopback), except in the tests that check the
refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from messaging.models import Message
from messaging.services import Api, Sender, ToNumber, message_send
from practices.models import Practice
from tests.support import Receiver, dns_answers
from tests.support.webhooks import BODY, PATIENT
from webhooks.models import ApiClient


@pytest.fixture(autouse=True)
def _outbound_settings(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 5
    settings.WEBHOOK_RETRY_JITTER = 0.1
    hosts = {"intranet.example.org": ["10.1.2.3"], "emr.example.org": ["93.184.215.14"]}
    with dns_answers(monkeypatch, hosts):
        yield


@pytest.fixture
def webhook_url(receiver: Receiver) -> str:
    return receiver.url


@pytest.fixture
def send(
    practice: Practice,
    api_client: ApiClient,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> Callable[..., Message]:
    """Send an API message through the whole send path (stored, dispatched, reported)."""

    def do(
        *,
        execute: bool = True,
        to: str = PATIENT,
        sender: Sender | None = None,
        body: str = BODY,
        callback_url: str = "",
        metadata: dict[str, Any] | None = None,
    ) -> Message:
        if sender is None:
            sender = Api(
                api_client,
                callback_url=callback_url,
                metadata={"appointment": "A-17"} if metadata is None else metadata,
            )
        kwargs: dict[str, Any] = {"to": ToNumber(practice, to), "sender": sender, "body": body}
        if not execute:
            return message_send(**kwargs)
        with django_capture_on_commit_callbacks(execute=True):
            message = message_send(**kwargs)
        message.refresh_from_db()
        return message

    return do
