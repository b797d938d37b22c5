"""The inbox's socket (`/ws/inbox/`): live events of the signed-in member's practices.

Tenancy, one condition at a time:

- the socket is authenticated by the Django session cookie (`AuthMiddlewareStack`), its Origin
  must be one of ALLOWED_HOSTS (`AllowedHostsOriginValidator`, see `artera.asgi`), and an
  anonymous socket is refused at the handshake;
- it joins the groups of the practices the user is a member of (`practice_list_for_user`) and
  the user's own group (mentions), nothing else;
- every event carries its practice, and is forwarded only while that practice is among the
  user's; memberships and the session are read again at most every `RECHECK_SECONDS`, so a
  removed member or an ended session stops receiving events (the session: the socket closes);
- what the browser sends ("typing" in a conversation) is checked against the conversation's
  practice (`channel_get_for_user`, one query, remembered for a short while) before it goes out.

The socket never extends the session's idle timeout: it reads the session, never saves it.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.utils.module_loading import import_string

from artera.errors import NotFound
from practices.selectors import practice_list_for_user

from . import push
from .selectors import channel_get_for_user

RECHECK_SECONDS = 30.0
TYPING_MIN_INTERVAL = 1.0
CLOSE_UNAUTHENTICATED = 4401


class InboxConsumer(AsyncJsonWebsocketConsumer):
    practice_ids: set[str]
    checked_at: float

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()  # refused at the handshake (HTTP 403)
            return
        self.user = user
        self.practice_ids = set()
        self.allowed_channels: dict[str, tuple[uuid.UUID, float]] = {}
        self.typing_sent: dict[str, float] = {}
        await self._join(await self._practice_ids())
        await self.channel_layer.group_add(push.user_group(user.pk), self.channel_name)
        await self.accept()
        await self.send_json({"type": "ready", "practices": sorted(self.practice_ids)})

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "practice_ids"):
            return
        for practice_id in self.practice_ids:
            await self.channel_layer.group_discard(
                push.practice_group(practice_id), self.channel_name
            )
        await self.channel_layer.group_discard(push.user_group(self.user.pk), self.channel_name)

    # --- From the server to the browser ---------------------------------------------------------

    async def live_event(self, message: dict[str, Any]) -> None:
        if message.get("origin") and message["origin"] == self.channel_name:
            return  # the browser that typed does not need to hear it
        if not await self._recheck():
            return
        if message.get("practice") not in self.practice_ids:
            return
        await self.send_json(message["event"])

    # --- From the browser to the server ---------------------------------------------------------

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            return
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        elif content.get("type") == "typing":
            await self._typing(str(content.get("channel", ""))[:64])

    async def _typing(self, channel_id: str) -> None:
        now = time.monotonic()
        if now - self.typing_sent.get(channel_id, 0.0) < TYPING_MIN_INTERVAL:
            return
        if not await self._recheck():
            return
        practice_id = await self._practice_of(channel_id)
        if practice_id is None or str(practice_id) not in self.practice_ids:
            return
        self.typing_sent[channel_id] = now
        await push.typing_publish(
            practice_id=practice_id,
            channel_id=uuid.UUID(channel_id),
            user_id=self.user.pk,
            name=self.user.get_full_name() or self.user.get_username(),
            origin=self.channel_name,
        )

    # --- Tenancy ----------------------------------------------------------------------------------

    async def _join(self, practice_ids: set[str]) -> None:
        for gone in self.practice_ids - practice_ids:
            await self.channel_layer.group_discard(push.practice_group(gone), self.channel_name)
        for new in practice_ids - self.practice_ids:
            await self.channel_layer.group_add(push.practice_group(new), self.channel_name)
        self.practice_ids = practice_ids
        self.checked_at = time.monotonic()

    async def _recheck(self) -> bool:
        """Read memberships and the session again when the last look is `RECHECK_SECONDS`
        old; False (and the socket closes) once the session no longer signs this user in."""
        if time.monotonic() - self.checked_at < RECHECK_SECONDS:
            return True
        if not await self._session_still_signed_in():
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return False
        await self._join(await self._practice_ids())
        self.allowed_channels.clear()
        return True

    async def _session_still_signed_in(self) -> bool:
        session = self.scope.get("session")
        key = getattr(session, "session_key", None)
        if not key:
            return False
        store_class = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
        fresh: SessionBase = store_class(session_key=key)
        user = await get_user({"session": fresh})
        return bool(user.is_authenticated and user.pk == self.user.pk)

    @database_sync_to_async
    def _practice_ids(self) -> set[str]:
        return {
            str(pk) for pk in practice_list_for_user(user=self.user).values_list("pk", flat=True)
        }

    async def _practice_of(self, channel_id: str) -> uuid.UUID | None:
        known = self.allowed_channels.get(channel_id)
        if known is not None and time.monotonic() - known[1] < RECHECK_SECONDS:
            return known[0]
        practice_id = await self._channel_practice(channel_id)
        if practice_id is not None:
            self.allowed_channels[channel_id] = (practice_id, time.monotonic())
        return practice_id

    @database_sync_to_async
    def _channel_practice(self, channel_id: str) -> uuid.UUID | None:
        try:
            return channel_get_for_user(user=self.user, channel_id=channel_id).practice_id
        except NotFound:
            return None
