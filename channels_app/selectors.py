"""Reads of patients and channels that serve a user. Every query here is scoped by tenancy."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import OuterRef, Q, QuerySet, Subquery

from messaging.models import Message
from practices.selectors import practice_list_for_user

from .models import PatientChannel

INBOX_STATUSES = ("open", "closed", "all")


@dataclass(frozen=True)
class InboxFilters:
    status: str = "open"
    practice_id: str | None = None

    @classmethod
    def from_query(cls, params: dict[str, str]) -> InboxFilters:
        """Parse the inbox's query string; unknown values fall back to the defaults."""
        status = params.get("status", "open")
        return cls(
            status=status if status in INBOX_STATUSES else "open",
            practice_id=params.get("practice") or None,
        )


def channel_list_for_user(
    *, user: AbstractBaseUser | AnonymousUser, filters: InboxFilters | None = None
) -> QuerySet[PatientChannel]:
    """The channels of the practices `user` belongs to, newest activity first.

    A `practice` filter naming a practice the user does not belong to matches nothing (it is
    intersected with the user's practices, never trusted on its own).
    """
    filters = filters or InboxFilters()
    practices = practice_list_for_user(user=user)
    channels = PatientChannel.objects.filter(practice__in=practices)
    if filters.status != "all":
        channels = channels.filter(status=filters.status)
    if filters.practice_id:
        channels = channels.filter(Q(practice_id=_uuid_or_none(filters.practice_id)))
    last_message = Message.objects.filter(channel=OuterRef("pk")).order_by("-created_at")
    return (
        channels.select_related("patient", "known_patient", "line", "practice", "assignee")
        .annotate(
            last_message_body=Subquery(last_message.values("body")[:1]),
            last_message_direction=Subquery(last_message.values("direction")[:1]),
        )
        .order_by("-last_activity_at", "-id")
    )


def _uuid_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
