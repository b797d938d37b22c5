"""The inbox's socket (`/ws/inbox/`), asserted on the socket itself: who may open one, which
events reach it (only its user's practices'), and what it may send (typing, only for its
user's conversations). Real PostgreSQL and the real Redis channel layer, through the whole
ASGI stack (`artera.asgi.application`: origin check, session auth, routing)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings as django_settings
from django.test import Client

from artera.asgi import application
from channels_app import services
from channels_app.models import PatientChannel
from inbox import consumers, push
from messaging.models import MessageStatus
from messaging.services import message_status_apply
from practices.models import Membership, Practice
from tests.factories import MembershipFactory, MessageFactory, PracticeFactory
from tests.support import channel_url, client_for
from tests.support.websocket import WebsocketCommunicator

pytestmark = pytest.mark.django_db(transaction=True)

NOTHING = 0.5  # seconds a socket is watched for an event that must not come


@pytest.fixture(autouse=True)
def redis_layer(real_services: str, settings: Any) -> str:
    """The Redis channel layer under a prefix of this test's own."""
    prefix = f"artera-live-test-{uuid.uuid4().hex[:8]}"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [real_services], "prefix": prefix},
        }
    }
    return prefix


def _socket(client: Client | None, *, origin: str = "http://testserver") -> WebsocketCommunicator:
    headers = [(b"origin", origin.encode()), (b"host", b"testserver")]
    if client is not None:
        cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
        headers.append((b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    return WebsocketCommunicator(application, "/ws/inbox/", headers=headers)


async def _open(client: Client) -> WebsocketCommunicator:
    socket = _socket(client)
    connected, _ = await socket.connect()
    assert connected
    ready = await socket.receive_json_from(timeout=5)
    assert ready["type"] == "ready"
    return socket


async def _next(socket: WebsocketCommunicator, kind: str, timeout: float = 5) -> dict[str, Any]:
    """The next event of type `kind` (others, like presence, may come first)."""
    while True:
        event = await socket.receive_json_from(timeout=timeout)
        if event["type"] == kind:
            return event


async def _nothing_of(socket: WebsocketCommunicator, channel: PatientChannel) -> None:
    """No event about `channel` arrives (events of the socket's own practices may)."""
    while not await socket.receive_nothing(timeout=NOTHING):
        raw = await socket.receive_from()
        assert str(channel.pk) not in raw, raw


def _run(scenario: Callable[[], Awaitable[None]]) -> None:
    # In a thread of its own: once Playwright's sync API ran in this process (a browser test
    # earlier in the session), the main thread has an event loop and async_to_sync refuses it.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(async_to_sync(scenario)).result()


def _sync(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Awaitable[Any]:
    return database_sync_to_async(fn)(*args, **kwargs)


# --- Who may open a socket ----------------------------------------------------------------------


def test_anonymous_socket_is_refused() -> None:
    async def scenario() -> None:
        socket = _socket(None)
        connected, _ = await socket.connect()
        assert not connected

    _run(scenario)


def test_socket_from_another_site_is_refused(staff_a: Any) -> None:
    client = client_for(staff_a)

    async def scenario() -> None:
        socket = _socket(client, origin="https://evil.example")
        connected, _ = await socket.connect()
        assert not connected

    _run(scenario)


def test_socket_joins_only_its_users_practices(
    staff_a: Any, practice_a: Practice, practice_b: Practice
) -> None:
    other_a = PracticeFactory(enterprise=practice_a.enterprise, name="A call center")
    MembershipFactory(user=staff_a, practice=other_a, role=Membership.Role.STAFF)
    client = client_for(staff_a)

    async def scenario() -> None:
        socket = _socket(client)
        assert (await socket.connect())[0]
        ready = await socket.receive_json_from(timeout=5)
        assert ready["practices"] == sorted([str(practice_a.pk), str(other_a.pk)])
        assert str(practice_b.pk) not in ready["practices"]
        await socket.disconnect()

    _run(scenario)


# --- Which events reach it ----------------------------------------------------------------------


def test_practice_events_reach_its_members_and_no_one_else(
    staff_a: Any, colleague: Any, staff_b: Any, verified_channel: PatientChannel
) -> None:
    a, b = client_for(staff_a), client_for(staff_b)
    actor = client_for(colleague)

    async def scenario() -> None:
        socket_a, socket_b = await _open(a), await _open(b)

        response = await _sync(
            actor.post, channel_url(verified_channel, "assign/"), {"assignee": "me"}
        )
        assert response.status_code in (200, 302)
        event = await _next(socket_a, "channel")
        assert event == {
            "type": "channel",
            "what": "assigned",
            "channel": str(verified_channel.pk),
            "assignee": colleague.pk,
            "actor": colleague.pk,
        }

        await _sync(actor.post, channel_url(verified_channel, "status/"), {"action": "close"})
        assert (await _next(socket_a, "channel"))["what"] == "status"

        await _sync(actor.post, channel_url(verified_channel, "send/"), {"body": "See you soon"})
        assert (await _next(socket_a, "channel"))["what"] == "outbound"

        await _nothing_of(socket_b, verified_channel)
        await socket_a.disconnect()
        await socket_b.disconnect()

    _run(scenario)


def test_a_patients_text_reaches_the_practice_with_who_it_is_for(
    staff_a: Any, staff_b: Any, practice_a: Practice
) -> None:
    a, b = client_for(staff_a), client_for(staff_b)
    line = practice_a.lines.get()

    def texts(body: str) -> Any:
        return Client().post(
            "/simulator/api/inbound",
            data=json.dumps({"from": "+18185550177", "to": str(line.phone_number), "body": body}),
            content_type="application/json",
        )

    async def scenario() -> None:
        socket_a, socket_b = await _open(a), await _open(b)
        assert (await _sync(texts, "Hi, is the clinic open?")).status_code == 202
        first = await _next(socket_a, "message")
        assert first["direction"] == "inbound"
        assert first["new"] is True
        assert first["assignee"] is None
        channel = await _sync(PatientChannel.objects.get, phone="+18185550177")
        assert first["channel"] == str(channel.pk)

        assert (await _sync(texts, "Hello?")).status_code == 202
        second = await _next(socket_a, "message")
        assert second["new"] is False

        await _nothing_of(socket_b, channel)
        await socket_a.disconnect()
        await socket_b.disconnect()

    _run(scenario)


def test_a_delivery_status_reaches_the_practice(
    staff_a: Any, staff_b: Any, verified_channel: PatientChannel
) -> None:
    message = MessageFactory(
        channel=verified_channel, status=MessageStatus.SENT, provider_message_id="SM-live-1"
    )
    a, b = client_for(staff_a), client_for(staff_b)

    async def scenario() -> None:
        socket_a, socket_b = await _open(a), await _open(b)
        await _sync(message_status_apply, message_id=message.pk, status=MessageStatus.DELIVERED)
        event = await _next(socket_a, "status")
        assert event == {"type": "status", "channel": str(verified_channel.pk)}
        await _nothing_of(socket_b, verified_channel)
        await socket_a.disconnect()
        await socket_b.disconnect()

    _run(scenario)


def test_a_mention_reaches_only_the_member_mentioned(
    staff_a: Any, colleague: Any, manager_a: Any, verified_channel: PatientChannel
) -> None:
    dana, manager = client_for(colleague), client_for(manager_a)

    async def scenario() -> None:
        socket_dana, socket_manager = await _open(dana), await _open(manager)
        await _sync(services.note_add, channel=verified_channel, author=staff_a, body="@dana look")
        assert await _next(socket_dana, "mention") == {
            "type": "mention",
            "channel": str(verified_channel.pk),
        }
        # The manager hears the note (a practice event), but no mention.
        assert (await _next(socket_manager, "channel"))["what"] == "note"
        assert await socket_manager.receive_nothing(timeout=NOTHING)
        await socket_dana.disconnect()
        await socket_manager.disconnect()

    _run(scenario)


def test_a_rolled_back_change_is_never_published(
    staff_a: Any, colleague: Any, verified_channel: PatientChannel
) -> None:
    from django.db import transaction

    a = client_for(staff_a)

    def assign_then_fail() -> None:
        with contextlib.suppress(RuntimeError), transaction.atomic():
            services.channel_assign(
                channel=verified_channel, user=staff_a, assignee_id=colleague.pk
            )
            raise RuntimeError("boom")
        verified_channel.refresh_from_db()

    async def scenario() -> None:
        socket = await _open(a)
        await _sync(assign_then_fail)
        await _sync(services.channel_close, channel=verified_channel, user=staff_a)
        # The first event is the close: the rolled-back assignment never went out.
        event = await _next(socket, "channel")
        assert event["what"] == "status"
        assert event["assignee"] is None
        await socket.disconnect()

    _run(scenario)


# --- Membership and session, checked again -------------------------------------------------------


def test_a_removed_member_stops_receiving(
    staff_a: Any, colleague: Any, verified_channel: PatientChannel, monkeypatch: Any
) -> None:
    monkeypatch.setattr(consumers, "RECHECK_SECONDS", 0.0)
    dana = client_for(colleague)

    async def scenario() -> None:
        socket = await _open(dana)
        await _sync(Membership.objects.filter(user=colleague).delete)
        await _sync(services.channel_close, channel=verified_channel, user=staff_a)
        await _nothing_of(socket, verified_channel)
        await socket.disconnect()

    _run(scenario)


def test_a_socket_closes_when_its_session_ends(
    staff_a: Any, colleague: Any, verified_channel: PatientChannel, monkeypatch: Any
) -> None:
    monkeypatch.setattr(consumers, "RECHECK_SECONDS", 0.0)
    dana = client_for(colleague)

    async def scenario() -> None:
        socket = await _open(dana)
        await _sync(dana.post, "/accounts/logout/")
        await _sync(services.channel_close, channel=verified_channel, user=staff_a)
        output = await socket.receive_output(timeout=5)
        assert output == {"type": "websocket.close", "code": consumers.CLOSE_UNAUTHENTICATED}

    _run(scenario)


# --- What the browser may send ------------------------------------------------------------------


def test_typing_reaches_colleagues_but_not_the_typist_or_other_practices(
    staff_a: Any, colleague: Any, staff_b: Any, verified_channel: PatientChannel
) -> None:
    colleague.first_name, colleague.last_name = "Dana", "Reyes"
    colleague.save()
    a, dana, b = client_for(staff_a), client_for(colleague), client_for(staff_b)

    async def scenario() -> None:
        socket_a, socket_dana, socket_b = await _open(a), await _open(dana), await _open(b)
        await socket_dana.send_json_to({"type": "typing", "channel": str(verified_channel.pk)})
        assert await _next(socket_a, "typing") == {
            "type": "typing",
            "channel": str(verified_channel.pk),
            "user": colleague.pk,
            "name": "Dana Reyes",
        }
        assert await socket_dana.receive_nothing(timeout=NOTHING)
        await _nothing_of(socket_b, verified_channel)
        for socket in (socket_a, socket_dana, socket_b):
            await socket.disconnect()

    _run(scenario)


def test_typing_in_another_practices_conversation_goes_nowhere(
    staff_a: Any, staff_b: Any, practice_b: Practice, verified_channel: PatientChannel
) -> None:
    b_channel = PatientChannel.objects.create(
        practice=practice_b, line=practice_b.lines.get(), phone="+18185550190"
    )
    a, b = client_for(staff_a), client_for(staff_b)

    async def scenario() -> None:
        socket_a, socket_b = await _open(a), await _open(b)
        # staff_b names practice A's conversation, and a made-up id: neither goes out.
        await socket_b.send_json_to({"type": "typing", "channel": str(verified_channel.pk)})
        await socket_b.send_json_to({"type": "typing", "channel": "not-a-uuid"})
        await socket_b.send_json_to(["not", "an", "object"])
        await _nothing_of(socket_a, verified_channel)
        # Their own practice's conversation is fine, and reaches nobody of A.
        await socket_b.send_json_to({"type": "typing", "channel": str(b_channel.pk)})
        await _nothing_of(socket_a, b_channel)
        await socket_a.disconnect()
        await socket_b.disconnect()

    _run(scenario)


def test_publishing_does_not_wait_for_a_redis_that_is_down(
    staff_a: Any, verified_channel: PatientChannel, settings: Any
) -> None:
    # A port nobody listens on: the publish fails on the publisher thread and is only logged.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:9/0"}]},
        }
    }
    dropped = push._publisher.dropped
    services.channel_close(channel=verified_channel, user=staff_a)
    verified_channel.refresh_from_db()
    assert verified_channel.status == PatientChannel.Status.CLOSED
    assert push.publisher_wait_idle(timeout=10)
    assert push._publisher.dropped == dropped + 1
