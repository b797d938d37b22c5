"""The portal: date of birth, then the secure thread with the practice and a reply that enters
the inbound path as a secure message and reaches the EMR as a signed `patient.response`."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from standardwebhooks import Webhook

from channels_app.models import PatientChannel
from messaging.models import Message, SecureAccessAttempt, SecureLink
from messaging.simulator_phone import simulator_patient_texts
from practices.models import Line
from tests.support import Receiver
from tests.support.portal import DOB, PHONE, SECRET_TEXT, Visitor, link_token
from webhooks.models import WebhookDelivery
from webhooks.services import ApiClientCredentials

pytestmark = pytest.mark.django_db


def page(response: Any) -> str:
    return " ".join(response.content.decode().split())


def test_headers_of_every_portal_page(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    me = visitor(link_token(send_secure()))
    for response in (me.open(), me.dob(), me.client.get("/secure/not-a-real-token/")):
        assert response["X-Robots-Tag"] == "noindex, nofollow"
        assert "no-store" in response["Cache-Control"]
        assert response["Referrer-Policy"] == "same-origin"
        assert '<meta name="robots" content="noindex, nofollow">' in response.content.decode()
        assert "http://" not in response.content.decode().split("</head>")[0].replace(
            "http://www.w3.org", ""
        )


def test_unknown_token_is_404(visitor: Callable[[str], Visitor], db: None) -> None:
    response = visitor("x" * 43).open()
    assert response.status_code == 404
    assert "This link does not work" in page(response)


def test_wrong_then_right_date_of_birth(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    message = send_secure()
    me = visitor(link_token(message))
    first = me.open()
    assert "confirm your date of birth" in page(first)
    assert SECRET_TEXT not in page(first)

    wrong = me.dob(datetime.date(1961, 7, 24))
    assert wrong.status_code == 200
    assert "That date of birth does not match our records." in page(wrong)
    assert "4 attempts left" in page(wrong)
    assert SECRET_TEXT not in page(wrong)
    assert me.thread().redirect_chain[-1][0] == me.base  # not in yet

    right = me.dob()
    assert right.redirect_chain[-1][0] == me.base + "thread/"
    assert SECRET_TEXT in page(right)
    assert "Acme Clinic" in page(right)
    link = SecureLink.objects.get(message=message)
    assert link.failed_attempts == 0
    assert link.last_opened_at is not None
    attempts = list(link.attempts.order_by("at", "id").values_list("kind", "outcome", "success"))
    assert attempts == [("dob", "wrong", False), ("dob", "ok", True)]
    assert set(link.attempts.values_list("ip_address", flat=True)) == {"127.0.0.1"}
    assert set(link.attempts.values_list("user_agent", flat=True)) == {"PhoneBrowser/1.0"}


def test_a_date_that_is_not_a_date_is_not_a_guess(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    me = visitor(link_token(send_secure()))
    for fields in ({"month": "13"}, {"day": "x"}, {"year": "61"}):
        response = me.dob(**fields)
        assert response.status_code == 200
        assert 'role="alert"' in response.content.decode()
    assert not SecureAccessAttempt.objects.exists()


def test_csrf_is_required(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    me = visitor(link_token(send_secure()))
    response = me.client.post(me.base, {"month": "7", "day": "23", "year": "1961"})
    assert response.status_code == 403
    assert not SecureAccessAttempt.objects.exists()


def test_the_thread_shows_the_channels_secure_messages_only(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor], line: Line, run: Any
) -> None:
    older = send_secure(body="Earlier secure note")
    plain = send_secure(body="Plain reminder: bring your card", secure=False)
    run(
        simulator_patient_texts,
        from_number=PHONE,
        to_number=line.phone_number.as_e164,
        body="An SMS reply",
    )
    latest = send_secure()
    assert older.channel_id == plain.channel_id == latest.channel_id
    me = visitor(link_token(latest))
    shown = page(me.dob())
    assert "Earlier secure note" in shown
    assert SECRET_TEXT in shown
    assert "Plain reminder" not in shown
    assert "An SMS reply" not in shown


def test_the_reply_lands_in_the_channel_and_goes_to_the_emr(
    send_secure: Callable[..., Message],
    visitor: Callable[[str], Visitor],
    receiver: Receiver,
    credentials: ApiClientCredentials,
) -> None:
    message = send_secure()
    PatientChannel.objects.filter(pk=message.channel_id).update(needs_action=False)
    me = visitor(link_token(message))
    me.dob()
    receiver.requests.clear()

    response = me.reply("Thank you. Can I also get a copy by mail?")
    assert "Your reply was sent to Acme Clinic." in page(response)
    assert "Thank you. Can I also get a copy by mail?" in page(response)

    reply = Message.objects.get(direction="inbound")
    assert reply.is_secure
    assert reply.sender_kind == "patient"
    assert reply.channel_id == message.channel_id
    assert reply.patient_id == message.patient_id
    assert reply.from_number == PHONE
    channel = PatientChannel.objects.get(pk=message.channel_id)
    assert channel.needs_action
    assert channel.status == "open"

    (request,) = [r for r in receiver.requests if r.json()["type"] == "patient.response"]
    payload = Webhook(credentials.webhook_secret).verify(request.body, request.headers)
    data = payload["data"]
    assert data["secure"] is True
    assert data["patient_id"] == str(message.patient_id)
    assert data["message_id"] == str(reply.pk)
    assert data["in_reply_to"] == str(message.pk)
    assert data["body"] == "Thank you. Can I also get a copy by mail?"
    delivery = WebhookDelivery.objects.get(event_type="patient.response")
    assert delivery.status == "delivered"


def test_a_resubmitted_reply_is_stored_once(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    me = visitor(link_token(send_secure()))
    me.dob()
    key = "0b5c3a3e-8f3e-4a57-9a0e-6f0d2b1c9d11"
    me.reply("Yes, Tuesday works.", reply_key=key)
    me.reply("Yes, Tuesday works.", reply_key=key)
    assert Message.objects.filter(direction="inbound").count() == 1


def test_an_empty_reply_is_a_form_error(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    me = visitor(link_token(send_secure()))
    me.dob()
    response = me.reply("   ")
    assert response.status_code == 200
    assert "Write your reply first." in page(response)
    assert not Message.objects.filter(direction="inbound").exists()


def test_a_portal_stop_is_a_message_not_an_opt_out(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    me = visitor(link_token(send_secure()))
    me.dob()
    me.reply("STOP")
    assert Message.objects.get(direction="inbound").body == "STOP"
    from messaging.models import OptOut

    assert not OptOut.objects.exists()


def test_a_patient_without_a_date_of_birth_is_told_to_call(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    message = send_secure()
    type(message.patient).objects.filter(pk=message.patient_id).update(date_of_birth=None)
    response = visitor(link_token(message)).open()
    assert "We cannot open this message here" in page(response)
    assert DOB.isoformat() not in page(response)


def test_a_portal_reply_answers_the_secure_message_not_a_later_reminder(
    send_secure: Callable[..., Message],
    visitor: Callable[[str], Visitor],
    receiver: Receiver,
    credentials: ApiClientCredentials,
) -> None:
    secure = send_secure()
    send_secure(body="Reminder: your appointment is Tuesday at 10.", secure=False)
    me = visitor(link_token(secure))
    me.dob()
    me.reply("Got it, thank you.")
    (request,) = [r for r in receiver.requests if r.json()["type"] == "patient.response"]
    data = Webhook(credentials.webhook_secret).verify(request.body, request.headers)["data"]
    assert data["in_reply_to"] == str(secure.pk)
    assert data["secure"] is True


def test_a_reply_to_a_staff_only_conversation_sends_no_webhook(
    practice: Any,
    patient: Any,
    visitor: Callable[[str], Visitor],
    receiver: Receiver,
    credentials: ApiClientCredentials,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Today's rule (webhooks/delivery.py): `patient.response` goes to the client of the
    conversation's latest API-sent message; a conversation only staff wrote in has none."""
    from messaging.services import Staff, ToNumber, message_send

    with django_capture_on_commit_callbacks(execute=True):
        staff_secure = message_send(
            to=ToNumber(practice, PHONE, patient=patient),
            sender=Staff(),
            body=SECRET_TEXT,
            secure=True,
        )
    me = visitor(link_token(staff_secure))
    me.dob()
    me.reply("Thanks")
    assert Message.objects.get(direction="inbound").is_secure
    assert not WebhookDelivery.objects.filter(event_type="patient.response").exists()
