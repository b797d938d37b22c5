"""CALLER_ID_NUMBER: the forms a US number may come in, and every kind of bad one."""

from __future__ import annotations

import json
from typing import Any

import pytest

from messaging.models import Message
from tests.support.call_to_text import Hit
from webhooks.models import CallToTextCall

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "caller",
    [
        "8185550142",  # the documented form: 10 digits
        "18185550142",  # 1 + 10 digits
        "+18185550142",  # E.164
        " 8185550142 ",
        "818-555-0142",  # phone systems format numbers in many ways
        "(818) 555-0142",
        "818.555.0142",
        "+1 818 555 0142",
        8185550142,  # a JSON number
    ],
    ids=repr,
)
def test_valid_forms_are_normalized(hit: Hit, token: str, caller: Any) -> None:
    response = hit(token, caller, via="json")
    assert response.status_code == 202, response.json()
    message = Message.objects.get(pk=response.json()["message_id"])
    assert message.to_number == "+18185550142"


@pytest.mark.parametrize(
    ("caller", "why"),
    [
        ("anonymous", "letters (a withheld caller id)"),
        ("Restricted", "letters"),
        ("818555014x", "a letter among digits"),
        ("818-CALL-NOW", "a vanity number"),
        ("818555014", "9 digits"),
        ("5550142", "7 digits"),
        ("81855501420", "11 digits not starting with 1"),
        ("118185550142", "12 digits"),
        ("28185550142", "11 digits starting with 2"),
        ("+8185550142", "+ without the country code 1"),
        ("+28185550142", "another country code"),
        ("+448185550142", "a UK number"),
        ("+442071838750", "a UK number"),
        ("0185550142", "area code starting with 0"),
        ("1185550142", "area code starting with 1"),
        ("10185550142", "1 + area code starting with 0"),
        ("+11185550142", "+1 + area code starting with 1"),
        ("4165550142", "a Canadian number (+1 but not US)"),
        ("+14165550142", "a Canadian number in E.164"),
        ("8180550142", "exchange starting with 0"),
        ("", "empty"),
        ("   ", "blank"),
        ("+", "a lone plus"),
        ("8185550142,8185550143", "two numbers"),
        ("".join(chr(0xFF10 + int(d)) for d in "8185550142"), "full-width digits"),
    ],
    ids=lambda v: repr(v),
)
def test_invalid_numbers_are_400(hit: Hit, token: str, caller: str, why: str) -> None:
    response = hit(token, caller)
    assert response.status_code == 400, why
    error = response.json()["error"]
    assert error["code"] == "invalid_caller_id"
    assert error["field"] == "CALLER_ID_NUMBER"
    assert "10-digit US phone number" in error["message"] or "required" in error["message"]
    assert set(response.json()) == {"error"}
    assert not Message.objects.exists()
    assert not CallToTextCall.objects.exists()


@pytest.mark.parametrize("via", ["query", "form", "json"])
def test_missing_caller_id_is_400(hit: Hit, token: str, via: str) -> None:
    response = hit(token, None, via=via)
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "invalid_caller_id",
            "message": "CALLER_ID_NUMBER is required.",
            "field": "CALLER_ID_NUMBER",
        }
    }


@pytest.mark.parametrize("value", [None, True, ["8185550142"], {"n": "8185550142"}, 818.5])
def test_json_values_that_are_no_number_are_400(token: str, client: Any, value: Any) -> None:
    response = client.post(
        f"/webhook/call-to-text/{token}/",
        json.dumps({"CALLER_ID_NUMBER": value}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_caller_id"
