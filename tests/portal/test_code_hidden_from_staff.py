"""The portal's one-time code is the patient's secret: the carrier gets it unchanged, but staff
never see its digits (thread, live fragments, inbox list and preview, admin, the API's read),
and the automated text neither moves the conversation to the top of the inbox nor replaces the
patient's last message in the preview."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from channels_app.models import PatientChannel
from messaging.models import Message, SecureLink, SimulatorNumber
from messaging.selectors import message_get_for_api_client
from messaging.services import message_receive_inbound
from practices.models import Membership, Practice
from tests.factories import MembershipFactory
from tests.support import client_for
from tests.support.api import get_token
from tests.support.portal import PHONE, Visitor, age, carried_to, link_token
from webhooks.models import ApiClient
from webhooks.services import ApiClientCredentials

pytestmark = pytest.mark.django_db

CODE_RE = re.compile(r"security code is (\d{5})\.")
PATIENT_TEXT = "Is this still the clinic?"


@pytest.fixture
def staff(practice: Practice) -> Client:
    user = MembershipFactory(practice=practice, role=Membership.Role.STAFF).user
    return client_for(user)


def code_texted(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> tuple[Message, str, PatientChannel]:
    """A secure message, the patient's own text, then (the link being old) a code texted on
    the portal. Returns the code's message, the code the carrier carried, and the channel as it
    was before the code."""
    notice = send_secure()
    message_receive_inbound(
        to=notice.from_number, from_=PHONE, body=PATIENT_TEXT, provider_message_id="SMpatient"
    )
    before = PatientChannel.objects.get(pk=notice.channel_id)
    age(SecureLink.objects.get(message=notice), hours=25)
    visitor(link_token(notice)).dob()
    match = CODE_RE.search(carried_to()[-1])
    assert match, carried_to()
    code_message = Message.objects.get(kind=Message.Kind.SECURITY_CODE)
    return code_message, match.group(1), before


def test_the_carrier_gets_the_code_unchanged(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor]
) -> None:
    message, code, _ = code_texted(send_secure, visitor)
    assert carried_to()[-1] == (
        f"Your Acme Clinic security code is {code}. It expires in 10 minutes. "
        "Do not share it with anyone."
    )
    assert message.body == carried_to()[-1], "stored as sent: a retry must be the same SMS"
    assert (message.sender_kind, message.status) == ("automation", "delivered")


def test_the_thread_shows_an_event_not_the_code(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor], staff: Client
) -> None:
    message, code, _ = code_texted(send_secure, visitor)
    page = staff.get(f"/inbox/channels/{message.channel_id}/")
    live = staff.get(f"/inbox/channels/{message.channel_id}/live/?since=stale")

    for response in (page, live):
        assert response.status_code == 200
        html = response.content.decode()
        assert code not in html
        assert "security code is" not in html
        assert "Security code texted" in html
        assert PATIENT_TEXT in html


def test_the_inbox_keeps_the_patients_text_as_preview_and_its_place(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor], staff: Client
) -> None:
    message, code, before = code_texted(send_secure, visitor)

    channel = PatientChannel.objects.get(pk=message.channel_id)
    assert channel.last_activity_at == before.last_activity_at, "no bump to the top"
    for url in ("/inbox/", "/inbox/live/"):
        html = staff.get(url).content.decode()
        assert code not in html
        assert "security code" not in html.casefold()
        preview = re.search(r'<p class="channel-preview">(.*?)</p>', html, flags=re.S)
        assert preview is not None, html
        assert PATIENT_TEXT in preview.group(1)


def test_a_failed_code_shows_the_failure_without_the_code(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor], staff: Client
) -> None:
    notice = send_secure()
    SimulatorNumber.objects.create(number=PHONE, kind=SimulatorNumber.Kind.LANDLINE)
    age(SecureLink.objects.get(message=notice), hours=25)
    visitor(link_token(notice)).dob()
    code = CODE_RE.search(carried_to()[-1])
    assert code is not None
    message = Message.objects.get(kind=Message.Kind.SECURITY_CODE)
    assert message.status == "failed"

    html = staff.get(f"/inbox/channels/{message.channel_id}/").content.decode()
    assert code.group(1) not in html
    assert "Delivery failed: Landline" in html


def test_the_admin_does_not_show_the_code(
    send_secure: Callable[..., Message], visitor: Callable[[str], Visitor], superuser: Any
) -> None:
    message, code, _ = code_texted(send_secure, visitor)
    admin = client_for(superuser)
    for url in (
        "/admin/messaging/message/",
        f"/admin/messaging/message/{message.pk}/change/",
        "/admin/messaging/simulatortext/",
        "/admin/messaging/securelink/",
    ):
        response = admin.get(url)
        assert response.status_code == 200, url
        assert code not in response.content.decode(), url
    assert "Security code texted" in admin.get("/admin/messaging/message/").content.decode()
    assert code not in str(message)


def test_the_api_read_does_not_show_the_code(
    send_secure: Callable[..., Message],
    visitor: Callable[[str], Visitor],
    api_client: ApiClient,
    credentials: ApiClientCredentials,
) -> None:
    message, code, _ = code_texted(send_secure, visitor)
    assert code not in message_get_for_api_client(api_client=api_client, message_id=message.pk).body

    response = Client().get(
        f"/api/v1/messages/{message.pk}",
        headers={"Authorization": f"Bearer {get_token(credentials)}"},
    )
    assert response.status_code == 200, response.content
    assert code not in response.content.decode()
    assert response.json()["body"] == "Security code texted"
