"""Reads about the organisation that serve a signed-in user."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from .models import Practice


def practice_list_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Practice]:
    """The practices a user works in: the root of everything the inbox may show them.

    Only memberships grant access. Being a superuser does not: a platform admin who needs to
    read a practice's conversations must be given a membership, which leaves a trail.
    """
    if not user.is_authenticated:
        return Practice.objects.none()
    return Practice.objects.filter(memberships__user_id=user.pk).order_by("name")
