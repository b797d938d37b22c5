"""Enterprise administrators in Django admin: their enterprise's configuration, and nobody else's.

Two worlds (tests/admin/test_admin.py's `make_world`), one per enterprise; Ada administers A's.
For every admin model she may use, B's objects never show in a changelist, a search, a filter, an
autocomplete or a dropdown, and B's change, delete and history pages answer as Django does for a
missing object (a redirect to the admin index). Every other admin model is closed to her.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Model
from django.test import Client, RequestFactory
from django.urls import reverse

from channels_app.models import AuditLog
from messaging.models import InboundAutomation, OptOut
from practices.admin_scope import ScopedAdminMixin
from practices.models import (
    Enterprise,
    EnterpriseAdministrator,
    Holiday,
    Line,
    Membership,
    Practice,
    QuickResponse,
    SmartPhrase,
)
from tests.factories import UserFactory
from tests.support import client_for
from tests.support.admin import admin_url, form_data, label, make_world
from webhooks.models import (
    ApiClient,
    CallToTextWorkflow,
    SmapiKey,
    WebhookDelivery,
    WebhookEndpoint,
)

pytestmark = pytest.mark.django_db

User = get_user_model()
World = dict[type[Model], Model]

# What an enterprise administrator configures (the list), and what they may do there.
FOR_ENTERPRISE_ADMINS: dict[type[Model], set[str]] = {
    Enterprise: {"view", "change"},
    Practice: {"view", "add", "change", "delete"},
    Line: {"view", "add", "change", "delete"},
    Holiday: {"view", "add", "change", "delete"},
    Membership: {"view", "add", "change", "delete"},
    User: {"view", "add", "change"},
    QuickResponse: {"view", "add", "change", "delete"},
    SmartPhrase: {"view", "add", "change", "delete"},
    InboundAutomation: {"view", "add", "change", "delete"},
    CallToTextWorkflow: {"view", "add", "change", "delete"},
    ApiClient: {"view", "add", "change", "delete"},
    SmapiKey: {"view", "add", "change", "delete"},
    OptOut: {"view", "add", "change", "delete"},
    WebhookDelivery: {"view"},
    WebhookEndpoint: {"view"},
    AuditLog: {"view"},
}
SCOPED = list(FOR_ENTERPRISE_ADMINS)
CLOSED = [m for m in admin.site._registry if m not in FOR_ENTERPRISE_ADMINS]


def obj_of(world: World, model: type[Model]) -> Model:
    if model is User:
        return world[Membership].user  # type: ignore[attr-defined,no-any-return]
    return world[model]


def uuids_of(world: World) -> set[str]:
    return {str(obj.pk) for obj in world.values() if isinstance(obj.pk, uuid.UUID)}


@pytest.fixture
def worlds(db: None) -> tuple[World, World]:
    return make_world(), make_world()


@pytest.fixture
def ada(worlds: tuple[World, World]) -> Any:
    user = UserFactory(username="ada", is_staff=True)
    EnterpriseAdministrator.objects.create(user=user, enterprise=worlds[0][Enterprise])
    return user


@pytest.fixture
def ada_client(ada: Any) -> Client:
    return client_for(ada)


def _b_leaks(content: str, world_b: World) -> set[str]:
    """The ids of B's objects that a page shows (UUIDs are unique enough to grep for)."""
    return {pk for pk in uuids_of(world_b) if pk in content}


# --- changelists, searches and filters ------------------------------------------------------


@pytest.mark.parametrize("model", SCOPED, ids=label)
def test_changelist_lists_own_enterprise_only(
    model: type[Model], worlds: tuple[World, World], ada_client: Client
) -> None:
    a, b = obj_of(worlds[0], model), obj_of(worlds[1], model)
    response = ada_client.get(admin_url(model, "changelist"))
    assert response.status_code == 200
    listed = list(response.context["cl"].result_list)
    assert a in listed
    assert b not in listed
    content = response.content.decode()
    assert admin_url(model, "change", b.pk) not in content
    # Nothing of B in the filters either (a filter link carries the related object's id).
    assert _b_leaks(content, worlds[1]) == set()


@pytest.mark.parametrize("model", SCOPED, ids=label)
def test_search_finds_nothing_of_another_enterprise(
    model: type[Model], worlds: tuple[World, World], ada_client: Client
) -> None:
    b = obj_of(worlds[1], model)
    for term in (str(b), str(b.pk), b.__class__.__name__):
        response = ada_client.get(admin_url(model, "changelist"), {"q": term[:40]})
        assert response.status_code == 200
        assert b not in list(response.context["cl"].result_list), term


@pytest.mark.parametrize("model", SCOPED, ids=label)
@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_other_enterprise_object_pages_are_missing(
    model: type[Model], view: str, worlds: tuple[World, World], ada_client: Client
) -> None:
    a, b = obj_of(worlds[0], model), obj_of(worlds[1], model)
    expected_own = 200 if view != "delete" or "delete" in FOR_ENTERPRISE_ADMINS[model] else 403
    assert ada_client.get(admin_url(model, view, a.pk)).status_code == expected_own
    response = ada_client.get(admin_url(model, view, b.pk))
    assert response.status_code in {302, 403, 404}
    if response.status_code == 302:
        assert response["Location"] == reverse("admin:index")


@pytest.mark.parametrize("model", SCOPED, ids=label)
def test_posting_to_another_enterprise_object_changes_nothing(
    model: type[Model], worlds: tuple[World, World], ada_client: Client
) -> None:
    b = obj_of(worlds[1], model)
    before = model._default_manager.filter(pk=b.pk).values().get()
    response = ada_client.post(admin_url(model, "change", b.pk), {"name": "Taken over"})
    assert response.status_code in {302, 403, 404}
    response = ada_client.post(admin_url(model, "delete", b.pk), {"post": "yes"})
    assert response.status_code in {302, 403, 404}
    assert model._default_manager.filter(pk=b.pk).values().get() == before


def test_actions_act_on_own_enterprise_rows_only(
    worlds: tuple[World, World], ada_client: Client
) -> None:
    b = worlds[1][QuickResponse]
    response = ada_client.post(
        admin_url(QuickResponse, "changelist"),
        {"action": "delete_selected", "_selected_action": [b.pk], "post": "yes"},
    )
    assert response.status_code in {200, 302}
    assert QuickResponse.objects.filter(pk=b.pk).exists()


# --- permissions: what the role opens, and what stays closed ----------------------------------


@pytest.mark.parametrize("model", SCOPED, ids=label)
def test_permissions_follow_the_role(model: type[Model], ada: Any) -> None:
    request = RequestFactory().get("/")
    request.user = ada
    model_admin = admin.site._registry[model]
    can = {
        "view": model_admin.has_view_permission(request),
        "add": model_admin.has_add_permission(request),
        "change": model_admin.has_change_permission(request),
        "delete": model_admin.has_delete_permission(request),
    }
    assert {action for action, allowed in can.items() if allowed} == FOR_ENTERPRISE_ADMINS[model]
    assert ada.user_permissions.count() == 0  # no model permission was handed out


@pytest.mark.parametrize("model", CLOSED, ids=label)
def test_everything_else_is_closed(model: type[Model], ada_client: Client) -> None:
    assert ada_client.get(admin_url(model, "changelist")).status_code == 403
    assert ada_client.get(admin_url(model, "add")).status_code == 403


# --- autocomplete and dropdowns ---------------------------------------------------------------


def _autocomplete_fields() -> list[tuple[type[Model], str]]:
    request = RequestFactory().get("/")
    request.user = User(is_superuser=True, is_staff=True)
    found = []
    for model in SCOPED:
        model_admin = admin.site._registry[model]
        for name in model_admin.get_autocomplete_fields(request):
            found.append((model, name))
        for inline in model_admin.get_inline_instances(request):
            for name in inline.get_autocomplete_fields(request):
                found.append((inline.model, name))
    return found


AUTOCOMPLETE = _autocomplete_fields()


@pytest.mark.parametrize(
    ("model", "field_name"), AUTOCOMPLETE, ids=[f"{label(m)}.{f}" for m, f in AUTOCOMPLETE]
)
def test_autocomplete_offers_own_enterprise_only(
    model: type[Model], field_name: str, worlds: tuple[World, World], ada_client: Client
) -> None:
    remote = model._meta.get_field(field_name).related_model
    assert remote is not None
    a, b = obj_of(worlds[0], remote), obj_of(worlds[1], remote)
    for term in ("", str(b)[:20]):
        response = ada_client.get(
            reverse("admin:autocomplete"),
            {
                "app_label": model._meta.app_label,
                "model_name": model._meta.model_name,
                "field_name": field_name,
                "term": term,
            },
        )
        assert response.status_code == 200, response.content
        ids = {row["id"] for row in response.json()["results"]}
        assert str(b.pk) not in ids
        if not term:
            assert str(a.pk) in ids


def _foreign_key_fields() -> list[tuple[type[Model], str]]:
    found = []
    for model in SCOPED:
        for f in model._meta.get_fields():
            if (f.many_to_one or f.many_to_many) and not f.auto_created and f.related_model:
                found.append((model, f.name))
    return found


FOREIGN_KEYS = _foreign_key_fields()


@pytest.mark.parametrize(
    ("model", "field_name"), FOREIGN_KEYS, ids=[f"{label(m)}.{f}" for m, f in FOREIGN_KEYS]
)
def test_dropdowns_offer_own_enterprise_only(
    model: type[Model], field_name: str, worlds: tuple[World, World], ada: Any
) -> None:
    """Every foreign-key field of every form (add and change) picks from A's rows only: the
    choices shown and the ones accepted on save are the same queryset."""
    request = RequestFactory().get("/")
    request.user = ada
    model_admin = admin.site._registry[model]
    remote = model._meta.get_field(field_name).related_model
    for obj in (None, obj_of(worlds[0], model)):
        form = model_admin.get_form(request, obj, change=obj is not None)
        field = form.base_fields.get(field_name)
        if field is None or getattr(field, "disabled", False):
            continue
        choices = set(field.queryset)  # type: ignore[attr-defined]
        assert not choices & {o for o in worlds[1].values() if isinstance(o, remote)}  # type: ignore[arg-type]
        if remote is User:
            assert worlds[1][Membership].user not in choices  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "model", [m for m in SCOPED if "add" in FOR_ENTERPRISE_ADMINS[m]], ids=label
)
def test_add_page_shows_nothing_of_another_enterprise(
    model: type[Model], worlds: tuple[World, World], ada_client: Client
) -> None:
    response = ada_client.get(admin_url(model, "add"))
    assert response.status_code == 200
    assert _b_leaks(response.content.decode(), worlds[1]) == set()


def test_practice_change_page_shows_nothing_of_another_enterprise(
    worlds: tuple[World, World], ada_client: Client
) -> None:
    response = ada_client.get(admin_url(Practice, "change", worlds[0][Practice].pk))
    assert _b_leaks(response.content.decode(), worlds[1]) == set()


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (Line, {"name": "Main", "phone_number": "+18185550777", "send_rate": "1"}),
        (QuickResponse, {"topic": "Hi", "text": "Hello", "language": "en", "position": "0"}),
        (
            InboundAutomation,
            {"name": "Stop", "condition": "one_way", "reply": "No", "position": "0"},
        ),
    ],
    ids=["line", "quick_response", "automation"],
)
def test_saving_with_another_enterprise_practice_is_a_form_error(
    model: type[Model], data: dict[str, Any], worlds: tuple[World, World], ada_client: Client
) -> None:
    before = model._default_manager.count()
    posted = {**form_data(ada_client, admin_url(model, "add")), **data}
    posted["practice"] = str(worlds[1][Practice].pk)
    response = ada_client.post(admin_url(model, "add"), posted)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert model._default_manager.count() == before
    posted["practice"] = str(worlds[0][Practice].pk)
    assert ada_client.post(admin_url(model, "add"), posted).status_code == 302
    assert model._default_manager.count() == before + 1


def test_call_to_text_line_dropdown_lists_own_enterprise_lines(
    worlds: tuple[World, World], ada_client: Client
) -> None:
    content = ada_client.get(admin_url(CallToTextWorkflow, "add")).content.decode()
    assert str(worlds[1][Line].pk) not in content
    own = ada_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "webhooks", "model_name": "calltotextworkflow", "field_name": "line"},
    ).json()["results"]
    assert {row["id"] for row in own} == {
        str(pk)
        for pk in Line.objects.filter(practice__enterprise=worlds[0][Enterprise]).values_list(
            "pk", flat=True
        )
    }


# --- people -----------------------------------------------------------------------------------


def test_user_pages_never_show_or_grant_superuser_status(
    worlds: tuple[World, World], ada_client: Client, superuser: Any
) -> None:
    Membership.objects.create(user=superuser, practice=worlds[0][Practice], role="manager")
    listed = ada_client.get(admin_url(User, "changelist")).context["cl"].result_list
    assert superuser not in listed
    colleague = worlds[0][Membership].user  # type: ignore[attr-defined]
    content = ada_client.get(admin_url(User, "change", colleague.pk)).content.decode()
    assert 'name="is_superuser"' not in content
    assert 'name="user_permissions"' not in content
    posted = form_data(ada_client, admin_url(User, "change", colleague.pk))
    posted["is_superuser"] = "on"
    assert ada_client.post(admin_url(User, "change", colleague.pk), posted).status_code == 302
    colleague.refresh_from_db()
    assert not colleague.is_superuser


def test_someone_who_also_works_elsewhere_is_read_only(
    worlds: tuple[World, World], ada_client: Client
) -> None:
    shared = worlds[0][Membership].user  # type: ignore[attr-defined]
    Membership.objects.create(user=shared, practice=worlds[1][Practice])
    response = ada_client.get(admin_url(User, "change", shared.pk))
    assert response.status_code == 200
    assert 'name="username"' not in response.content.decode()
    # Their roles elsewhere are not shown either.
    assert str(worlds[1][Practice].pk) not in response.content.decode()


def test_adding_a_person_needs_a_practice_role(
    worlds: tuple[World, World], ada_client: Client
) -> None:
    url = admin_url(User, "add")
    posted = form_data(ada_client, url)
    posted.update(username="newbie", password1="a-Long-pass-7781", password2="a-Long-pass-7781")
    posted["usable_password"] = "true"
    response = ada_client.post(url, posted)
    assert response.status_code == 200
    assert not User.objects.filter(username="newbie").exists()
    prefix = next(k for k in posted if k.endswith("-TOTAL_FORMS")).removesuffix("-TOTAL_FORMS")
    posted[f"{prefix}-TOTAL_FORMS"] = "1"
    posted[f"{prefix}-0-practice"] = str(worlds[0][Practice].pk)
    posted[f"{prefix}-0-role"] = "staff"
    response = ada_client.post(url, posted)
    assert response.status_code == 302, re.findall(
        r"errorlist[^<]*<li>([^<]+)", response.content.decode()
    )
    newbie = User.objects.get(username="newbie")
    assert newbie.memberships.get().practice == worlds[0][Practice]  # type: ignore[attr-defined]


def test_a_superuser_still_sees_everything(worlds: tuple[World, World], superuser: Any) -> None:
    root = client_for(superuser)
    for model in SCOPED:
        listed = list(root.get(admin_url(model, "changelist")).context["cl"].result_list)
        assert obj_of(worlds[0], model) in listed
        assert obj_of(worlds[1], model) in listed


def test_the_mixin_is_on_every_admin(worlds: tuple[World, World]) -> None:
    ours = {"practices", "channels_app", "messaging", "webhooks", "oauth2_provider"}
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in ours or model is User:
            assert isinstance(model_admin, ScopedAdminMixin), label(model)


@pytest.mark.parametrize("model", [Practice, Holiday, SmartPhrase, ApiClient, SmapiKey], ids=label)
def test_add_pages_preselect_the_enterprise(
    model: type[Model], worlds: tuple[World, World], ada_client: Client
) -> None:
    posted = form_data(ada_client, admin_url(model, "add"))
    assert posted["enterprise"] == str(worlds[0][Enterprise].pk)
