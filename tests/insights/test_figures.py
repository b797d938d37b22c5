"""Every figure of the hand-built week (tests/support/insights.py: across midnight in the
practice's timezone, a holiday, out-of-order status callbacks), on the page and in the CSV."""

from __future__ import annotations

import pytest

from insights.rollup import rollup_run
from messaging.status import message_status_apply
from tests.support.insights import EXPECTED, RANGE, World, csv_rows, login, page_tables


@pytest.mark.parametrize("figure", sorted(EXPECTED))
def test_each_figure_matches_the_hand_count_on_the_page_and_in_the_csv(
    world: World, figure: str
) -> None:
    client = login(world.manager)
    response = client.get("/insights/", RANGE)
    assert response.status_code == 200
    assert page_tables(response.content.decode())[figure] == EXPECTED[figure]
    assert csv_rows(client, figure) == EXPECTED[figure]


def test_a_late_delivered_moves_its_day_once_the_rollup_runs(world: World) -> None:
    client = login(world.manager)
    message_status_apply(message_id=world.late_message.pk, status="delivered")
    # The stored rollup still says `sent`: the page reads rollups for past days.
    assert csv_rows(client, "delivery")[1] == ["Delivered", "6", "60.0"]
    rollup_run()
    rows = csv_rows(client, "delivery")
    assert rows[1] == ["Delivered", "7", "70.0"]
    assert rows[4] == ["Sent, no report yet", "1", "10.0"]
    page = page_tables(client.get("/insights/", RANGE).content.decode())
    assert page["delivery"] == rows


def test_an_administrator_can_narrow_to_one_practice_and_one_line(world: World) -> None:
    client = login(world.admin)
    both = csv_rows(client, "summary")
    only_p = csv_rows(client, "summary", practice=str(world.practice.pk))
    assert only_p == EXPECTED["summary"]
    assert both[1] == ["Texts sent", str(10 + 7), str(2 + 7)]  # Hillside's 7 API texts and replies
    billing = csv_rows(client, "optout_lines", line=str(world.l2.pk))
    assert billing == [EXPECTED["optout_lines"][0], EXPECTED["optout_lines"][2]]
    volume = csv_rows(client, "volume", line=str(world.l2.pk))
    assert [row[-1] for row in volume[1:4]] == ["1", "1", "1"]  # c3, STOP, START on Billing


def test_the_default_range_is_the_last_30_days_with_the_previous_30_beside(world: World) -> None:
    response = login(world.manager).get("/insights/")
    assert response.status_code == 200
    board = response.context["board"]
    assert (board.period.end - board.period.start).days == 29
    assert (board.previous.end - board.previous.start).days == 29
    assert board.previous.end.toordinal() == board.period.start.toordinal() - 1


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-11-29", "end": "2026-11-23"},
        {"start": "2025-01-01", "end": "2026-11-23"},
        {"start": "yesterday", "end": "2026-11-23"},
        {"start": "2026-11-23"},
    ],
)
def test_a_bad_range_is_a_form_error_never_a_500(world: World, params: dict[str, str]) -> None:
    client = login(world.manager)
    page = client.get("/insights/", params)
    assert page.status_code == 400
    assert b'role="alert"' in page.content
    assert client.get("/insights/summary.csv", params).status_code == 400
