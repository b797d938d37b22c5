"""Who may configure what in Django admin: one scoping rule shared by every admin class.

Three roles use the admin (docs/admin.md):

- a **platform superuser** sees and changes everything (Django's own rules);
- an **enterprise administrator** (`EnterpriseAdministrator`) sees and changes only their
  enterprise's configuration, without any Django model permission being assigned by hand;
- a **practice manager** (`Membership.Role.MANAGER`, with `is_staff`) changes only their
  practices' hours, holidays, after-hours message, quick responses, members and automations.

An admin class says where its rows' enterprise and practice are (`enterprise_path`,
`practice_path`, ORM lookups to their ids) and what each role may do (`enterprise_admin_can`,
`manager_can`). An admin without an `enterprise_path` is for neither role (messages,
patients, the audit log). Staff with neither role keep Django's model permissions, except on
the admins marked `internal` (presence, reads, notifications, the OAuth library's tokens...):
the platform's own bookkeeping, shown to platform superusers only.

Scoping covers every way a row can show: changelists, search, filters and date drill-down
(`get_queryset`), change/delete/history pages (they look the object up through `get_queryset`,
so another tenant's id is "does not exist" and a redirect to the admin index), autocomplete (the
related model's admin answers with its own scoped `get_queryset`) and foreign-key dropdowns and
their validation on save (`formfield_for_foreignkey`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib import admin
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest

from .selectors import enterprise_id_administered_by_user, practice_ids_managed_by_user

ALL_ACTIONS = frozenset({"view", "add", "change", "delete"})
VIEW_ONLY = frozenset({"view"})
NOTHING: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AdminRole:
    """The role a request's user has in the admin (one per request, see `admin_role`)."""

    kind: str  # "platform", "enterprise", "manager" or "staff"
    enterprise_id: Any = None
    practice_ids: frozenset[Any] = field(default_factory=frozenset)

    @property
    def is_scoped(self) -> bool:
        return self.kind in {"enterprise", "manager"}


def admin_role(request: HttpRequest) -> AdminRole:
    """The user's admin role, looked up once per request."""
    cached = getattr(request, "_admin_role", None)
    if cached is not None:
        return cached
    user = request.user
    role = AdminRole("staff")
    if user.is_active and user.is_superuser:
        role = AdminRole("platform")
    elif user.is_active and user.is_staff:
        enterprise_id = enterprise_id_administered_by_user(user=user)
        if enterprise_id is not None:
            role = AdminRole("enterprise", enterprise_id=enterprise_id)
        else:
            managed = practice_ids_managed_by_user(user=user)
            if managed:
                role = AdminRole("manager", practice_ids=frozenset(managed))
    request._admin_role = role  # type: ignore[attr-defined]
    return role


class ScopedAdminMixin:
    """Permissions and querysets by role, for a `ModelAdmin` or an inline (put it before them).

    The class's own `has_*_permission` overrides (e.g. "never added by hand") still apply: they
    are defined on subclasses, so they win, and those that call `super()` land here.
    """

    # ORM lookup from the model to its enterprise's id; None: not for the two roles.
    enterprise_path: str | None = None
    # The platform's own bookkeeping: platform superusers only, whatever the permissions.
    internal = False
    # ORM lookup from the model to its practice's id; None: managers see no row.
    practice_path: str | None = None
    enterprise_admin_can: frozenset[str] = ALL_ACTIONS
    manager_can: frozenset[str] = NOTHING

    # --- rows -----------------------------------------------------------------------------

    def enterprise_q(self, enterprise_id: Any) -> Q:
        assert self.enterprise_path is not None
        return Q(**{self.enterprise_path: enterprise_id})

    def practice_q(self, practice_ids: frozenset[Any]) -> Q:
        assert self.practice_path is not None
        return Q(**{f"{self.practice_path}__in": practice_ids})

    def scope_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """`queryset` narrowed to the rows the request's user may see at all."""
        role = admin_role(request)
        if not role.is_scoped:
            return queryset
        if role.kind == "enterprise" and self.enterprise_path is not None:
            condition = self.enterprise_q(role.enterprise_id)
        elif role.kind == "manager" and self.practice_path is not None:
            condition = self.practice_q(role.practice_ids)
        else:
            return queryset.none()
        # A subquery rather than a join: a lookup through a reverse relation (a user's
        # memberships) would repeat rows, and some admins annotate counts on the queryset.
        model = queryset.model
        return queryset.filter(pk__in=model._default_manager.filter(condition).values("pk"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset(request)  # type: ignore[misc]
        return self.scope_queryset(request, queryset)

    # --- permissions ------------------------------------------------------------------------

    def role_can(self, request: HttpRequest, action: str) -> bool | None:
        """What the role allows, or None where Django's model permissions decide."""
        role = admin_role(request)
        if role.kind == "platform":
            return None
        if self.internal:
            return False
        if role.kind == "enterprise":
            return self.enterprise_path is not None and action in self.enterprise_admin_can
        if role.kind == "manager":
            return self.practice_path is not None and action in self.manager_can
        return None  # staff with neither role: Django's model permissions

    def has_module_permission(self, request: HttpRequest) -> bool:
        allowed = self.role_can(request, "view")
        if allowed is None:
            return bool(super().has_module_permission(request))  # type: ignore[misc]
        return any(self.role_can(request, action) for action in ALL_ACTIONS)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = self.role_can(request, "view")
        if allowed is None:
            return bool(super().has_view_permission(request, obj))  # type: ignore[misc]
        return allowed or bool(self.role_can(request, "change"))

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        allowed = self.role_can(request, "add")
        if allowed is None:
            return bool(super().has_add_permission(request, *args))  # type: ignore[misc]
        return allowed

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = self.role_can(request, "change")
        if allowed is None:
            return bool(super().has_change_permission(request, obj))  # type: ignore[misc]
        return allowed

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = self.role_can(request, "delete")
        if allowed is None:
            return bool(super().has_delete_permission(request, obj))  # type: ignore[misc]
        return allowed

    # --- widgets and filters --------------------------------------------------------------

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial: dict[str, Any] = super().get_changeform_initial_data(request)  # type: ignore[misc]
        # An enterprise administrator has one enterprise to pick: pick it for them.
        enterprise_id = admin_role(request).enterprise_id
        model = self.model  # type: ignore[attr-defined]
        has_enterprise = any(f.name == "enterprise" for f in model._meta.concrete_fields)
        if enterprise_id is not None and has_enterprise:
            initial.setdefault("enterprise", enterprise_id)
        return initial

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if "queryset" not in kwargs:
            scoped = scoped_choices(self, db_field.related_model, request)
            if scoped is not None:
                kwargs["queryset"] = scoped
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if "queryset" not in kwargs:
            scoped = scoped_choices(self, db_field.related_model, request)
            if scoped is not None:
                kwargs["queryset"] = scoped
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = super().get_list_filter(request)  # type: ignore[misc]
        if not admin_role(request).is_scoped:
            return filters
        # A related-field filter lists every row of the related table; the "related only"
        # one lists those that occur in this (scoped) changelist.
        scoped: list[Any] = []
        for item in filters:
            name = item[0] if isinstance(item, tuple) else item
            if isinstance(name, str) and _is_relation(self.model, name):  # type: ignore[attr-defined]
                scoped.append((name, admin.RelatedOnlyFieldListFilter))
            else:
                scoped.append(item)
        return scoped


def scoped_choices(
    model_admin: Any, related_model: type[Model], request: HttpRequest
) -> QuerySet[Any] | None:
    """The rows of `related_model` a scoped user may pick, from that model's own admin's rule
    (None for a platform superuser or where nothing narrows them)."""
    if not admin_role(request).is_scoped:
        return None
    related_admin = model_admin.admin_site._registry.get(related_model)
    if isinstance(related_admin, ScopedAdminMixin):
        return related_admin.scope_queryset(request, related_model._default_manager.all())
    return related_model._default_manager.none()


def _is_relation(model: type[Model], path: str) -> bool:
    opts = model._meta
    field_ = None
    for part in path.split("__"):
        try:
            field_ = opts.get_field(part)
        except Exception:
            return False
        if not field_.is_relation or field_.related_model is None:
            return False
        opts = field_.related_model._meta
    return field_ is not None
