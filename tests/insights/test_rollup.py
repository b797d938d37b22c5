"""The rollup run: new texts, staff replies to old waits and late statuses reach the stored
days; today comes from the raw rows before any run; the page's query count is constant."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone

from insights.models import MessageDay, ResponseWait, Touch
from insights.rollup import rollup_run
from messaging.models import Message
from tests.factories import LineFactory, PatientChannelFactory
from tests.support.insights import RANGE, World, _message, at, csv_rows, login


def test_a_status_change_appends_a_touch_in_its_transaction(world: World) -> None:
    from messaging.status import message_status_apply

    Touch.objects.all().delete()
    message_status_apply(message_id=world.late_message.pk, status="delivered")
    touch = Touch.objects.get()
    assert touch.practice_id == world.practice.pk
    assert touch.at == world.late_message.created_at
    rollup_run()
    assert not Touch.objects.exists()


def test_a_staff_reply_days_later_closes_the_wait_of_its_day(world: World) -> None:
    rollup_run()  # scanned up to now
    c4_wait = ResponseWait.objects.get(practice=world.practice, answered_at__isnull=True)
    channel = Message.objects.get(pk=c4_wait.message_id).channel
    # Written now (a reply to Saturday's text, days later): the run finds Saturday again.
    Message.objects.create(
        channel=channel,
        practice=world.practice,
        line=channel.line,
        direction="outbound",
        from_number=channel.line.phone_number.as_e164,
        to_number=channel.phone.as_e164,
        body="Sorry for the wait",
        sender_kind="staff",
        sender_user=world.sam,
    )
    rollup_run()
    c4_wait.refresh_from_db()
    assert c4_wait.answered_by_id == world.sam.pk
    assert c4_wait.over_business_day


def test_today_comes_from_the_raw_rows_before_any_run(world: World) -> None:
    rollup_run()
    now = timezone.now()
    today = now.astimezone(world.practice.tz).date()
    channel = PatientChannelFactory(line=world.l1, practice=world.practice)
    _message(channel, now - datetime.timedelta(seconds=5), sender_kind="smapi")
    _message(channel, now - datetime.timedelta(seconds=3), direction="inbound", body="Hi")
    client = login(world.manager)
    params = {"start": today.isoformat(), "end": today.isoformat()}
    volume = csv_rows(client, "volume", **params)
    assert volume[1] == [today.isoformat(), "0", "1", "0", "0", "0", "1"]
    response = csv_rows(client, "response", **params)
    assert response[1][:3] == ["This period", "1", "0"]
    assert not MessageDay.objects.filter(day=today, sender_kind="smapi").exists()


def _grow(world: World) -> None:
    """More of everything: lines, texts, waits, staff, days."""
    for n in range(3):
        line = LineFactory(
            practice=world.practice,
            name=f"Extra {n}",
            phone_number=f"+1312555090{n}",
            is_default=False,
        )
        for day in range(16, 30):
            channel = PatientChannelFactory(line=line, practice=world.practice)
            _message(channel, at(day, 9, 5), direction="inbound", body="Question")
            _message(channel, at(day, 9, 50), user=world.dana if day % 2 else world.sam)
            _message(channel, at(day, 11), sender_kind="automation")


def test_the_page_costs_the_same_queries_whatever_the_data(
    world: World, django_assert_max_num_queries: Any
) -> None:
    client = login(world.manager)
    client.get("/insights/", RANGE)  # session and caches warm
    with django_assert_max_num_queries(20) as few:
        assert client.get("/insights/", RANGE).status_code == 200
    limit = len(few.captured_queries)  # read now: the connection keeps only the last 9000
    _grow(world)
    rollup_run()
    from insights.rollup import rollup_rebuild
    from tests.support.insights import FIRST_DAY

    rollup_rebuild(first_day=FIRST_DAY)
    admin = login(world.admin)
    admin.get("/insights/", RANGE)
    with django_assert_max_num_queries(limit):
        assert client.get("/insights/", RANGE).status_code == 200
    with django_assert_max_num_queries(limit):
        assert admin.get("/insights/", RANGE).status_code == 200
    with django_assert_max_num_queries(limit):
        assert client.get("/insights/summary.csv", RANGE).status_code == 200


def test_beat_runs_the_rollup_task(world: World, settings: Any) -> None:
    from artera.celery import app
    from insights.tasks import insights_rollup

    entry = settings.CELERY_BEAT_SCHEDULE["insights-rollup"]
    assert entry["task"] == insights_rollup.name
    assert entry["task"] in app.tasks
    Touch.objects.create(practice_id=world.practice.pk, at=at(24, 9))
    assert insights_rollup.delay().get() == {"days": 1, "open_waits": 0}
