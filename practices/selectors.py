"""Reads about the organisation that serve a signed-in user."""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from artera.errors import NotFound

from .models import EnterpriseAdministrator, Membership, Practice


def practice_list_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Practice]:
    """The practices a user works in: the root of everything the inbox may show them.

    Only memberships grant access. Being a superuser does not: a platform admin who needs to
    read a practice's conversations must be given a membership, which leaves a trail.
    """
    if not user.is_authenticated:
        return Practice.objects.none()
    return Practice.objects.filter(memberships__user_id=user.pk).order_by("name")


def practice_members(*, practice: Practice) -> QuerySet[Any]:
    """The people who work in `practice` (who a conversation can be assigned to or @mentioned)."""
    return (
        get_user_model()
        .objects.filter(memberships__practice=practice, is_active=True)
        .order_by("first_name", "last_name", "username")
    )


def practice_get_managed_by_user(
    *, user: AbstractBaseUser | AnonymousUser, practice_id: object
) -> Practice:
    """A practice `user` manages; `NotFound` for a missing practice and for one they do not
    manage alike (a staff member learns nothing about other practices' settings)."""
    practice = (
        practice_list_for_user(user=user)
        .filter(memberships__user_id=cast(int, user.pk), memberships__role=Membership.Role.MANAGER)
        .filter(pk=cast(uuid.UUID, _uuid_or_none(practice_id)))
        .first()
    )
    if practice is None:
        raise NotFound("No such practice.", code="unknown_practice")
    return practice


def practice_ids_managed_by_user(*, user: AbstractBaseUser | AnonymousUser) -> set[Any]:
    if not user.is_authenticated:
        return set()
    return set(
        Membership.objects.filter(user_id=user.pk, role=Membership.Role.MANAGER).values_list(
            "practice_id", flat=True
        )
    )


def _uuid_or_none(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def enterprise_id_administered_by_user(*, user: AbstractBaseUser | AnonymousUser) -> Any | None:
    """The id of the enterprise `user` administers, or None (the enterprise administrator role;
    platform superusers are not enterprise administrators unless given the role)."""
    if not user.is_authenticated or not user.is_active:
        return None
    return (
        EnterpriseAdministrator.objects.filter(user_id=user.pk)
        .values_list("enterprise_id", flat=True)
        .first()
    )
