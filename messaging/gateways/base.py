"""The interface every SMS provider plugin implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from django.http import HttpRequest

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
    the provider already has the message (so it is not sent twice). Providers that call us back
    over HTTP also implement `verify_request`, `parse_inbound` and `parse_status`; the views at
    their webhook URLs call those and then the one inbound path or status path.
    """

    name: ClassVar[str]

    def send(self, *, message: Message, text: str) -> SendResult:
        raise NotImplementedError

    def find_sent(self, *, message: Message, text: str) -> str | None:
        """The provider's id for `message` if an earlier attempt got it to the provider."""
        raise NotImplementedError

    def verify_request(self, request: HttpRequest) -> bool:
        raise NotImplementedError

    def parse_inbound(self, request: HttpRequest) -> InboundSms:
        raise NotImplementedError

    def parse_status(self, request: HttpRequest) -> StatusReport:
        raise NotImplementedError
