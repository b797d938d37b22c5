"""The `twilio` backend: REST sends with the `twilio` package, signed callbacks.

Status callbacks carry our message id in their URL (`?message=<id>`), so a callback that beats
Twilio's answer to our send (it happens) still finds its message. Every HTTP exchange with
Twilio is logged on one line, without the auth token, numbers or text.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from twilio.base.exceptions import TwilioRestException  # type: ignore[import-untyped]
from twilio.http.http_client import TwilioHttpClient  # type: ignore[import-untyped]
from twilio.http.response import Response  # type: ignore[import-untyped]
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]
from twilio.rest import Client  # type: ignore[import-untyped]

from artera.errors import InvalidInput
from artera.jsonbody import BAD_CHARACTERS, text_is_storable
from messaging.models import ErrorCode, Message, MessageStatus

from .base import GatewayError, InboundSms, SendResult, SmsGateway, StatusReport

logger = logging.getLogger(__name__)

# Twilio error codes (https://www.twilio.com/docs/api/errors) that name a reason we report.
TWILIO_ERROR_CODES: dict[int, str] = {
    30006: ErrorCode.LANDLINE,  # landline or unreachable carrier
    21614: ErrorCode.INVALID_NUMBER,  # 'To' is not a valid mobile number
    21211: ErrorCode.INVALID_NUMBER,  # invalid 'To' phone number
    30003: ErrorCode.UNREACHABLE,  # unreachable destination handset
    30005: ErrorCode.UNREACHABLE,  # unknown destination handset
    30007: ErrorCode.CARRIER_REJECTED,  # message filtered by the carrier
    21610: ErrorCode.OPTED_OUT,  # the recipient replied STOP to this sender
}
# Twilio's message statuses, in ours. None: not a step of ours (not sent yet, or inbound).
TWILIO_STATUSES: dict[str, str | None] = {
    "accepted": MessageStatus.SENT,
    "queued": MessageStatus.SENT,
    "sending": MessageStatus.SENT,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
    "scheduled": None,
    "receiving": None,
    "received": None,
}
# What the message table holds of a provider's id (Twilio's SIDs are 34 characters).
PROVIDER_ID_MAX_LENGTH: int = Message._meta.get_field("provider_message_id").max_length or 64
# HTTP statuses worth retrying: Twilio's own trouble and its rate limiting.
_RETRYABLE_HTTP = frozenset({429, 500, 502, 503, 504})
_ACCOUNT_SID_RE = re.compile(r"/Accounts/AC[0-9a-fA-F]{4}[0-9a-fA-F]*")


def error_code_from_twilio(code: int | str | None) -> str:
    """Our error code for a Twilio error code (anything unlisted is `provider_error`)."""
    try:
        return TWILIO_ERROR_CODES.get(int(code or 0), ErrorCode.PROVIDER_ERROR)
    except (TypeError, ValueError):
        return ErrorCode.PROVIDER_ERROR


def status_from_twilio(status: str) -> str | None:
    return TWILIO_STATUSES.get((status or "").strip().lower())


class LoggedTwilioHttpClient(TwilioHttpClient):
    """Twilio's HTTP client, optionally pointed at another base URL, logging each exchange on
    one redacted line (method, path with the account SID shortened, status, duration)."""

    def __init__(self, *, base_url: str = "", timeout: float | None = None) -> None:
        super().__init__(timeout=timeout)
        self._base_url = base_url.rstrip("/")

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if self._base_url:
            parts = urlsplit(url)
            url = self._base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        path = _ACCOUNT_SID_RE.sub(lambda m: m.group(0)[:16] + "…", urlsplit(url).path)
        started = time.monotonic()
        try:
            response = super().request(
                method, url, params, data, headers, auth, timeout, allow_redirects
            )
        except requests.RequestException as exc:
            logger.warning(
                "twilio %s %s failed after %d ms: %s",
                method,
                path,
                (time.monotonic() - started) * 1000,
                type(exc).__name__,
            )
            raise
        logger.info(
            "twilio %s %s -> %s in %d ms",
            method,
            path,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        return response

    def log_request(self, kwargs: dict[str, Any]) -> None:
        """Twilio's own logging prints numbers and query strings: replaced by the line above."""

    def log_response(self, status_code: int, response: Any) -> None:
        """See `log_request`."""


# What Twilio expects in answer to an inbound text: TwiML that sends no reply.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class TwilioGateway(SmsGateway):
    """Callbacks at `/webhooks/sms/twilio/` (set as each number's "A message comes in" webhook)
    and `/webhooks/sms/twilio/status/` (asked for by every send)."""

    name = "twilio"
    label = "Twilio"
    takes_callbacks = True

    def __init__(self) -> None:
        self.account_sid: str = settings.TWILIO_ACCOUNT_SID
        self.auth_token: str = settings.TWILIO_AUTH_TOKEN
        self._client: Client | None = None

    def client(self) -> Client:
        if self._client is None:
            self._client = Client(
                self.account_sid,
                self.auth_token,
                http_client=LoggedTwilioHttpClient(
                    base_url=settings.TWILIO_API_BASE_URL, timeout=settings.TWILIO_HTTP_TIMEOUT
                ),
            )
        return self._client

    def send(self, *, message: Message, text: str) -> SendResult:
        try:
            created = self.client().messages.create(
                to=message.to_number,
                from_=message.from_number,
                body=text,
                status_callback=self.status_callback_url(message),
            )
        except TwilioRestException as exc:
            raise _gateway_error(exc) from exc
        except requests.RequestException as exc:
            # The request may or may not have reached Twilio: retried, after `find_sent`.
            raise GatewayError(
                f"Twilio unreachable: {type(exc).__name__}",
                error_code=ErrorCode.PROVIDER_ERROR,
                retryable=True,
            ) from exc
        return SendResult(provider_message_id=str(created.sid))

    def find_sent(self, *, message: Message, text: str) -> str | None:
        """Twilio takes no client reference, so look for a message from our line to this number
        with this text, created since we stored ours, whose SID no other message of ours has."""
        try:
            candidates = [
                found
                for found in self.client().messages.list(
                    to=message.to_number, from_=message.from_number, limit=50
                )
                if found.body == text
                and (found.direction or "").startswith("outbound")
                and found.date_created is not None
                and found.date_created >= message.created_at.replace(microsecond=0)
            ]
        except (TwilioRestException, requests.RequestException) as exc:
            raise GatewayError(
                "Could not ask Twilio about an earlier attempt",
                error_code=ErrorCode.PROVIDER_ERROR,
                retryable=True,
            ) from exc
        if not candidates:
            return None
        taken = set(
            Message.objects.filter(
                direction=Message.Direction.OUTBOUND,
                provider_message_id__in=[str(found.sid) for found in candidates],
            ).values_list("provider_message_id", flat=True)
        )
        free = [found for found in candidates if str(found.sid) not in taken]
        return str(min(free, key=lambda found: found.date_created).sid) if free else None

    def verify_request(self, request: HttpRequest) -> bool:
        """Check `X-Twilio-Signature` against the URL Twilio was given: PUBLIC_BASE_URL + the
        path and query string of this request (the server may sit behind a proxy)."""
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not self.auth_token:
            return False
        url = settings.PUBLIC_BASE_URL + request.get_full_path()
        return bool(RequestValidator(self.auth_token).validate(url, request.POST, signature))

    def parse_inbound(self, request: HttpRequest) -> InboundSms:
        _refuse_unstorable(request)
        sid = request.POST.get("MessageSid") or request.POST.get("SmsMessageSid") or ""
        _check_sid(sid)
        for field, value in (("MessageSid", sid), ("From", request.POST.get("From"))):
            if not value:
                raise InvalidInput(f"{field} is missing.", code="required", field=field)
        return InboundSms(
            from_number=request.POST["From"],
            to_number=request.POST.get("To", ""),
            body=request.POST.get("Body", ""),
            provider_message_id=sid,
        )

    def parse_status(self, request: HttpRequest) -> StatusReport:
        _refuse_unstorable(request)
        sid = request.POST.get("MessageSid") or request.POST.get("SmsSid") or ""
        twilio_status = request.POST.get("MessageStatus") or request.POST.get("SmsStatus") or ""
        if not sid or not twilio_status:
            raise InvalidInput("MessageSid and MessageStatus are required.", code="required")
        _check_sid(sid)
        status = status_from_twilio(twilio_status)
        error_code = ""
        if status in (MessageStatus.UNDELIVERED, MessageStatus.FAILED):
            error_code = error_code_from_twilio(request.POST.get("ErrorCode"))
        return StatusReport(
            provider_message_id=sid,
            status=status,
            error_code=error_code,
            message_id=request.GET.get("message") or None,
        )

    def inbound_response(self) -> HttpResponse:
        return HttpResponse(EMPTY_TWIML, content_type="text/xml")


def _refuse_unstorable(request: HttpRequest) -> None:
    """Twilio never sends a NUL character; a callback that has one is refused before anything
    is stored (PostgreSQL could not store it)."""
    for source in (request.GET, request.POST):
        for key, values in source.lists():
            if not all(text_is_storable(text) for text in (key, *values)):
                raise InvalidInput(BAD_CHARACTERS, code="invalid_characters", field=key)


def _check_sid(sid: str) -> None:
    if len(sid) > PROVIDER_ID_MAX_LENGTH:
        raise InvalidInput(
            f"MessageSid may be at most {PROVIDER_ID_MAX_LENGTH} characters.",
            code="too_long",
            field="MessageSid",
        )


def _gateway_error(exc: TwilioRestException) -> GatewayError:
    retryable = exc.status in _RETRYABLE_HTTP or exc.code == 20429
    return GatewayError(
        f"Twilio answered {exc.status}: {exc.msg}",
        error_code=ErrorCode.PROVIDER_ERROR if retryable else error_code_from_twilio(exc.code),
        retryable=retryable,
        provider_code=str(exc.code or exc.status),
    )
