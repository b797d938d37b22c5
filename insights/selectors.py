"""Who may see which practices' Insights: the tenancy gate of every figure and download.

A practice manager sees the practices they manage; an enterprise administrator sees every
practice of their enterprise. Nobody else sees anything (staff, and superusers without either
role): `NotFound`, the same answer as for a practice that does not exist. Every query of the
dashboard is filtered by the practice ids of the `InsightsScope` made here, and the practices and
lines a viewer picks are checked against it one by one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Exists, OuterRef, Prefetch, Q

from artera.errors import NotFound
from practices.models import EnterpriseAdministrator, Line, Membership, Practice
from practices.selectors import enterprise_id_administered_by_user


@dataclass(frozen=True)
class InsightsScope:
    role: str  # "manager" | "enterprise_admin"
    practices: list[Practice]  # with `lines` prefetched, by name

    @property
    def practice_ids(self) -> set[uuid.UUID]:
        return {p.pk for p in self.practices}

    def lines(self) -> list[Line]:
        return [line for p in self.practices for line in p.lines.all()]


def insights_scope_for_user(*, user: AbstractBaseUser | AnonymousUser) -> InsightsScope:
    """The practices `user` may see Insights of (three queries), or `NotFound`: those they
    manage, and every practice of the enterprise they administer."""
    if not user.is_authenticated or not user.is_active:
        raise NotFound("No such page.", code="not_found")
    lines = Prefetch("lines", queryset=Line.objects.order_by("-is_default", "name"))
    enterprise_id = enterprise_id_administered_by_user(user=user)
    managed = Q(
        Exists(
            Membership.objects.filter(
                practice_id=OuterRef("pk"), user_id=user.pk, role=Membership.Role.MANAGER
            )
        )
    )
    if enterprise_id is not None:
        # An administrator who also manages a practice elsewhere sees that one too.
        practices = Practice.objects.filter(Q(enterprise_id=enterprise_id) | managed)
        role = "enterprise_admin"
    else:
        practices = Practice.objects.filter(managed)
        role = "manager"
    found = list(practices.order_by("name", "pk").prefetch_related(lines))
    if not found:
        raise NotFound("No such page.", code="not_found")
    return InsightsScope(role=role, practices=found)


def insights_visible_to_user(*, user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether to show the navigation link: one query."""
    if not user.is_authenticated or not user.is_active:
        return False
    found: Any = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .annotate(
            manages=Exists(
                Membership.objects.filter(user_id=OuterRef("pk"), role=Membership.Role.MANAGER)
            ),
            administers=Exists(EnterpriseAdministrator.objects.filter(user_id=OuterRef("pk"))),
        )
        .values_list("manages", "administers")
        .first()
    )
    return bool(found and (found[0] or found[1]))


def scope_narrow(
    *, scope: InsightsScope, practice_ids: list[str], line_ids: list[str]
) -> tuple[list[Practice], set[uuid.UUID] | None]:
    """The practices (and lines; None = every line) a viewer picked, all inside `scope`; an id
    outside it is `NotFound`, the same as an id that exists nowhere. No picks: everything."""
    by_id = {str(p.pk): p for p in scope.practices}
    picked: list[Practice] = []
    for raw in practice_ids:
        practice = by_id.get(raw)
        if practice is None:
            raise NotFound("No such practice.", code="unknown_practice")
        if practice not in picked:
            picked.append(practice)
    practices = picked or list(scope.practices)
    if not line_ids:
        return practices, None
    lines = {str(line.pk): line for p in practices for line in p.lines.all()}
    chosen: set[uuid.UUID] = set()
    for raw in line_ids:
        line = lines.get(raw)
        if line is None:
            raise NotFound("No such line.", code="unknown_line")
        chosen.add(line.pk)
    return [
        p
        for p in practices
        if any(line.practice_id == p.pk for line in lines.values() if line.pk in chosen)
    ], chosen
