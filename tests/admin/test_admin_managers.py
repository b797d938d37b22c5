"""Practice managers in Django admin: their practice's hours, holidays, after-hours message,
quick responses, members and automations, and nothing else (no other practice, no integration)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Model
from django.test import Client, RequestFactory
from django.urls import reverse

from messaging.models import InboundAutomation
from practices.models import Holiday, Membership, Practice, QuickResponse
from tests.factories import HolidayFactory, PracticeFactory, QuickResponseFactory, UserFactory
from tests.support import client_for
from tests.support.admin import admin_url, form_data, label

pytestmark = pytest.mark.django_db

User = get_user_model()
World = dict[type[Model], Model]

FOR_MANAGERS: dict[type[Model], set[str]] = {
    Practice: {"view", "change"},
    Holiday: {"view", "add", "change", "delete"},
    Membership: {"view", "add", "change", "delete"},
    QuickResponse: {"view", "add", "change", "delete"},
    InboundAutomation: {"view", "add", "change", "delete"},
    User: {"view"},
}
CLOSED = [m for m in admin.site._registry if m not in FOR_MANAGERS]


@pytest.fixture
def practice(world: World) -> Practice:
    return world[Practice]  # type: ignore[return-value]


@pytest.fixture
def sibling(world: World) -> dict[type[Model], Model]:
    """Another practice of the same enterprise, with one of each thing a manager changes."""
    other = PracticeFactory(enterprise=world[Practice].enterprise)  # type: ignore[attr-defined]
    return {
        Practice: other,
        Holiday: HolidayFactory(enterprise=other.enterprise, practice=other, name="Sibling day"),
        QuickResponse: QuickResponseFactory(practice=other),
        Membership: Membership.objects.create(user=UserFactory(), practice=other),
        InboundAutomation: InboundAutomation.objects.create(
            practice=other, name="Sibling rule", condition="one_way", reply="No."
        ),
    }


@pytest.fixture
def mia(practice: Practice) -> Any:
    user = UserFactory(username="mia", is_staff=True)
    Membership.objects.create(user=user, practice=practice, role=Membership.Role.MANAGER)
    return user


@pytest.fixture
def mia_client(mia: Any) -> Client:
    return client_for(mia)


@pytest.mark.parametrize("model", list(FOR_MANAGERS), ids=label)
def test_permissions_follow_the_role(model: type[Model], mia: Any) -> None:
    request = RequestFactory().get("/")
    request.user = mia
    model_admin = admin.site._registry[model]
    can = {
        "view": model_admin.has_view_permission(request),
        "add": model_admin.has_add_permission(request),
        "change": model_admin.has_change_permission(request),
        "delete": model_admin.has_delete_permission(request),
    }
    assert {action for action, allowed in can.items() if allowed} == FOR_MANAGERS[model]


@pytest.mark.parametrize("model", CLOSED, ids=label)
def test_integrations_and_everything_else_are_closed(
    model: type[Model], world: World, mia_client: Client
) -> None:
    assert mia_client.get(admin_url(model, "changelist")).status_code == 403
    assert mia_client.get(admin_url(model, "add")).status_code == 403


@pytest.mark.parametrize("model", [m for m in FOR_MANAGERS if m is not User], ids=label)
def test_another_practice_is_out_of_reach(
    model: type[Model], world: World, sibling: World, mia_client: Client
) -> None:
    other = sibling[model]
    listed = list(mia_client.get(admin_url(model, "changelist")).context["cl"].result_list)
    assert other not in listed
    assert (world[model] if model is not Holiday else world[Holiday]) in listed
    for view in ("change", "delete", "history"):
        response = mia_client.get(admin_url(model, view, other.pk))
        assert response.status_code in {302, 403}
        if response.status_code == 302:
            assert response["Location"] == reverse("admin:index")


def test_enterprise_wide_holidays_are_not_theirs(world: World, mia_client: Client) -> None:
    listed = mia_client.get(admin_url(Holiday, "changelist")).context["cl"].result_list
    assert all(holiday.practice_id == world[Practice].pk for holiday in listed)
    url = admin_url(Holiday, "add")
    posted = form_data(mia_client, url)
    posted.update(date="2027-07-04", name="Fourth", is_closed="on")
    posted["enterprise"] = str(world[Practice].enterprise_id)  # type: ignore[attr-defined]
    posted["practice"] = ""
    before = Holiday.objects.count()
    response = mia_client.post(url, posted)
    assert response.status_code == 200
    assert Holiday.objects.count() == before
    posted["practice"] = str(world[Practice].pk)
    assert mia_client.post(url, posted).status_code == 302
    assert Holiday.objects.count() == before + 1


def test_manager_changes_the_after_hours_message_only(
    practice: Practice, mia_client: Client
) -> None:
    url = admin_url(Practice, "change", practice.pk)
    content = mia_client.get(url).content.decode()
    assert 'name="after_hours_message"' in content
    assert 'name="name"' not in content
    assert "EMR location ids" not in content  # no integration settings
    posted = form_data(mia_client, url)
    posted.update(after_hours_message="We are closed; call 911 in an emergency.", name="Renamed")
    posted["timezone"] = "Pacific/Honolulu"
    response = mia_client.post(url, posted)
    assert response.status_code == 302, response.content.decode()[:2000]
    before_name, before_zone = practice.name, practice.timezone
    practice.refresh_from_db()
    assert practice.after_hours_message == "We are closed; call 911 in an emergency."
    assert (practice.name, practice.timezone) == (before_name, before_zone)


def test_manager_sees_the_lines_but_cannot_change_them(
    practice: Practice, mia_client: Client
) -> None:
    content = mia_client.get(admin_url(Practice, "change", practice.pk)).content.decode()
    line = practice.lines.get()
    assert line.name in content
    assert 'name="lines-0-name"' not in content  # shown read-only
    posted = form_data(mia_client, admin_url(Practice, "change", practice.pk))
    posted.update({"lines-0-id": str(line.pk), "lines-0-name": "Hijacked"})
    mia_client.post(admin_url(Practice, "change", practice.pk), posted)
    line.refresh_from_db()
    assert line.name != "Hijacked"
    assert mia_client.get(admin_url(practice.lines.model, "changelist")).status_code == 403


def test_manager_adds_hours_and_a_member(
    practice: Practice, world: World, mia_client: Client
) -> None:
    url = admin_url(Practice, "change", practice.pk)
    posted = form_data(mia_client, url)
    hours = practice.hours.count()
    index = int(posted["hours-TOTAL_FORMS"])
    posted.update(
        {
            f"hours-{index}-weekday": "6",
            f"hours-{index}-opens_at": "09:00",
            f"hours-{index}-closes_at": "12:00",
            "hours-TOTAL_FORMS": str(index + 1),
        }
    )
    colleague = UserFactory()
    Membership.objects.create(
        user=colleague, practice=PracticeFactory(enterprise=practice.enterprise)
    )
    index = int(posted["memberships-TOTAL_FORMS"])
    posted.update(
        {
            f"memberships-{index}-user": str(colleague.pk),
            f"memberships-{index}-role": "staff",
            "memberships-TOTAL_FORMS": str(index + 1),
        }
    )
    response = mia_client.post(url, posted)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert practice.hours.count() == hours + 1
    assert practice.memberships.filter(user=colleague).exists()


def test_plain_staff_has_no_admin_role(world: World) -> None:
    staff = UserFactory(is_staff=True)
    Membership.objects.create(user=staff, practice=world[Practice], role=Membership.Role.STAFF)
    client = client_for(staff)
    for model in FOR_MANAGERS:
        assert client.get(admin_url(model, "changelist")).status_code == 403
