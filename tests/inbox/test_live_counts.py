"""The notification counts (`/inbox/counts/`, the filter tabs, Mentions and the title) and where
pages offer the live socket."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from channels_app import services
from channels_app.models import PatientChannel
from messaging.models import Message
from practices.models import Practice
from tests.factories import MessageFactory, PatientChannelFactory
from tests.support import channel_url, client_for

pytestmark = pytest.mark.django_db


def _waiting(practice: Practice, phone: str, **fields: Any) -> PatientChannel:
    """A conversation with a patient's text nobody answered yet."""
    channel = PatientChannelFactory(
        line=practice.lines.get(), phone=phone, needs_action=True, **fields
    )
    MessageFactory(
        channel=channel,
        direction=Message.Direction.INBOUND,
        sender_kind=Message.SenderKind.PATIENT,
        body="Hello?",
        from_number=phone,
        to_number=practice.lines.get().phone_number.as_e164,
    )
    return channel


def _counts(user: Any) -> dict[str, Any]:
    response = client_for(user).get("/inbox/counts/")
    assert response.status_code == 200
    return response.json()


def test_counts_per_tab_mentions_and_title(
    staff_a: Any, colleague: Any, practice_a: Practice
) -> None:
    mine = _waiting(practice_a, "+18185550201", assignee=staff_a)
    _waiting(practice_a, "+18185550202")
    _waiting(practice_a, "+18185550203", assignee=colleague)
    services.note_add(channel=mine, author=colleague, body="@staff_a can you call?")

    counts = _counts(staff_a)
    assert counts == {
        "open": 3,
        "closed": 0,
        "all": 3,
        "me": 1,
        "unassigned": 1,
        "mentions": 1,
        "capped": False,
        "title": 4,
    }


def test_reading_a_conversation_takes_it_out_of_the_counts(
    staff_a: Any, practice_a: Practice
) -> None:
    channel = _waiting(practice_a, "+18185550204", assignee=staff_a)
    assert _counts(staff_a)["me"] == 1
    client_for(staff_a).get(channel_url(channel))
    assert _counts(staff_a)["me"] == 0
    # A newer text makes it unread again.
    MessageFactory(
        channel=channel,
        direction=Message.Direction.INBOUND,
        sender_kind=Message.SenderKind.PATIENT,
        from_number="+18185550204",
        to_number=practice_a.lines.get().phone_number.as_e164,
        created_at=timezone.now(),
    )
    assert _counts(staff_a)["me"] == 1


def test_another_practices_conversations_and_mentions_never_count(
    staff_a: Any, staff_b: Any, practice_a: Practice, practice_b: Practice
) -> None:
    _waiting(practice_a, "+18185550205")
    assert _counts(staff_b)["all"] == 0
    assert _counts(staff_b)["title"] == 0
    _waiting(practice_b, "+18185550206")
    assert _counts(staff_b)["all"] == 1
    assert _counts(staff_a)["all"] == 1


def test_counts_need_a_signed_in_user(client: Any) -> None:
    response = client.get("/inbox/counts/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_counts_cost_the_same_queries_however_many_conversations(
    staff_a: Any, practice_a: Practice, django_assert_max_num_queries: Any
) -> None:
    client = client_for(staff_a)
    _waiting(practice_a, "+18185550210")
    # Session, user, the waiting conversations, the mentions.
    with django_assert_max_num_queries(4):
        client.get("/inbox/counts/")
    for n in range(20):
        _waiting(practice_a, f"+181855503{n:02d}")
    with django_assert_max_num_queries(4):
        assert client.get("/inbox/counts/").json()["all"] == 21


def test_a_page_served_without_the_asgi_server_polls(staff_a: Any, settings: Any) -> None:
    page = client_for(staff_a).get("/inbox/").content.decode()
    assert 'data-live-socket=""' in page
    settings.LIVE_SOCKET = "on"  # gunicorn for pages, uvicorn for /ws/ behind one proxy
    page = client_for(staff_a).get("/inbox/").content.decode()
    assert 'data-live-socket="/ws/inbox/"' in page
    settings.LIVE_PUSH_ENABLED = False
    page = client_for(staff_a).get("/inbox/").content.decode()
    assert 'data-live-socket=""' in page
