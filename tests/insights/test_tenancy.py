"""Another practice's or enterprise's numbers never appear: for managers and administrators, on
the page and in every CSV; staff and superusers without a role see nothing at all."""

from __future__ import annotations

from typing import Any

import pytest

from insights.views import FIGURES
from tests.factories import UserFactory
from tests.support.insights import EXPECTED, RANGE, World, csv_rows, login

FOREIGN_NAMES = ("Hillside", "Faraway")


def _everything(client: Any, **params: Any) -> str:
    parts = [client.get("/insights/", {**RANGE, **params}).content.decode()]
    for figure in FIGURES:
        parts.append(client.get(f"/insights/{figure}.csv", {**RANGE, **params}).content.decode())
    return "\n".join(parts)


def test_a_manager_sees_only_the_practices_they_manage(world: World) -> None:
    client = login(world.manager)
    text = _everything(client)
    for name in FOREIGN_NAMES:
        assert name not in text
    for figure in FIGURES:
        assert csv_rows(client, figure) == EXPECTED[figure]


def test_another_manager_of_the_same_enterprise_sees_only_their_practice(world: World) -> None:
    client = login(world.other_manager)
    text = _everything(client)
    for name in ("Lakeside", "Acme EMR", "Faraway"):
        assert name not in text
    summary = csv_rows(client, "summary")
    assert summary[1] == ["Texts sent", "7", "7"]
    assert summary[7] == ["Opt-outs", "7", "0"]
    assert csv_rows(client, "api")[1:] == [["Hillside EMR", "7", "0"]]


def test_an_administrator_sees_their_enterprise_and_never_another(world: World) -> None:
    text = _everything(login(world.admin))
    assert "Lakeside" in text
    assert "Hillside" in text
    assert "Faraway" not in text
    foreign = login(world.foreign_admin)
    text = _everything(foreign)
    for name in ("Lakeside", "Hillside", "Acme EMR"):
        assert name not in text
    assert csv_rows(foreign, "summary")[1] == ["Texts sent", "11", "11"]
    assert csv_rows(foreign, "webhooks")[1:] == [["Faraway EMR", "0", "0", "0", "0"]]


@pytest.mark.parametrize("who", ["manager", "admin", "foreign_admin", "other_manager"])
@pytest.mark.parametrize("kind", ["practice", "line"])
def test_picking_something_outside_the_scope_is_404(world: World, who: str, kind: str) -> None:
    user = getattr(world, who)
    outside = {
        "manager": world.other_practice,
        "admin": world.foreign_practice,
        "foreign_admin": world.practice,
        "other_manager": world.practice,
    }[who]
    value = outside.pk if kind == "practice" else outside.lines.first().pk  # type: ignore[union-attr]
    client = login(user)
    assert client.get("/insights/", {**RANGE, kind: str(value)}).status_code == 404
    assert client.get("/insights/summary.csv", {**RANGE, kind: str(value)}).status_code == 404
    assert client.get("/insights/", {**RANGE, kind: "not-an-id"}).status_code == 404


def test_staff_and_roleless_superusers_get_404_and_no_link(world: World) -> None:
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    for user in (world.staff, world.dana, root):
        client = login(user)
        assert client.get("/insights/", RANGE).status_code == 404
        assert client.get("/insights/summary.csv", RANGE).status_code == 404
        assert b'href="/insights/"' not in client.get("/inbox/").content


def test_managers_and_administrators_find_it_in_the_navigation(world: World) -> None:
    for user in (world.manager, world.admin):
        assert b'href="/insights/"' in login(user).get("/inbox/").content


def test_signed_out_visitors_go_to_the_sign_in_page(world: World) -> None:
    from django.test import Client

    response = Client().get("/insights/summary.csv", RANGE)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_unknown_figure_is_404(world: World) -> None:
    assert login(world.manager).get("/insights/nothing.csv", RANGE).status_code == 404


def test_an_administrator_who_also_manages_a_practice_elsewhere_sees_both(world: World) -> None:
    from practices.models import Membership

    Membership.objects.create(
        user=world.foreign_admin, practice=world.practice, role=Membership.Role.MANAGER
    )
    client = login(world.foreign_admin)
    text = _everything(client)
    assert "Lakeside" in text
    assert "Faraway" in text
    assert "Hillside" not in text
    only_p = csv_rows(client, "summary", practice=str(world.practice.pk))
    assert only_p == EXPECTED["summary"]
