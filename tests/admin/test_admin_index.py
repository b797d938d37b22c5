"""The admin home for each role: internal tables for platform superusers only, and each role's
own part of the configuration, with "Add" only where adding by hand makes sense."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Model
from django.test import Client

from channels_app.models import ChannelEvent, ChannelPresence, ChannelRead, Notification
from messaging.models import SimulatorNumber, SimulatorText
from practices.models import EnterpriseAdministrator, Membership
from tests.admin.test_admin_managers import FOR_MANAGERS
from tests.admin.test_admin_tenancy import FOR_ENTERPRISE_ADMINS
from tests.factories import EnterpriseFactory, PracticeFactory, UserFactory
from tests.support import client_for
from webhooks.models import IdempotencyKey

pytestmark = pytest.mark.django_db

OAUTH = [m for m in admin.site._registry if m._meta.app_label == "oauth2_provider"]
INTERNAL: list[type[Model]] = [
    ChannelPresence,
    ChannelRead,
    Notification,
    ChannelEvent,
    IdempotencyKey,
    SimulatorNumber,
    SimulatorText,
    *OAUTH,
]
NEVER_ADDED_BY_HAND = [ChannelPresence, ChannelRead, Notification, ChannelEvent, IdempotencyKey]


def index(client: Client) -> dict[type[Model], dict[str, Any]]:
    """The models the admin home lists, each with its entry (add_url is None without "Add")."""
    response = client.get("/admin/")
    assert response.status_code == 200
    listed = {}
    for app in response.context["app_list"]:
        for entry in app["models"]:
            listed[entry["model"]] = entry
    return listed


def test_superuser_sees_everything_and_no_add_on_records(superuser: Any) -> None:
    listed = index(client_for(superuser))
    for model in INTERNAL:
        assert model in listed, model._meta.label
    for model in NEVER_ADDED_BY_HAND:
        assert listed[model]["add_url"] is None, model._meta.label


def test_enterprise_admin_sees_their_configuration_only() -> None:
    ada = UserFactory(is_staff=True)
    EnterpriseAdministrator.objects.create(user=ada, enterprise=EnterpriseFactory())
    listed = index(client_for(ada))
    assert set(listed) == set(FOR_ENTERPRISE_ADMINS)
    for model, can in FOR_ENTERPRISE_ADMINS.items():
        assert (listed[model]["add_url"] is not None) == ("add" in can), model._meta.label


def test_manager_sees_their_practice_settings_only() -> None:
    mia = UserFactory(is_staff=True)
    Membership.objects.create(user=mia, practice=PracticeFactory(), role=Membership.Role.MANAGER)
    listed = index(client_for(mia))
    assert set(listed) == set(FOR_MANAGERS)


def test_plain_staff_see_nothing_without_permissions() -> None:
    staff = UserFactory(is_staff=True)
    Membership.objects.create(user=staff, practice=PracticeFactory(), role=Membership.Role.STAFF)
    assert index(client_for(staff)) == {}


def test_model_permissions_never_open_the_internal_tables() -> None:
    """A staff member given every permission still sees none of the platform's bookkeeping."""
    support = UserFactory(is_staff=True)
    support.user_permissions.set(Permission.objects.all())
    listed = index(client_for(support))
    assert not set(INTERNAL) & set(listed)
    assert get_user_model() in listed  # what permissions grant, they still grant
