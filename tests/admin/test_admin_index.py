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

from channels_app.models import (
    AuditLog,
    ChannelEvent,
    ChannelPresence,
    ChannelRead,
    InternalNote,
    Notification,
    PatientChannel,
)
from messaging.models import (
    AfterHoursReply,
    Message,
    MpspPrompt,
    SecureAccessAttempt,
    SecureLink,
    ShortLink,
    SimulatorNumber,
    SimulatorText,
)
from practices.models import (
    Enterprise,
    EnterpriseAdministrator,
    Holiday,
    Line,
    Membership,
    Practice,
)
from tests.admin.test_admin_managers import FOR_MANAGERS
from tests.admin.test_admin_tenancy import FOR_ENTERPRISE_ADMINS
from tests.factories import EnterpriseFactory, PracticeFactory, UserFactory
from tests.support import client_for
from webhooks.models import (
    ApiClient,
    CallToTextWorkflow,
    IdempotencyKey,
    SmapiKey,
    WebhookDelivery,
    WebhookEndpoint,
)

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
NEVER_ADDED_BY_HAND = [
    ChannelPresence,
    ChannelRead,
    Notification,
    ChannelEvent,
    IdempotencyKey,
    # Records the platform writes: a conversation starts with a text, a message is sent, a
    # delivery is made by an event, an audit entry by what staff do.
    PatientChannel,
    Message,
    InternalNote,
    SecureLink,
    SecureAccessAttempt,
    ShortLink,
    MpspPrompt,
    AfterHoursReply,
    WebhookDelivery,
    WebhookEndpoint,
    AuditLog,
]
PRODUCT_SECTIONS = ["Organisation", "Lines and hours", "Messaging", "Integrations", "Audit"]


def index(client: Client) -> dict[type[Model], dict[str, Any]]:
    """The models the admin home lists, each with its entry (add_url is None without "Add")."""
    response = client.get("/admin/")
    assert response.status_code == 200
    listed = {}
    for app in response.context["app_list"]:
        for entry in app["models"]:
            listed[entry["model"]] = entry
    return listed


def sections(client: Client) -> dict[str, list[type[Model]]]:
    """The admin home's sections, each with its models in order."""
    response = client.get("/admin/")
    assert response.status_code == 200
    return {
        app["name"]: [e["model"] for e in app["models"]] for app in response.context["app_list"]
    }


def test_superuser_sees_everything_and_no_add_on_records(superuser: Any) -> None:
    listed = index(client_for(superuser))
    assert set(listed) == set(admin.site._registry)
    for model in INTERNAL:
        assert model in listed, model._meta.label
    for model in NEVER_ADDED_BY_HAND:
        assert listed[model]["add_url"] is None, model._meta.label


def test_the_home_is_grouped_by_product_sections(superuser: Any) -> None:
    home = sections(client_for(superuser))
    assert list(home) == [*PRODUCT_SECTIONS, "Platform internals"]
    assert home["Organisation"][:2] == [Enterprise, Practice]
    assert home["Lines and hours"] == [Line, Holiday]
    assert home["Integrations"][:3] == [ApiClient, SmapiKey, CallToTextWorkflow]
    assert home["Audit"][0] is AuditLog
    # Internal tables only in the last section, and nothing else there.
    assert set(home["Platform internals"]) == set(INTERNAL)
    page = client_for(superuser).get("/admin/").content.decode()
    assert 'id="section-integrations"' in page
    assert "rotate secrets, send a test webhook" in page


def test_enterprise_admin_home_has_the_product_sections_and_no_internals() -> None:
    ada = UserFactory(is_staff=True)
    EnterpriseAdministrator.objects.create(user=ada, enterprise=EnterpriseFactory())
    home = sections(client_for(ada))
    assert list(home) == PRODUCT_SECTIONS
    assert home["Audit"] == [AuditLog]


def test_manager_home_has_only_their_sections() -> None:
    mia = UserFactory(is_staff=True)
    Membership.objects.create(user=mia, practice=PracticeFactory(), role=Membership.Role.MANAGER)
    home = sections(client_for(mia))
    assert list(home) == ["Organisation", "Lines and hours", "Messaging"]
    assert home["Lines and hours"] == [Holiday]


def test_the_app_pages_keep_django_lists(superuser: Any) -> None:
    response = client_for(superuser).get("/admin/webhooks/")
    assert response.status_code == 200
    [app] = response.context["app_list"]
    assert app["app_label"] == "webhooks"


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
