"""No bad input reaches a 500, and nothing is half-written (issue 14, point 6).

One parametrised list of hostile requests, each against the endpoint that must refuse it: the
API (MAPI, SMAPI, /oauth/), call-to-text, the secure portal's forms, the simulator's pages and
JSON API, and the signed Twilio callbacks. Each case states the status and content type it must
get (the contract's JSON error under /api/, /oauth/ and /webhook/; a form error on pages), and
no row of any table a request could write is added.

The test client enforces CSRF, as a browser-less attacker's request would meet it.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import models
from django.test import Client
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from channels_app.models import ChannelEvent, Patient, PatientChannel, PatientPhone
from messaging.models import (
    Message,
    MessageStatusChange,
    OptOut,
    SecureAccessAttempt,
    SimulatorNumber,
    SimulatorText,
)
from messaging.services import Api, ToNumber, message_send
from practices.models import Line, Practice
from tests.factories import MessageFactory, PatientFactory, PatientPhoneFactory
from tests.support import dns_answers, own_rate_limits
from tests.support.portal import token_in
from webhooks.api.serializers import METADATA_MAX_DEPTH
from webhooks.models import CallToTextCall, IdempotencyKey, WebhookDelivery
from webhooks.services import api_client_create, call_to_text_workflow_create, smapi_key_create

pytestmark = pytest.mark.django_db

TWILIO_TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC = "https://artera.example.org"
PATIENT_PHONE = "+18185550142"
DOB = datetime.date(1961, 7, 23)
SID = "SM" + "0123456789abcdef" * 2

WRITTEN: tuple[type[models.Model], ...] = (
    Message,
    MessageStatusChange,
    PatientChannel,
    ChannelEvent,
    Patient,
    PatientPhone,
    SimulatorText,
    SimulatorNumber,
    OptOut,
    IdempotencyKey,
    WebhookDelivery,
    CallToTextCall,
    SecureAccessAttempt,
)


@dataclass
class World:
    """What the cases talk to: tokens, a secure link's visitor, a practice and its line."""

    practice: Practice
    line: Line
    api_token: str
    smapi_key: str
    c2t_token: str
    portal_token: str
    portal: Client  # a patient's browser that has passed the date-of-birth step
    pending_message: Message  # an outbound message with no provider id yet

    def api(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_token}"}

    def send_body(self, **fields: Any) -> dict[str, Any]:
        return {
            "to": "+18185550101",
            "body": "Your appointment is tomorrow.",
            "practice_id": str(self.practice.pk),
            **fields,
        }


@pytest.fixture(autouse=True)
def _settings(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    own_rate_limits(settings)
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    settings.TRUSTED_PROXY_COUNT = 0
    settings.API_TOKEN_RATE_LIMIT_PER_SECOND = 1000
    settings.API_TOKEN_RATE_LIMIT_BURST = 1000
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
    settings.PUBLIC_BASE_URL = PUBLIC
    with dns_answers(monkeypatch):
        yield


@pytest.fixture
def world(
    practice: Practice, line: Line, django_capture_on_commit_callbacks: Callable[..., Any]
) -> World:
    enterprise = practice.enterprise
    credentials = api_client_create(enterprise=enterprise, name="Epic")
    token_response = Client().post(
        "/oauth/token/",
        urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": credentials.client_id,
                "client_secret": credentials.client_secret,
            }
        ),
        content_type="application/x-www-form-urlencoded",
    )
    assert token_response.status_code == 200, token_response.content
    _, c2t_token = call_to_text_workflow_create(
        practice=practice, line=line, kind="call_to_text", message="Reply here, we text back."
    )
    patient = PatientFactory(enterprise=enterprise, date_of_birth=DOB)
    PatientPhoneFactory(patient=patient, number=PATIENT_PHONE)
    with django_capture_on_commit_callbacks(execute=True):
        secure = message_send(
            to=ToNumber(practice, PATIENT_PHONE, patient=patient),
            sender=Api(),
            body="Your results are ready.",
            secure=True,
        )
    notice = SimulatorText.objects.get(client_reference=str(secure.pk))
    portal_token = token_in(notice.body)
    portal = Client(enforce_csrf_checks=True)
    _portal_post(portal, f"/secure/{portal_token}/", _dob_fields(DOB))
    assert portal.get(f"/secure/{portal_token}/thread/").status_code == 200
    return World(
        practice=practice,
        line=line,
        api_token=token_response.json()["access_token"],
        smapi_key=smapi_key_create(enterprise=enterprise, name="Legacy")[1],
        c2t_token=c2t_token,
        portal_token=portal_token,
        portal=portal,
        pending_message=MessageFactory(channel__line=line, provider_message_id=None),
    )


def _dob_fields(date: datetime.date) -> dict[str, str]:
    return {"month": str(date.month), "day": str(date.day), "year": str(date.year)}


def _portal_post(client: Client, path: str, data: dict[str, str]) -> Any:
    if "csrftoken" not in client.cookies:
        client.get(path)
    return client.post(path, {**data, "csrfmiddlewaretoken": client.cookies["csrftoken"].value})


def _client() -> Client:
    return Client(enforce_csrf_checks=True)


def _nested_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _nested_array(depth: int) -> str:
    return "[" * depth + "]" * depth


def _twilio(path: str, params: dict[str, str], query: str = "") -> Any:
    url = path + (f"?{query}" if query else "")
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC + url, params)
    return _client().post(url, params, headers={"X-Twilio-Signature": signature})


def _inbound_params(world: World, **overrides: str) -> dict[str, str]:
    return {
        "MessageSid": SID,
        "From": "+18185550199",
        "To": world.line.phone_number.as_e164,
        "Body": "Hello",
        **overrides,
    }


# --- The cases ----------------------------------------------------------------------------------


def mapi(world: World, body: str, **extra: Any) -> Any:
    return _client().post(
        "/api/v1/messages",
        body,
        content_type="application/json",
        headers={**world.api(), **extra.pop("headers", {})},
        **extra,
    )


def c2t(world: World, body: bytes | str, content_type: str) -> Any:
    raw = body.encode() if isinstance(body, str) else body  # as sent, whatever it claims
    path = f"/webhook/call-to-text/{world.c2t_token}/"
    return _client().generic("POST", path, raw, content_type=content_type)


def metadata_nested_objects(world: World) -> Any:
    # 300 levels of objects: 1.8 KB, under the 2 KB limit.
    text = json.dumps(world.send_body(metadata=None)).replace("null", _nested_object(300))
    return mapi(world, text)


def metadata_one_level_too_deep(world: World) -> Any:
    metadata = json.loads(_nested_object(METADATA_MAX_DEPTH + 1))
    return mapi(world, json.dumps(world.send_body(metadata=metadata)))


def metadata_nested_arrays(world: World) -> Any:
    text = json.dumps(world.send_body(metadata=None)).replace(
        "null", '{"a":' + _nested_array(900) + "}"
    )
    return mapi(world, text)


def body_nested_below_python_limit(world: World) -> Any:
    # Deep enough to make a recursive encoder fail after the parser let it through.
    text = json.dumps(world.send_body(patient=None)).replace("null", _nested_array(950))
    return mapi(world, text)


def body_nested_beyond_python_limit(world: World) -> Any:
    return mapi(world, _nested_array(20000))


def idempotent_body_nested(world: World) -> Any:
    text = json.dumps(world.send_body(patient=None)).replace("null", _nested_object(900))
    return mapi(world, text, headers={"Idempotency-Key": "key-1"})


def smapi_body_nested(world: World) -> Any:
    text = json.dumps(world.send_body(to=None)).replace("null", _nested_array(950))
    return _client().post(
        "/api/smapi/v1/messages",
        text,
        content_type="application/json",
        headers={"X-API-Key": world.smapi_key},
    )


def c2t_json_nested(world: World) -> Any:
    return c2t(world, '{"CALLER_ID_NUMBER":' + _nested_array(7000) + "}", "application/json")


def c2t_json_nested_moderately(world: World) -> Any:
    return c2t(world, '{"x":' + _nested_array(950) + "}", "application/json")


def c2t_json_without_content_type(world: World) -> Any:
    return c2t(world, "{" + '"a":{' * 2500 + "}" * 2501, "text/plain")


def c2t_multipart_without_boundary(world: World) -> Any:
    return c2t(world, b"--x\r\n\r\n", "multipart/form-data")


def c2t_multipart_truncated(world: World) -> Any:
    body = b'--B\r\nContent-Disposition: form-data; name="CALLER_ID_NUMBER"\r\n\r\n818555'
    return c2t(world, body, "multipart/form-data; boundary=B")


def c2t_multipart_empty_boundary(world: World) -> Any:
    return c2t(world, b"CALLER_ID_NUMBER=8185550142", "multipart/form-data; boundary=")


def c2t_multipart_binary_boundary(world: World) -> Any:
    return c2t(world, b"--\xff\r\n", "multipart/form-data; boundary=\xff\xfe")


def c2t_nul_in_caller(world: World) -> Any:
    return c2t(world, '{"CALLER_ID_NUMBER": "818555\\u00000142"}', "application/json")


def portal_dob(world: World, **fields: str) -> Any:
    return _portal_post(_client(), f"/secure/{world.portal_token}/", {**_dob_fields(DOB), **fields})


def portal_reply(world: World, body: str) -> Any:
    return _portal_post(
        world.portal,
        f"/secure/{world.portal_token}/thread/",
        {"body": body, "reply_key": str(uuid.uuid4())},
    )


def simulator_api(path: str, body: str) -> Any:
    return _client().post(path, body, content_type="application/json")


def simulator_inbound(world: World, **fields: str) -> Any:
    data = {"from": "+18185550199", "to": world.line.phone_number.as_e164, "body": "Hi"}
    return simulator_api("/simulator/api/inbound", json.dumps({**data, **fields}))


def simulator_reply(world: World, htmx: bool, **fields: str) -> Any:
    data = {"number": "+18185550199", "line": world.line.phone_number.as_e164, "body": "Hi"}
    headers = {"HX-Request": "true"} if htmx else {}
    client = Client()  # the simulator's page has no CSRF exemption; a browser has the cookie
    return client.post("/simulator/reply/", {**data, **fields}, headers=headers)


def chunked(
    path: str, content_type: str = "application/json", headers: dict[str, str] | None = None
) -> Any:
    # What Django sees of a chunked request: a Transfer-Encoding header and no Content-Length.
    return _client().generic(
        "POST",
        path,
        b"",
        content_type=content_type,
        headers={**(headers or {}), "Transfer-Encoding": "chunked"},
    )


JSON = "application/json"
# The token endpoint's errors are OAuth 2.0's (RFC 6749 §5.2): {"error": "…", "error_description"}.
OAUTH_INVALID_REQUEST = "oauth:invalid_request"
HTML = "text/html"
TEXT = "text/plain"

CASES: list[tuple[str, Callable[[World], Any], int, str, str | None]] = [
    # id, request, status, content type, error code (JSON cases)
    ("mapi-metadata-300-deep", metadata_nested_objects, 400, JSON, "json_too_deep"),
    ("mapi-metadata-11-deep", metadata_one_level_too_deep, 400, JSON, "metadata_too_deep"),
    ("mapi-metadata-900-deep-arrays", metadata_nested_arrays, 400, JSON, "json_too_deep"),
    ("mapi-body-950-deep", body_nested_below_python_limit, 400, JSON, "json_too_deep"),
    ("mapi-body-20000-deep", body_nested_beyond_python_limit, 400, JSON, "json_too_deep"),
    ("mapi-idempotent-900-deep", idempotent_body_nested, 400, JSON, "json_too_deep"),
    ("smapi-body-950-deep", smapi_body_nested, 400, JSON, "json_too_deep"),
    (
        "mapi-nul-in-path",
        lambda w: _client().get("/api/v1/messages/%00", headers=w.api()),
        404,
        JSON,
        "not_found",
    ),
    ("c2t-json-7000-deep", c2t_json_nested, 400, JSON, "json_too_deep"),
    ("c2t-json-950-deep", c2t_json_nested_moderately, 400, JSON, "json_too_deep"),
    ("c2t-json-as-text-deep", c2t_json_without_content_type, 400, JSON, "json_too_deep"),
    ("c2t-multipart-no-boundary", c2t_multipart_without_boundary, 400, JSON, "malformed_body"),
    ("c2t-multipart-truncated", c2t_multipart_truncated, 400, JSON, None),
    ("c2t-multipart-empty-boundary", c2t_multipart_empty_boundary, 400, JSON, "malformed_body"),
    ("c2t-multipart-bad-boundary", c2t_multipart_binary_boundary, 400, JSON, "malformed_body"),
    ("c2t-nul-in-caller", c2t_nul_in_caller, 400, JSON, "invalid_characters"),
    ("portal-dob-huge-year", lambda w: portal_dob(w, year="9" * 20), 200, HTML, None),
    ("portal-dob-huge-month", lambda w: portal_dob(w, month="9" * 20), 200, HTML, None),
    ("portal-dob-huge-day", lambda w: portal_dob(w, day="-" + "9" * 20), 200, HTML, None),
    ("portal-dob-nul", lambda w: portal_dob(w, day="2\x003"), 200, HTML, None),
    ("portal-reply-nul", lambda w: portal_reply(w, "I feel\x00 better"), 200, HTML, None),
    (
        "simulator-api-nul-body",
        lambda w: simulator_inbound(w, body="Hi\x00there"),
        400,
        JSON,
        "invalid_characters",
    ),
    (
        "simulator-api-nul-from",
        lambda w: simulator_inbound(w, **{"from": "+1818555\x000199"}),
        400,
        JSON,
        None,
    ),
    (
        "simulator-api-inbound-deep",
        lambda w: simulator_api("/simulator/api/inbound", _nested_array(20000)),
        400,
        JSON,
        "json_too_deep",
    ),
    (
        "simulator-api-numbers-deep",
        lambda w: simulator_api("/simulator/api/numbers", '{"n":' + _nested_array(950) + "}"),
        400,
        JSON,
        "json_too_deep",
    ),
    (
        "simulator-api-numbers-nul",
        lambda w: simulator_api("/simulator/api/numbers", '{"number":"\\u0000","type":"mobile"}'),
        400,
        JSON,
        None,
    ),
    (
        "simulator-page-nul",
        lambda w: simulator_reply(w, htmx=False, body="Hi\x00"),
        400,
        HTML,
        None,
    ),
    (
        "simulator-htmx-nul",
        lambda w: simulator_reply(w, htmx=True, body="Hi\x00"),
        200,
        HTML,
        None,
    ),
    (
        "twilio-inbound-nul-body",
        lambda w: _twilio("/webhooks/sms/twilio/", _inbound_params(w, Body="Hi\x00")),
        400,
        TEXT,
        None,
    ),
    (
        "twilio-inbound-nul-from",
        lambda w: _twilio("/webhooks/sms/twilio/", _inbound_params(w, From="+1818\x00")),
        400,
        TEXT,
        None,
    ),
    (
        "twilio-inbound-long-sid",
        lambda w: _twilio("/webhooks/sms/twilio/", _inbound_params(w, MessageSid="SM" + "a" * 63)),
        400,
        TEXT,
        None,
    ),
    (
        "twilio-status-nul",
        lambda w: _twilio(
            "/webhooks/sms/twilio/status/",
            {"MessageSid": SID + "\x00", "MessageStatus": "delivered"},
            query=f"message={w.pending_message.pk}",
        ),
        400,
        TEXT,
        None,
    ),
    (
        "twilio-status-long-sid",
        lambda w: _twilio(
            "/webhooks/sms/twilio/status/",
            {"MessageSid": "SM" + "a" * 63, "MessageStatus": "sent"},
            query=f"message={w.pending_message.pk}",
        ),
        400,
        TEXT,
        None,
    ),
    ("api-unknown-post", lambda w: _client().post("/api/v2/nothing", {}), 404, JSON, "not_found"),
    (
        "api-unknown-put",
        lambda w: _client().put("/api/v1/messages/x/y", "{}", JSON),
        404,
        JSON,
        "not_found",
    ),
    ("api-unknown-delete", lambda w: _client().delete("/api/nope"), 404, JSON, "not_found"),
    (
        "oauth-unknown-post",
        lambda w: _client().post("/oauth/authorize/", {"client_id": "x"}),
        404,
        JSON,
        "not_found",
    ),
    ("oauth-unknown-patch", lambda w: _client().patch("/oauth/x"), 404, JSON, "not_found"),
    (
        "webhook-unknown-post",
        lambda w: _client().post("/webhook/nope/", {}),
        404,
        JSON,
        "not_found",
    ),
    (
        "chunked-mapi",
        lambda w: chunked("/api/v1/messages", headers=w.api()),
        411,
        JSON,
        "length_required",
    ),
    (
        "chunked-oauth",
        lambda w: chunked("/oauth/token/", "application/x-www-form-urlencoded"),
        411,
        JSON,
        OAUTH_INVALID_REQUEST,
    ),
    (
        "chunked-c2t",
        lambda w: chunked(f"/webhook/call-to-text/{w.c2t_token}/"),
        411,
        JSON,
        "length_required",
    ),
    (
        "chunked-twilio",
        lambda w: chunked("/webhooks/sms/twilio/", "application/x-www-form-urlencoded"),
        411,
        TEXT,
        None,
    ),
]


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in WRITTEN}


@pytest.mark.parametrize(
    ("make_request", "status", "content_type", "code"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bad_input_is_refused_cleanly(
    world: World,
    make_request: Callable[[World], Any],
    status: int,
    content_type: str,
    code: str | None,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    before = _counts()
    with django_capture_on_commit_callbacks(execute=True):
        response = make_request(world)
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith(content_type), response["Content-Type"]
    if code == OAUTH_INVALID_REQUEST:
        assert response.json()["error"] == "invalid_request", response.json()
        assert response.json()["error_description"]
    elif content_type == JSON:
        error = response.json()["error"]
        assert set(error) == {"code", "message", "field"}, error
        assert error["message"], error
        if code is not None:
            assert error["code"] == code, error
    elif content_type == HTML:
        assert b'role="alert"' in response.content  # the form again, saying what is wrong
    assert _counts() == before


def test_metadata_at_the_depth_limit_is_accepted(world: World) -> None:
    metadata = json.loads(_nested_object(METADATA_MAX_DEPTH))
    response = mapi(world, json.dumps(world.send_body(metadata=metadata)))
    assert response.status_code == 202, response.content
    assert Message.objects.get(pk=response.json()["id"]).metadata == metadata


def test_too_deep_names_the_field(world: World) -> None:
    response = mapi(
        world, json.dumps(world.send_body(metadata=None)).replace("null", _nested_object(300))
    )
    assert response.json()["error"]["field"] == "metadata"
