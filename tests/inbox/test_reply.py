"""Replying from the composer: the one send path, secure by default for verified patients,
`!!` and the lock for plain SMS, errors as form errors, and the collision notice."""

from __future__ import annotations

from typing import Any

from channels_app.models import AuditLog, PatientChannel
from messaging.models import Message, OptOut
from messaging.services import message_sms_text
from tests.factories import MessageFactory
from tests.support import channel_url, client_for

HTMX = {"HTTP_HX_REQUEST": "true"}


def _send(user: Any, channel: PatientChannel, **data: Any) -> Any:
    return client_for(user).post(channel_url(channel, "send/"), data, **HTMX)


def test_a_verified_patient_gets_a_secure_message_by_default(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    page = client_for(staff_a).get(channel_url(verified_channel)).content.decode()
    assert 'name="secure" id="composer-secure" value="on" checked' in page

    response = _send(staff_a, verified_channel, body="Your lab results are ready.", secure="on")

    assert response.status_code == 200
    assert response["HX-Trigger"] == "thread-changed"
    message = Message.objects.get()
    assert message.is_secure
    assert message.sender_kind == "staff"
    assert message.sender_user == staff_a
    assert message.body == "Your lab results are ready."
    assert "/secure/" in message_sms_text(message)
    assert "lab results" not in message_sms_text(message)


def test_double_bang_sends_plain_sms_without_the_prefix(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    _send(staff_a, verified_channel, body="!! Parking is on Elm St.", secure="on")

    message = Message.objects.get()
    assert not message.is_secure
    assert message.body == "Parking is on Elm St."


def test_lock_off_sends_plain_sms(staff_a: Any, verified_channel: PatientChannel) -> None:
    _send(staff_a, verified_channel, body="See you soon.")
    assert not Message.objects.get().is_secure


def test_unverified_number_only_gets_plain_sms(
    staff_a: Any, unverified_channel: PatientChannel
) -> None:
    page = client_for(staff_a).get(channel_url(unverified_channel)).content.decode()
    assert 'name="secure"' not in page
    assert "Plain SMS only" in page

    _send(staff_a, unverified_channel, body="Hello", secure="on")

    assert not Message.objects.get().is_secure


def test_send_path_refusals_are_form_errors(staff_a: Any, verified_channel: PatientChannel) -> None:
    OptOut.objects.create(line=verified_channel.line, phone=verified_channel.phone.as_e164)

    response = _send(staff_a, verified_channel, body="Hello", secure="on")
    empty = _send(staff_a, verified_channel, body="   ")

    assert response.status_code == 200
    assert "opted out" in response.content.decode()
    assert "Hello</textarea>" in response.content.decode()  # the draft is kept
    assert "Write the text to send." in empty.content.decode()
    assert not Message.objects.exists()


def test_replying_clears_needs_action_and_is_audited(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    PatientChannel.objects.filter(pk=verified_channel.pk).update(needs_action=True)

    _send(staff_a, verified_channel, body="On it.")

    verified_channel.refresh_from_db()
    assert not verified_channel.needs_action
    message = Message.objects.get()
    audit = AuditLog.objects.get(action="message_sent")
    assert (audit.user, audit.channel_id, audit.message_id) == (
        staff_a,
        verified_channel.pk,
        message.pk,
    )


def test_plain_post_without_htmx_redirects_back(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    response = client_for(staff_a).post(channel_url(verified_channel, "send/"), {"body": "Hi"})
    assert response.status_code == 302
    assert response["Location"] == channel_url(verified_channel)
    assert Message.objects.count() == 1


def test_a_colleagues_newer_reply_asks_for_a_second_click(
    staff_a: Any, colleague: Any, verified_channel: PatientChannel
) -> None:
    seen = MessageFactory(
        channel=verified_channel,
        direction=Message.Direction.INBOUND,
        sender_kind=Message.SenderKind.PATIENT,
        body="Is my refill ready?",
    )
    dana = MessageFactory(
        channel=verified_channel, sender_user=colleague, body="Yes, ready for pickup."
    )

    first = _send(staff_a, verified_channel, body="Let me check.", seen=str(seen.pk))

    content = first.content.decode()
    assert "Dana Reyes replied while you were typing" in content
    assert "Yes, ready for pickup." in content
    assert "Send anyway" in content
    assert f'name="seen" id="composer-seen" value="{dana.pk}"' in content
    assert Message.objects.count() == 2

    second = _send(
        staff_a, verified_channel, body="Let me check.", seen=str(dana.pk), confirmed="1"
    )
    assert second.status_code == 200
    assert Message.objects.filter(sender_user=staff_a).count() == 1


def test_own_replies_and_seen_ones_do_not_collide(
    staff_a: Any, colleague: Any, verified_channel: PatientChannel
) -> None:
    dana = MessageFactory(channel=verified_channel, sender_user=colleague, body="Earlier")
    MessageFactory(channel=verified_channel, sender_user=staff_a, body="Mine")

    _send(staff_a, verified_channel, body="Next", seen=str(dana.pk))

    assert Message.objects.filter(body="Next").exists()
