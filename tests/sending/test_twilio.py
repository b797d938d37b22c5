"""The Twilio backend: sends through the real `twilio` client to a local fake API, signed
callbacks checked with Twilio's own RequestValidator, error and status codes mapped."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from messaging.gateways.twilio import error_code_from_twilio, status_from_twilio
from messaging.models import Message, MessageStatusChange
from messaging.services import Api, ToNumber, message_send
from practices.models import Line
from tests.factories import MessageFactory
from tests.support.twilio import (
    ACCEPT_THEN_FAIL,
    ACCOUNT_SID,
    AUTH_TOKEN,
    INBOUND_PATH,
    PUBLIC,
    STATUS_PATH,
    FakeTwilio,
)

pytestmark = pytest.mark.django_db

PATIENT = "+18185550101"


@pytest.fixture
def fake_twilio(settings: Any) -> Iterator[FakeTwilio]:
    fake = FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN).start()
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_API_BASE_URL = fake.url
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.SMS_SEND_RETRY_BASE_SECONDS = 0.01
    yield fake
    fake.stop()


@pytest.fixture
def twilio_settings(settings: Any) -> None:
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC


def signed_post(
    client: Client, path: str, params: dict[str, str], *, signature: str | None = None
) -> Any:
    if signature is None:
        signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + path, params)
    headers = {"X-Twilio-Signature": signature} if signature else {}
    return client.post(path, params, headers=headers)


def send(line: Line, to: str = PATIENT, body: str = "Hello from Twilio") -> Message:
    return message_send(to=ToNumber(line.practice, to), sender=Api(), body=body)


# --- Sending ------------------------------------------------------------------------------------


def test_send_through_the_twilio_client(
    fake_twilio: FakeTwilio, line: Line, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        message = send(line)
    message.refresh_from_db()
    [sent] = fake_twilio.messages
    assert (sent["to"], sent["from"], sent["body"]) == (
        PATIENT,
        line.phone_number.as_e164,
        "Hello from Twilio",
    )
    assert sent["status_callback"] == f"{PUBLIC}/webhooks/sms/twilio/status/?message={message.id}"
    assert (message.status, message.provider_message_id) == ("sent", sent["sid"])


@pytest.mark.parametrize(
    ("twilio_code", "error_code"),
    [
        (30006, "landline"),
        (21614, "invalid_number"),
        (21211, "invalid_number"),
        (30003, "unreachable"),
        (30005, "unreachable"),
        (30007, "carrier_rejected"),
        (21610, "opted_out"),
        (21408, "provider_error"),
    ],
)
def test_permanent_errors_fail_the_message_with_our_code(
    fake_twilio: FakeTwilio,
    line: Line,
    twilio_code: int,
    error_code: str,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    fake_twilio.answer_next(PATIENT, (400, twilio_code))
    with django_capture_on_commit_callbacks(execute=True):
        message = send(line)
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", error_code)
    assert fake_twilio.creates == 1  # not retried


def test_provider_trouble_is_retried_with_backoff(
    fake_twilio: FakeTwilio, line: Line, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    fake_twilio.answer_next(PATIENT, (503, 20503), (429, 20429))
    with django_capture_on_commit_callbacks(execute=True):
        message = send(line)
    message.refresh_from_db()
    assert message.status == "sent"
    assert message.send_attempts == 3
    assert fake_twilio.creates == 3
    assert len(fake_twilio.messages) == 1


def test_a_lost_answer_is_not_sent_twice(
    fake_twilio: FakeTwilio, line: Line, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    """Twilio kept the message but its answer was an error: the retry finds it instead."""
    fake_twilio.answer_next(PATIENT, ACCEPT_THEN_FAIL)
    with django_capture_on_commit_callbacks(execute=True):
        message = send(line)
    message.refresh_from_db()
    [kept] = fake_twilio.messages
    assert (message.status, message.provider_message_id) == ("sent", kept["sid"])
    assert fake_twilio.creates == 1


def test_retries_run_out(
    fake_twilio: FakeTwilio,
    line: Line,
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    settings.SMS_SEND_MAX_ATTEMPTS = 3
    fake_twilio.answer_next(PATIENT, *[(500, 20500)] * 5)
    with django_capture_on_commit_callbacks(execute=True):
        message = send(line)
    message.refresh_from_db()
    assert (message.status, message.error_code, message.send_attempts) == (
        "failed",
        "provider_error",
        3,
    )
    assert fake_twilio.creates == 3


def test_http_exchanges_are_logged_without_secrets(
    fake_twilio: FakeTwilio,
    line: Line,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with caplog.at_level(logging.INFO), django_capture_on_commit_callbacks(execute=True):
        send(line, body="Private lab result")
    exchange = [r.getMessage() for r in caplog.records if r.name == "messaging.gateways.twilio"]
    assert len(exchange) == 1
    assert exchange[0].startswith("twilio POST /2010-04-01/Accounts/AC0123…/Messages.json -> 201")
    everything = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (AUTH_TOKEN, ACCOUNT_SID, "Private lab result", "818555"):
        assert secret not in everything


# --- Signatures ---------------------------------------------------------------------------------


@pytest.fixture
def sent_message(line: Line) -> Message:
    message = MessageFactory(channel__line=line, status="sent", provider_message_id="SM" + "a" * 32)
    return message


@pytest.mark.usefixtures("twilio_settings")
def test_status_callback_with_a_valid_signature(client: Client, sent_message: Message) -> None:
    response = signed_post(
        client,
        STATUS_PATH,
        {"MessageSid": sent_message.provider_message_id, "MessageStatus": "delivered"},
    )
    assert response.status_code == 204
    sent_message.refresh_from_db()
    assert sent_message.status == "delivered"


@pytest.mark.usefixtures("twilio_settings")
@pytest.mark.parametrize(
    "signature",
    [
        "",  # missing
        "bm90IGEgc2lnbmF0dXJl",  # wrong
        RequestValidator("another-token").compute_signature(
            PUBLIC + STATUS_PATH, {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered"}
        ),
        RequestValidator(AUTH_TOKEN).compute_signature(
            "http://testserver" + STATUS_PATH,  # not the URL Twilio was given
            {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered"},
        ),
    ],
    ids=["missing", "garbage", "other-token", "other-url"],
)
def test_status_callback_with_a_bad_signature_is_403(
    client: Client, sent_message: Message, signature: str
) -> None:
    params = {"MessageSid": sent_message.provider_message_id, "MessageStatus": "delivered"}
    response = signed_post(client, STATUS_PATH, params, signature=signature)
    assert response.status_code == 403
    sent_message.refresh_from_db()
    assert sent_message.status == "sent"


@pytest.mark.usefixtures("twilio_settings")
def test_tampered_parameters_are_403(client: Client, sent_message: Message) -> None:
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        PUBLIC + STATUS_PATH,
        {"MessageSid": sent_message.provider_message_id, "MessageStatus": "delivered"},
    )
    params = {"MessageSid": sent_message.provider_message_id, "MessageStatus": "failed"}
    assert signed_post(client, STATUS_PATH, params, signature=signature).status_code == 403


def test_no_auth_token_configured_rejects_everything(
    client: Client, settings: Any, sent_message: Message
) -> None:
    settings.TWILIO_AUTH_TOKEN = ""
    settings.PUBLIC_BASE_URL = PUBLIC
    params = {"MessageSid": sent_message.provider_message_id, "MessageStatus": "delivered"}
    assert signed_post(client, STATUS_PATH, params).status_code == 403


@pytest.mark.usefixtures("twilio_settings")
def test_inbound_with_a_valid_signature(client: Client, line: Line) -> None:
    params = {
        "MessageSid": "SM" + "b" * 32,
        "From": PATIENT,
        "To": line.phone_number.as_e164,
        "Body": "Running late",
    }
    response = signed_post(client, INBOUND_PATH, params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    message = Message.objects.get(direction="inbound")
    assert (message.body, message.provider_message_id) == ("Running late", params["MessageSid"])
    # Twilio retrying the webhook changes nothing.
    assert signed_post(client, INBOUND_PATH, params).status_code == 200
    assert Message.objects.filter(direction="inbound").count() == 1


@pytest.mark.usefixtures("twilio_settings")
def test_inbound_with_a_bad_signature_is_403(client: Client, line: Line) -> None:
    params = {"MessageSid": "SM1", "From": PATIENT, "To": line.phone_number.as_e164, "Body": "x"}
    assert signed_post(client, INBOUND_PATH, params, signature="").status_code == 403
    assert signed_post(client, INBOUND_PATH, params, signature="AAAA").status_code == 403
    assert not Message.objects.exists()


@pytest.mark.usefixtures("twilio_settings")
def test_inbound_to_an_unknown_number_is_acknowledged_and_dropped(client: Client) -> None:
    params = {"MessageSid": "SM2", "From": PATIENT, "To": "+13105550199", "Body": "x"}
    assert signed_post(client, INBOUND_PATH, params).status_code == 200
    assert not Message.objects.exists()


# --- Status mapping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("twilio_status", "twilio_error", "status", "error_code"),
    [
        ("queued", "", "sent", ""),
        ("accepted", "", "sent", ""),
        ("sending", "", "sent", ""),
        ("sent", "", "sent", ""),
        ("delivered", "", "delivered", ""),
        ("read", "", "delivered", ""),
        ("undelivered", "30006", "undelivered", "landline"),
        ("undelivered", "30003", "undelivered", "unreachable"),
        ("undelivered", "30005", "undelivered", "unreachable"),
        ("undelivered", "30007", "undelivered", "carrier_rejected"),
        ("failed", "21614", "failed", "invalid_number"),
        ("failed", "21610", "failed", "opted_out"),
        ("failed", "30008", "failed", "provider_error"),
        ("failed", "", "failed", "provider_error"),
        ("canceled", "", "failed", "provider_error"),
        ("scheduled", "", "received", ""),
    ],
)
@pytest.mark.usefixtures("twilio_settings")
def test_status_mapping(
    client: Client,
    line: Line,
    twilio_status: str,
    twilio_error: str,
    status: str,
    error_code: str,
) -> None:
    """Each Twilio status (and error code) lands on ours, through the real callback path; the
    callback finds the message by our id in its URL even before its SID is recorded."""
    message = MessageFactory(channel__line=line, status="received")
    path = f"{STATUS_PATH}?message={message.id}"
    params = {"MessageSid": "SM" + "c" * 32, "MessageStatus": twilio_status}
    if twilio_error:
        params["ErrorCode"] = twilio_error
    assert signed_post(client, path, params).status_code == 204
    message.refresh_from_db()
    assert (message.status, message.error_code) == (status, error_code)
    if status != "received":
        assert message.provider_message_id == params["MessageSid"]


def test_status_and_error_tables() -> None:
    assert status_from_twilio("DELIVERED") == "delivered"
    assert status_from_twilio("receiving") is None
    assert status_from_twilio("something-new") is None
    assert error_code_from_twilio("30006") == "landline"
    assert error_code_from_twilio(None) == "provider_error"
    assert error_code_from_twilio("not-a-number") == "provider_error"


@pytest.mark.usefixtures("twilio_settings")
def test_callbacks_out_of_order_and_twice(client: Client, sent_message: Message) -> None:
    sid = sent_message.provider_message_id
    for twilio_status in ("delivered", "sent", "queued", "delivered"):
        response = signed_post(
            client, STATUS_PATH, {"MessageSid": sid, "MessageStatus": twilio_status}
        )
        assert response.status_code == 204
    sent_message.refresh_from_db()
    assert sent_message.status == "delivered"
    assert list(
        MessageStatusChange.objects.filter(message=sent_message).values_list("status", flat=True)
    ) == ["delivered"]


@pytest.mark.usefixtures("twilio_settings")
def test_malformed_status_callback_is_400(client: Client) -> None:
    assert signed_post(client, STATUS_PATH, {"MessageSid": "SM1"}).status_code == 400


def test_the_full_loop(
    client: Client,
    fake_twilio: FakeTwilio,
    line: Line,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        message = send(line)
    callback = urlsplit(fake_twilio.messages[0]["status_callback"])
    path = callback.path + "?" + callback.query
    assert parse_qs(callback.query) == {"message": [str(message.id)]}
    sid = fake_twilio.messages[0]["sid"]
    assert (
        signed_post(client, path, {"MessageSid": sid, "MessageStatus": "delivered"}).status_code
        == 204
    )
    message.refresh_from_db()
    assert message.status == "delivered"
    assert list(message.status_history.values_list("status", flat=True)) == [
        "received",
        "sent",
        "delivered",
    ]
