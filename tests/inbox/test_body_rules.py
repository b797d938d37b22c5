"""One set of body rules: the API's serializer, the inbox's reply form and the send path refuse
the same bodies with the same code and the same words (`artera.bodies`)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.exceptions import ValidationError as ApiValidationError

from artera.bodies import COMPOSER_MAX_LENGTH, MAX_BODY_LENGTH
from artera.errors import InvalidInput
from channels_app.models import PatientChannel
from inbox.forms import ReplyForm
from messaging.models import Message
from messaging.services import Staff, ToChannel, message_send
from tests.support import client_for
from webhooks.api.serializers import BodyField

BAD_BODIES = [
    pytest.param("   \n ", "empty_body", "Write the text to send.", id="blank"),
    pytest.param(
        "x" * (MAX_BODY_LENGTH + 1),
        "body_too_long",
        f"A text can be at most {MAX_BODY_LENGTH} characters (this one has {MAX_BODY_LENGTH + 1}).",
        id="too-long",
    ),
]


def _api_refusal(body: str) -> tuple[str, str]:
    with pytest.raises(ApiValidationError) as caught:
        BodyField().run_validation(body)
    detail = caught.value.detail[0]  # type: ignore[index]
    return detail.code, str(detail)


def _form_refusal(body: str) -> tuple[str, str]:
    form = ReplyForm({"body": body})
    assert not form.is_valid()
    error = form.errors.as_data()["body"][0]
    return error.code or "", error.messages[0]


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "code", "words"), BAD_BODIES)
def test_the_api_the_form_and_the_send_path_agree(
    staff_a: Any, verified_channel: PatientChannel, body: str, code: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        message_send(to=ToChannel(verified_channel), sender=Staff(staff_a), body=body)
    assert (caught.value.code, caught.value.message) == (code, words)
    assert _api_refusal(body) == (code, words)
    assert _form_refusal(body) == (code, words)
    assert not Message.objects.exists()


def test_the_plain_sms_prefix_does_not_count() -> None:
    longest = "!!" + "x" * MAX_BODY_LENGTH
    assert len(longest) == COMPOSER_MAX_LENGTH
    assert ReplyForm({"body": longest}).is_valid()
    assert _form_refusal("!!" + "x" * (MAX_BODY_LENGTH + 1))[0] == "body_too_long"
    assert _form_refusal("!!   ")[0] == "empty_body"


@pytest.mark.django_db
def test_the_composer_shows_the_rule_before_anything_is_sent(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    url = f"/inbox/channels/{verified_channel.pk}/"
    page = client_for(staff_a).get(url).content.decode()
    assert f'maxlength="{COMPOSER_MAX_LENGTH}"' in page
    response = client_for(staff_a).post(
        url + "send/", {"body": "!!" + "x" * (MAX_BODY_LENGTH + 1)}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "A text can be at most 1600 characters (this one has 1601)." in response.content.decode()
    assert not Message.objects.exists()
