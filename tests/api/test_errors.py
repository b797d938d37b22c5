"""Every error case of POST /api/v1/messages: its status, its JSON error code, nothing stored."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from channels_app.models import Patient, PatientChannel, PatientPhone
from messaging.models import Message, OptOut, ShortLink, SimulatorText
from practices.models import Line, Practice
from tests.factories import LineFactory
from tests.support.api import MESSAGES_URL, ApiCaller, assert_error, message_payload
from webhooks.models import IdempotencyKey

pytestmark = pytest.mark.django_db

STORED = (Message, PatientChannel, Patient, PatientPhone, IdempotencyKey, ShortLink, SimulatorText)


@pytest.fixture(autouse=True)
def nothing_stored(db: None) -> Iterator[None]:
    """After each refused request, not one row more than before."""
    before = {model: model.objects.count() for model in STORED}
    yield
    after = {model: model.objects.count() for model in STORED}
    assert after == before


# --- Authentication and authorization -------------------------------------------------------


def test_no_token(practice: Practice) -> None:
    response = ApiCaller(token=None, client=Client()).post(data=message_payload(practice))
    assert_error(response, 401, "not_authenticated", None)
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "authorization", ["Bearer not-a-token", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc"]
)
def test_bad_token(practice: Practice, authorization: str) -> None:
    response = Client().post(
        MESSAGES_URL,
        message_payload(practice),
        content_type="application/json",
        headers={"Authorization": authorization},
    )
    assert_error(response, 401, "invalid_token", None)


def test_wrong_scope(practice: Practice, make_api: Callable[..., Any]) -> None:
    reader, _ = make_api(scopes=["messages:read"])
    assert_error(reader.post(data=message_payload(practice)), 403, "insufficient_scope", None)


def test_ip_not_allowed(practice: Practice, make_api: Callable[..., Any], settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 0
    # The token was issued from an allowed address; the API call comes from another one.
    locked, _ = make_api(allowed_ips="127.0.0.1")
    response = locked.post(data=message_payload(practice), REMOTE_ADDR="198.51.100.20")
    assert_error(response, 403, "ip_not_allowed", None)


# --- The recipient ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "to",
    [
        "555-1234",  # too short
        "+1 818 555 12345",  # too long
        "+44 20 7946 0958",  # a UK number
        "+1 416 555 0199",  # Canada shares +1, but is not the US
        "(800) FLOWERS",  # letters
        "+1 011 555 1234",  # no such area code
        "",
        "   ",
    ],
)
def test_invalid_or_foreign_phone(api: ApiCaller, practice: Practice, to: str) -> None:
    code = "missing_field" if not to.strip() else "invalid_phone"
    assert_error(api.post(data=message_payload(practice, to=to)), 400, code, "to")


@pytest.mark.parametrize("to", [8185551234, None, ["+18185551234"], {"n": 1}])
def test_phone_must_be_a_string(api: ApiCaller, practice: Practice, to: Any) -> None:
    assert_error(api.post(data=message_payload(practice, to=to)), 400, "invalid_type", "to")


def test_missing_to(api: ApiCaller, practice: Practice) -> None:
    assert_error(api.post(data=message_payload(practice, to=...)), 400, "missing_field", "to")


def test_opted_out_recipient(api: ApiCaller, practice: Practice, line: Line) -> None:
    OptOut.objects.create(line=line, phone="+18185550101", keyword="STOP")
    response = api.post(data=message_payload(practice))
    assert_error(response, 422, "recipient_opted_out", "to")


# --- The text -----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["", "   ", "\n\t"])
def test_empty_body(api: ApiCaller, practice: Practice, body: str) -> None:
    assert_error(api.post(data=message_payload(practice, body=body)), 400, "empty_body", "body")


def test_body_too_long(api: ApiCaller, practice: Practice) -> None:
    response = api.post(data=message_payload(practice, body="a" * 1601))
    assert_error(response, 400, "body_too_long", "body")


def test_missing_body(api: ApiCaller, practice: Practice) -> None:
    response = api.post(data=message_payload(practice, body=...))
    assert_error(response, 400, "missing_field", "body")


def test_body_must_be_a_string(api: ApiCaller, practice: Practice) -> None:
    response = api.post(data=message_payload(practice, body=42))
    assert_error(response, 400, "invalid_type", "body")


# --- The practice and line ------------------------------------------------------------------


def test_neither_practice_nor_location(api: ApiCaller, practice: Practice) -> None:
    response = api.post(data=message_payload(practice, practice_id=...))
    assert_error(response, 400, "missing_practice", "practice_id")


def test_both_practice_and_location(api: ApiCaller, practice: Practice) -> None:
    response = api.post(data=message_payload(practice, location_id="DEP100"))
    assert_error(response, 400, "ambiguous_practice", "location_id")


def test_unknown_practice(api: ApiCaller, practice: Practice) -> None:
    response = api.post(
        data=message_payload(practice, practice_id="00000000-0000-4000-8000-000000000000")
    )
    assert_error(response, 422, "unknown_practice", "practice_id")


def test_foreign_practice(api: ApiCaller, practice: Practice, foreign_practice: Practice) -> None:
    response = api.post(data=message_payload(practice, practice_id=str(foreign_practice.pk)))
    assert_error(response, 422, "unknown_practice", "practice_id")


def test_unknown_or_foreign_location(
    api: ApiCaller, practice: Practice, foreign_practice: Practice
) -> None:
    foreign_practice.locations.create(location_id="ONLY-THEIRS")
    for location in ("NOPE", "ONLY-THEIRS"):
        response = api.post(data=message_payload(practice, practice_id=..., location_id=location))
        assert_error(response, 422, "unknown_practice", "location_id")


@pytest.mark.parametrize("bad", ["not-a-uuid", "1234", "", 42])
def test_bad_uuid(api: ApiCaller, practice: Practice, bad: Any) -> None:
    response = api.post(data=message_payload(practice, practice_id=bad))
    assert_error(response, 400, "invalid_uuid", "practice_id")


def test_bad_line_uuid(api: ApiCaller, practice: Practice) -> None:
    response = api.post(data=message_payload(practice, line_id="line-1"))
    assert_error(response, 400, "invalid_uuid", "line_id")


def test_line_of_another_practice(
    api: ApiCaller, practice: Practice, enterprise: Any, foreign_practice: Practice
) -> None:
    sibling = LineFactory()  # a line of some other practice
    for line in (sibling, foreign_practice.lines.get()):
        response = api.post(data=message_payload(practice, line_id=str(line.pk)))
        assert_error(response, 422, "unknown_line", "line_id")


def test_inactive_line(api: ApiCaller, practice: Practice, line: Line) -> None:
    line.is_active = False
    line.save(update_fields=["is_active"])
    assert_error(api.post(data=message_payload(practice)), 422, "line_inactive", "line_id")


# --- The patient --------------------------------------------------------------------------------


def test_secure_to_an_unverified_recipient(api: ApiCaller, practice: Practice) -> None:
    response = api.post(data=message_payload(practice, secure=True))
    assert_error(response, 422, "secure_requires_verified_patient", "secure")


def test_unknown_mrn_without_details(api: ApiCaller, practice: Practice) -> None:
    response = api.post(data=message_payload(practice, patient={"mrn": "E999", "first_name": "A"}))
    assert_error(response, 422, "unknown_patient", "patient.mrn")


def test_new_patient_is_not_kept_when_the_send_is_refused(
    api: ApiCaller, practice: Practice, line: Line
) -> None:
    OptOut.objects.create(line=line, phone="+18185550101", keyword="STOP")
    identity = {"mrn": "E5", "first_name": "A", "last_name": "B", "date_of_birth": "1990-01-01"}
    response = api.post(data=message_payload(practice, patient=identity))
    assert_error(response, 422, "recipient_opted_out", "to")


@pytest.mark.parametrize(
    ("patient", "code", "field"),
    [
        ({"first_name": "A"}, "missing_field", "patient.mrn"),
        ({"mrn": ""}, "missing_field", "patient.mrn"),
        ({"mrn": "x" * 65}, "too_long", "patient.mrn"),
        ({"mrn": True}, "invalid_type", "patient.mrn"),
        ({"mrn": "E1", "date_of_birth": "03/09/1984"}, "invalid_date", "patient.date_of_birth"),
        ({"mrn": "E1", "date_of_birth": "2999-01-01"}, "invalid_date", "patient.date_of_birth"),
        ({"mrn": "E1", "date_of_birth": "1850-01-01"}, "invalid_date", "patient.date_of_birth"),
        ({"mrn": "E1", "first_name": "x" * 101}, "too_long", "patient.first_name"),
        ({"mrn": "E1", "dob": "1984-03-09"}, "unknown_field", "patient.dob"),
        ("E1", "invalid_type", "patient"),
    ],
)
def test_invalid_patient(
    api: ApiCaller, practice: Practice, patient: Any, code: str, field: str
) -> None:
    response = api.post(data=message_payload(practice, patient=patient))
    assert_error(response, 400, code, field)


def test_secure_must_be_a_boolean(api: ApiCaller, practice: Practice) -> None:
    response = api.post(data=message_payload(practice, patient={"mrn": "E1"}, secure="yes"))
    assert_error(response, 400, "invalid_type", "secure")


# --- Metadata and callback URL ------------------------------------------------------------------


def test_oversize_metadata(api: ApiCaller, practice: Practice) -> None:
    metadata = {"x": "a" * 2048}
    response = api.post(data=message_payload(practice, metadata=metadata))
    assert_error(response, 400, "metadata_too_large", "metadata")


def test_oversize_metadata_counts_bytes_not_characters(api: ApiCaller, practice: Practice) -> None:
    metadata = {"x": "é" * 1100}  # 1100 characters, 2200 bytes
    response = api.post(data=message_payload(practice, metadata=metadata))
    assert_error(response, 400, "metadata_too_large", "metadata")


@pytest.mark.parametrize("metadata", [[1, 2], "text", 5, True])
def test_metadata_must_be_an_object(api: ApiCaller, practice: Practice, metadata: Any) -> None:
    response = api.post(data=message_payload(practice, metadata=metadata))
    assert_error(response, 400, "invalid_type", "metadata")


@pytest.mark.parametrize(
    "url",
    [
        "http://emr.example.org/status",  # not https
        "https://127.0.0.1/status",  # loopback
        "https://[::1]/status",
        "https://10.0.0.8/status",  # private
        "https://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
        "https://[::ffff:192.168.1.1]/status",  # private IPv4 inside IPv6
        "https://localhost/status",  # resolves to loopback
        "https://intranet.example.org/status",  # resolves to a private address
        "https://sneaky.example.org/status",  # one of its addresses is link-local
        "https://no-such-host.example.net/status",  # does not exist
        "not a url",
        "ftp://emr.example.org/",
        "https://emr.example.org/" + "a" * 500,
    ],
)
def test_bad_callback_url(api: ApiCaller, practice: Practice, url: str) -> None:
    response = api.post(data=message_payload(practice, callback_url=url))
    assert_error(response, 400, "invalid_callback_url", "callback_url")


# --- The request as a whole -----------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ['{"to": "+18185550101", ', "not json", '{"body": NaN}', '{"n": 1e999}'],
)
def test_malformed_json(api: ApiCaller, practice: Practice, raw: str) -> None:
    assert_error(api.post(raw=raw), 400, "malformed_json", None)


@pytest.mark.parametrize("raw", ["[" * 50_000, "[" * 33 + "]" * 33, '{"a":' * 40 + "1" + "}" * 40])
def test_nested_too_deep(api: ApiCaller, practice: Practice, raw: str) -> None:
    # Too deep to parse at all (the first), or parsed and over the limit of 32 levels.
    assert_error(api.post(raw=raw), 400, "json_too_deep")


def test_invalid_utf8(api: ApiCaller, practice: Practice) -> None:
    assert_error(api.post(raw=b'{"body": "\xff"}'), 400, "malformed_json", None)


@pytest.mark.parametrize("text", ["nul \\u0000 byte", "lone \\ud800 surrogate"])
def test_unstorable_characters(api: ApiCaller, practice: Practice, text: str) -> None:
    raw = json.dumps(message_payload(practice, body="placeholder")).replace("placeholder", text)
    assert_error(api.post(raw=raw), 400, "invalid_characters", None)


@pytest.mark.parametrize("raw", ["[]", '"text"', "null", "42"])
def test_body_not_an_object(api: ApiCaller, raw: str) -> None:
    assert_error(api.post(raw=raw), 400, "invalid_body", None)


def test_empty_request_body(api: ApiCaller) -> None:
    assert_error(api.post(raw=""), 400, "missing_field", "to")


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "xml"],
)
def test_wrong_content_type(api: ApiCaller, practice: Practice, content_type: str) -> None:
    raw = json.dumps(message_payload(practice))
    response = api.post(raw=raw, content_type=content_type)
    assert_error(response, 415, "unsupported_media_type", None)


def test_oversized_request(api: ApiCaller, practice: Practice, settings: Any) -> None:
    raw = json.dumps(message_payload(practice, metadata={"pad": "x" * 70_000}))
    assert_error(api.post(raw=raw), 413, "request_too_large", None)


def test_unknown_field(api: ApiCaller, practice: Practice) -> None:
    """A misspelt option must not be dropped silently (here: a secure message sent plain)."""
    response = api.post(data=message_payload(practice, secure_message=True))
    assert_error(response, 400, "unknown_field", "secure_message")


def test_idempotency_key_too_long(api: ApiCaller, practice: Practice) -> None:
    response = api.post(data=message_payload(practice), headers={"Idempotency-Key": "k" * 256})
    assert_error(response, 400, "invalid_idempotency_key", "Idempotency-Key")


def test_wrong_method(api: ApiCaller) -> None:
    response = api.client.put(MESSAGES_URL, "{}", content_type="application/json")
    assert_error(response, 401, "not_authenticated")  # unauthenticated callers learn nothing
    response = api.client.delete(MESSAGES_URL, headers=api.headers())
    assert_error(response, 405, "method_not_allowed", None)


@pytest.mark.parametrize(
    "path", ["/api/", "/api/v1/", "/api/v1/messages/", "/api/v2/messages", "/api/v1/nope"]
)
def test_unknown_api_urls_are_json_404(api: ApiCaller, path: str) -> None:
    assert_error(api.get(path), 404, "not_found", None)
    assert_error(api.client.post(path, "{}", content_type="application/json"), 404, "not_found")
