"""The inbox's notification counts (a selector module: reads for the signed-in user only).

"Unread" here is what an agent must look at: a conversation of one of the user's practices that
needs action (a patient's text nobody answered yet) with a patient text newer than the user's
last read of it. The filter tabs show how many of those each tab holds, Mentions the user's
unread @mentions, and the page title their sum.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import F, OuterRef, Q, Subquery

from channels_app.models import ChannelRead, Notification, PatientChannel
from messaging.models import Message
from practices.selectors import practice_list_for_user

# Counting stops here: a badge says "500+" rather than make the query read a whole backlog.
COUNT_CAP = 500


@dataclass(frozen=True)
class InboxCounts:
    open: int
    closed: int
    all: int
    me: int
    unassigned: int
    mentions: int
    capped: bool

    @property
    def title(self) -> int:
        return self.all + self.mentions

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "title": self.title}


def inbox_counts_for_user(*, user: AbstractBaseUser | AnonymousUser) -> InboxCounts:
    """Two queries, whatever the user's number of practices: the unread waiting conversations
    (at most `COUNT_CAP`, newest first) and the unread mentions."""
    practices = practice_list_for_user(user=user)
    user_id = cast(int, user.pk)
    last_inbound = (
        Message.objects.filter(channel=OuterRef("pk"), direction=Message.Direction.INBOUND)
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    read_at = ChannelRead.objects.filter(channel=OuterRef("pk"), user_id=user_id).values("read_at")[
        :1
    ]
    rows = list(
        PatientChannel.objects.filter(practice__in=practices, needs_action=True)
        .annotate(last_inbound_at=Subquery(last_inbound), read_at=Subquery(read_at))
        .filter(last_inbound_at__isnull=False)
        .filter(Q(read_at__isnull=True) | Q(last_inbound_at__gt=F("read_at")))
        .order_by("-last_activity_at")
        .values_list("status", "assignee_id")[: COUNT_CAP + 1]
    )
    capped = len(rows) > COUNT_CAP
    rows = rows[:COUNT_CAP]
    mentions = Notification.objects.filter(
        user_id=user_id, read_at__isnull=True, channel__practice__in=practices
    ).count()
    return InboxCounts(
        open=sum(1 for status, _ in rows if status == PatientChannel.Status.OPEN),
        closed=sum(1 for status, _ in rows if status == PatientChannel.Status.CLOSED),
        all=len(rows),
        me=sum(1 for _, assignee in rows if assignee == user_id),
        unassigned=sum(1 for _, assignee in rows if assignee is None),
        mentions=mentions,
        capped=capped,
    )
