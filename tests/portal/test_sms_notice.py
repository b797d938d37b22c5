"""A secure message's SMS is a notice with the practice's name and an unguessable link, never
the content; the link's token is stored only as a hash."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from artera.errors import Refused
from artera.secrets import token_hash
from channels_app.models import Patient
from messaging.models import Message, SecureLink, SimulatorText
from messaging.replies import channel_reply
from messaging.services import (
    Api,
    Staff,
    ToNumber,
    line_dispatch,
    message_send,
    message_sms_text,
)
from practices.models import Practice
from tests.factories import MembershipFactory, PatientFactory
from tests.support.portal import PHONE, SECRET_TEXT, carried_to, link_token

pytestmark = pytest.mark.django_db


def test_the_sms_is_only_a_notice_and_a_link(send_secure: Callable[..., Message]) -> None:
    message = send_secure()

    (text,) = carried_to()
    token = link_token(message)
    assert text == (
        f"Acme Clinic sent you a secure message. Open it here: "
        f"http://127.0.0.1:8000/secure/{token}/"
    )
    assert SECRET_TEXT not in text
    assert "biopsy" not in text
    assert message.status == "delivered"
    assert message.is_secure
    assert message.body == SECRET_TEXT
    assert message.segments == 1  # the notice's segments, not the content's


def test_the_token_is_long_random_and_stored_hashed(send_secure: Callable[..., Message]) -> None:
    first, second = send_secure(), send_secure(body="Second result")
    token = link_token(first)
    assert len(base64.urlsafe_b64decode(token + "=")) * 8 == 256
    assert token != link_token(second)
    link = SecureLink.objects.get(message=first)
    assert link.token_hash == token_hash(token)
    stored = [str(value) for value in SecureLink.objects.values_list().get(pk=link.pk)]
    assert not any(token in value for value in stored)


def test_the_notice_is_the_same_text_every_time(send_secure: Callable[..., Message]) -> None:
    """A retried hand-over to the carrier must be the same SMS (and the same link)."""
    message = send_secure()
    assert message_sms_text(message) == message_sms_text(message) == carried_to()[0]
    assert SecureLink.objects.filter(message=message).count() == 1


def test_a_retried_dispatch_sends_the_same_notice(
    practice: Practice, patient: Patient, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        message = message_send(
            to=ToNumber(practice, PHONE, patient=patient),
            sender=Staff(),
            body=SECRET_TEXT,
            secure=True,
        )
    expected = message_sms_text(message)
    line_dispatch(line_id=message.line_id, max_inline_wait=None)
    assert carried_to() == [expected]


def test_a_staff_secure_reply_is_a_notice_too(
    practice: Practice, patient: Patient, django_capture_on_commit_callbacks: Any
) -> None:
    user = MembershipFactory(practice=practice).user
    with django_capture_on_commit_callbacks(execute=True):
        first = message_send(
            to=ToNumber(practice, PHONE, patient=patient), sender=Staff(), body="Hi"
        )
    channel = first.channel
    with django_capture_on_commit_callbacks(execute=True):
        channel_reply(channel=channel, user=user, body=SECRET_TEXT, secure=True)
    with django_capture_on_commit_callbacks(execute=True):
        channel_reply(channel=channel, user=user, body="!! Plain: see you at 9", secure=True)
    bodies = carried_to()
    assert bodies[0] == "Hi"
    assert bodies[1].startswith("Acme Clinic sent you a secure message.")
    assert bodies[2] == "Plain: see you at 9"
    assert not any(SECRET_TEXT in body for body in bodies)


def test_unverified_patients_never_get_secure_messages(practice: Practice, enterprise: Any) -> None:
    unverified = PatientFactory(enterprise=enterprise, mrn=None, is_verified=False)
    for patient in (None, unverified):
        with pytest.raises(Refused) as refused:
            message_send(
                to=ToNumber(practice, PHONE, patient=patient),
                sender=Api(),
                body=SECRET_TEXT,
                secure=True,
            )
        assert refused.value.code == "secure_requires_verified_patient"
    assert not Message.objects.exists()
    assert not SecureLink.objects.exists()
    assert not SimulatorText.objects.exists()
