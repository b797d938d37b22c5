"""A workflow's after-hours variant is texted while the practice is closed."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from messaging.models import Message
from practices.models import Holiday, Line, PracticeHours
from tests.support.call_to_text import Hit
from webhooks.models import CallToTextCall

pytestmark = pytest.mark.django_db

AFTER_HOURS = "{practiceName} is closed now. Reply and we will answer when we open at 8am."


def _open_only(line: Line, *, now_open: bool) -> None:
    """Weekly hours that make the practice open (or closed) right now, in its timezone."""
    today = timezone.now().astimezone(line.practice.tz).weekday()
    opens, closes = datetime.time(0, 0), datetime.time(23, 59, 59)
    days = [today] if now_open else [d for d in range(7) if d != today]
    PracticeHours.objects.bulk_create(
        PracticeHours(practice=line.practice, weekday=d, opens_at=opens, closes_at=closes)
        for d in days
    )


@pytest.fixture
def after_hours_workflow(make_workflow: Callable[..., Any]) -> str:
    _, token = make_workflow(after_hours_message=AFTER_HOURS)
    return str(token)


def _body(response: Any) -> str:
    return str(Message.objects.get(pk=response.json()["message_id"]).body)


def test_closed_practice_gets_the_after_hours_text(
    hit: Hit, after_hours_workflow: str, line: Line
) -> None:
    _open_only(line, now_open=False)
    response = hit(after_hours_workflow)
    assert response.status_code == 202
    assert _body(response) == (
        "Patient Access Call Center is closed now. Reply and we will answer when we open at 8am."
    )
    assert CallToTextCall.objects.get().after_hours


def test_open_practice_gets_the_usual_text(hit: Hit, after_hours_workflow: str, line: Line) -> None:
    _open_only(line, now_open=True)
    assert _body(hit(after_hours_workflow)).startswith("This is Patient Access Call Center.")
    assert not CallToTextCall.objects.get().after_hours


def test_a_closed_holiday_is_after_hours(hit: Hit, after_hours_workflow: str, line: Line) -> None:
    _open_only(line, now_open=True)
    Holiday.objects.create(
        enterprise=line.practice.enterprise,
        date=timezone.now().astimezone(line.practice.tz).date(),
        name="Closed today",
    )
    assert _body(hit(after_hours_workflow)).endswith("when we open at 8am.")


def test_without_a_variant_the_usual_text_goes_at_any_hour(
    hit: Hit, token: str, line: Line
) -> None:
    _open_only(line, now_open=False)
    assert _body(hit(token)).startswith("This is Patient Access Call Center.")
