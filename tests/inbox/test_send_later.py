"""Send later from the composer, the scheduled text in its thread with a cancel button, and
another practice's staff who can do neither."""

from __future__ import annotations

import datetime
from typing import Any

from channels_app.models import PatientChannel
from messaging.models import Message, SimulatorText
from tests.support import channel_url, client_for

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_the_composer_offers_send_later(staff_a: Any, unverified_channel: PatientChannel) -> None:
    page = client_for(staff_a).get(channel_url(unverified_channel)).content.decode()
    assert "Send later" in page
    assert "Tomorrow 8:00" in page
    assert 'name="send_at_custom"' in page


def test_send_later_schedules_shows_and_cancels(
    staff_a: Any, unverified_channel: PatientChannel
) -> None:
    client = client_for(staff_a)
    tz = unverified_channel.practice.tz
    when = (datetime.datetime.now(tz) + datetime.timedelta(days=1)).replace(
        hour=8, minute=0, second=0, microsecond=0
    )
    response = client.post(
        channel_url(unverified_channel, "send-later/"),
        {"body": "See you tomorrow.", "send_at": when.isoformat()},
        **HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "thread-changed"
    message = Message.objects.get()
    assert (message.status, message.send_at) == ("scheduled", when)
    assert not SimulatorText.objects.exists()

    page = client.get(channel_url(unverified_channel)).content.decode()
    assert f"scheduled/{message.pk}/cancel/" in page
    assert "Scheduled for" in page

    cancel = client.post(channel_url(unverified_channel, f"scheduled/{message.pk}/cancel/"), **HTMX)
    assert cancel.status_code == 204
    message.refresh_from_db()
    assert message.status == "canceled"
    assert (
        f"scheduled/{message.pk}/cancel/"
        not in client.get(channel_url(unverified_channel)).content.decode()
    )


def test_a_custom_time_is_in_the_practices_time_zone(
    staff_a: Any, unverified_channel: PatientChannel
) -> None:
    tz = unverified_channel.practice.tz
    local = (datetime.datetime.now(tz) + datetime.timedelta(days=2)).replace(
        hour=10, minute=30, second=0, microsecond=0
    )
    client_for(staff_a).post(
        channel_url(unverified_channel, "send-later/"),
        {"body": "Later", "send_at_custom": local.strftime("%Y-%m-%dT%H:%M")},
    )
    assert Message.objects.get().send_at == local


def test_no_time_or_a_past_one_is_a_form_error(
    staff_a: Any, unverified_channel: PatientChannel
) -> None:
    client = client_for(staff_a)
    url = channel_url(unverified_channel, "send-later/")
    response = client.post(url, {"body": "Later"}, **HTMX)
    assert "Pick when to send it." in response.content.decode()
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    response = client.post(url, {"body": "Later", "send_at": past.isoformat()}, **HTMX)
    assert "send_at is in the past" in response.content.decode()
    assert not Message.objects.exists()


def test_another_practices_staff_can_neither_schedule_nor_cancel(
    staff_a: Any, staff_b: Any, unverified_channel: PatientChannel
) -> None:
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=3)
    outsider = client_for(staff_b)
    response = outsider.post(
        channel_url(unverified_channel, "send-later/"), {"body": "x", "send_at": when.isoformat()}
    )
    assert response.status_code == 404
    client_for(staff_a).post(
        channel_url(unverified_channel, "send-later/"),
        {"body": "Mine", "send_at": when.isoformat()},
    )
    message = Message.objects.get()
    response = outsider.post(channel_url(unverified_channel, f"scheduled/{message.pk}/cancel/"))
    assert response.status_code == 404
    message.refresh_from_db()
    assert message.status == "scheduled"
