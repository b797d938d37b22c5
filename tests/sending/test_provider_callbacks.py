"""Providers own their callbacks: `/webhooks/sms/<backend>/` and `…/status/` find the gateway
plugin by name, let it verify and parse the request, and hand the result to the one inbound path
or status path. A provider added to `SMS_GATEWAYS` gets its callback URLs with no view or URL of
its own; an unknown backend, or one that takes no callbacks, is a 404."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings as django_settings
from django.http import HttpRequest
from django.test import Client

from artera.errors import InvalidInput
from messaging.gateways import InboundSms, SmsGateway, StatusReport, gateway_get
from messaging.models import Message, MessageStatus
from practices.models import Line
from tests.factories import MessageFactory, PatientChannelFactory

if TYPE_CHECKING:
    from messaging.gateways import SendResult

pytestmark = pytest.mark.django_db

SECRET = "acme-shared-secret"
PUBLIC = "https://artera.example.org"


class AcmeGateway(SmsGateway):
    """A made-up provider: JSON callbacks signed with an HMAC of the body in `X-Acme-Signature`,
    answered with `{"ok": true}`."""

    name = "acme"
    label = "Acme"
    takes_callbacks = True

    def send(self, *, message: Message, text: str) -> SendResult:
        raise NotImplementedError

    def find_sent(self, *, message: Message, text: str) -> str | None:
        return None

    def verify_request(self, request: HttpRequest) -> bool:
        expected = hmac.new(SECRET.encode(), request.body, "sha256").hexdigest()
        return hmac.compare_digest(request.headers.get("X-Acme-Signature", ""), expected)

    def _json(self, request: HttpRequest) -> dict[str, Any]:
        data = json.loads(request.body)
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise InvalidInput("id is required.", code="required", field="id")
        return data

    def parse_inbound(self, request: HttpRequest) -> InboundSms:
        data = self._json(request)
        return InboundSms(
            from_number=data["from"],
            to_number=data["to"],
            body=data["text"],
            provider_message_id=data["id"],
        )

    def parse_status(self, request: HttpRequest) -> StatusReport:
        data = self._json(request)
        return StatusReport(
            provider_message_id=data["id"],
            status={"ok": MessageStatus.DELIVERED, "bounced": MessageStatus.UNDELIVERED}.get(
                data.get("state", "")
            ),
            message_id=request.GET.get("message") or None,
        )


@pytest.fixture(autouse=True)
def _acme(settings: Any) -> None:
    settings.SMS_GATEWAYS = {
        **django_settings.SMS_GATEWAYS,
        "acme": f"{__name__}.AcmeGateway",
    }
    settings.PUBLIC_BASE_URL = PUBLIC


Post = Callable[..., Any]


@pytest.fixture
def post(client: Client) -> Post:
    def do(path: str, data: dict[str, Any], *, secret: str = SECRET) -> Any:
        body = json.dumps(data).encode()
        signature = hmac.new(secret.encode(), body, "sha256").hexdigest()
        return client.post(
            path, body, content_type="application/json", headers={"X-Acme-Signature": signature}
        )

    return do


def test_an_inbound_text_goes_through_the_providers_parser_to_the_inbound_path(
    post: Post, line: Line
) -> None:
    response = post(
        "/webhooks/sms/acme/",
        {"id": "AC-1", "from": "+18185550123", "to": line.phone_number.as_e164, "text": "Hello"},
    )
    assert response.status_code == 204
    message = Message.objects.get(direction=Message.Direction.INBOUND)
    assert (message.body, message.provider_message_id, message.line_id) == (
        "Hello",
        "AC-1",
        line.pk,
    )


def test_a_status_report_goes_to_the_status_path(post: Post, line: Line) -> None:
    message = MessageFactory(
        channel=PatientChannelFactory(line=line), status="sent", provider_message_id="AC-9"
    )
    url = gateway_get("acme").status_callback_url(message)
    assert url == f"{PUBLIC}/webhooks/sms/acme/status/?message={message.pk}"
    assert post(url.removeprefix(PUBLIC), {"id": "AC-9", "state": "ok"}).status_code == 204
    message.refresh_from_db()
    assert message.status == "delivered"


def test_a_bad_signature_is_403_and_stores_nothing(post: Post, line: Line) -> None:
    data = {"id": "AC-2", "from": "+18185550123", "to": line.phone_number.as_e164, "text": "Hi"}
    response = post("/webhooks/sms/acme/", data, secret="forged")
    assert response.status_code == 403
    assert response.content == b"Invalid Acme signature."
    assert not Message.objects.exists()


def test_a_callback_the_provider_cannot_parse_is_a_plain_400(post: Post) -> None:
    response = post("/webhooks/sms/acme/status/", {"state": "ok"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("path", ["/webhooks/sms/{}/", "/webhooks/sms/{}/status/"])
@pytest.mark.parametrize("backend", ["nosuch", "simulator"])
def test_unknown_backends_and_backends_without_callbacks_are_404(
    post: Post, settings: Any, path: str, backend: str
) -> None:
    settings.SMS_BACKEND = "simulator"  # on, and still no callbacks: its carrier is in-process
    assert post(path.format(backend), {"id": "x"}).status_code == 404


def test_only_post(client: Client) -> None:
    assert client.get("/webhooks/sms/acme/").status_code == 405


def test_twilio_asks_for_its_status_callbacks_at_its_own_generic_url(
    settings: Any, line: Line
) -> None:
    settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
    settings.TWILIO_AUTH_TOKEN = "token"
    message = MessageFactory(channel=PatientChannelFactory(line=line))
    assert (
        gateway_get("twilio").status_callback_url(message)
        == f"{PUBLIC}/webhooks/sms/twilio/status/?message={message.pk}"
    )
