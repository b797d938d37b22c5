"""The interface every SMS provider plugin implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

if TYPE_CHECKING:
    from messaging.models import Message


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str


@dataclass(frozen=True)
class InboundSms:
    """A patient's text, as the provider handed it over."""

    from_number: str
    to_number: str
    body: str
    provider_message_id: str


@dataclass(frozen=True)
class StatusReport:
    """A provider's news about one of our messages.

    `status` is one of ours (`MessageStatus`), or None for a provider status that does not move
    ours (e.g. Twilio's `receiving`). `message_id` is our id when the provider echoes it back.
    """

    provider_message_id: str
    status: str | None
    error_code: str = ""
    message_id: str | None = None


class GatewayError(Exception):
    """The provider did not take the message.

    `retryable` errors (the provider or network failing, rate limits) are retried with backoff;
    the others fail the message with `error_code`.
    """

    def __init__(
        self, detail: str, *, error_code: str, retryable: bool, provider_code: str = ""
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.error_code = error_code
        self.retryable = retryable
        self.provider_code = provider_code


class SmsGateway:
    """One SMS provider.

    `send` hands one message over; `find_sent` answers, after a worker died mid-send, whether
    the provider already has the message (so it is not sent twice).

    A provider that calls us back over HTTP owns its callbacks (as RapidPro's channel types do):
    it sets `takes_callbacks`, and the generic views at `/webhooks/sms/<name>/` (inbound texts)
    and `/webhooks/sms/<name>/status/` (status reports) look it up by `name`, ask it to
    `verify_request` (its signature scheme) and to `parse_inbound` / `parse_status` into an
    `InboundSms` / `StatusReport`, hand that to the one inbound path or status path, and answer
    with what the provider expects (`inbound_response`, `status_response`). Parse errors are
    `ApplicationError`s (a plain-text 4xx, nothing stored). A backend that is not in
    `SMS_GATEWAYS`, or takes no callbacks, is a 404 there.
    """

    name: ClassVar[str]
    # Shown in the 403 for a bad signature.
    label: ClassVar[str] = ""
    takes_callbacks: ClassVar[bool] = False

    def send(self, *, message: Message, text: str) -> SendResult:
        raise NotImplementedError

    def send_batch(self, items: Sequence[tuple[Message, str]]) -> list[SendResult | GatewayError]:
        """Hand over several texts whose pacing slots have come, in order; one result per text
        (a refusal is that text's `GatewayError`, the others still go). A provider without a
        batch call sends them one by one."""
        results: list[SendResult | GatewayError] = []
        for message, text in items:
            try:
                results.append(self.send(message=message, text=text))
            except GatewayError as exc:
                results.append(exc)
        return results

    def find_sent(self, *, message: Message, text: str) -> str | None:
        """The provider's id for `message` if an earlier attempt got it to the provider."""
        raise NotImplementedError

    def status_callback_url(self, message: Message) -> str:
        """Where the provider reports on `message`: this backend's status view, with our id in
        the query so a report that beats the provider's answer to our send finds its message."""
        path = reverse("sms-status", kwargs={"backend": self.name})
        return f"{settings.PUBLIC_BASE_URL}{path}?message={message.id}"

    def verify_request(self, request: HttpRequest) -> bool:
        """Whether a callback really comes from the provider (its signature)."""
        raise NotImplementedError

    def parse_inbound(self, request: HttpRequest) -> InboundSms:
        raise NotImplementedError

    def parse_status(self, request: HttpRequest) -> StatusReport:
        raise NotImplementedError

    def inbound_response(self) -> HttpResponse:
        """The answer to an inbound text the platform took (or refused and logged: answering an
        error would only make the provider log or retry it)."""
        return HttpResponse(status=204)

    def status_response(self) -> HttpResponse:
        return HttpResponse(status=204)
