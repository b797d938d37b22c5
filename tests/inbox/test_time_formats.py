"""The inbox's fast time formats write exactly what Django's own `date` filter and `localize`
write (they replace them on the thread and the list, where there are hundreds of times)."""

from __future__ import annotations

import datetime
import zoneinfo

from django.template import Context, Template
from django.utils import timezone

from inbox.templatetags.inbox import clock, iso

ZONE = zoneinfo.ZoneInfo("America/Chicago")
MOMENTS = [
    datetime.datetime(2026, month, day, hour, minute, second, microsecond, tzinfo=datetime.UTC)
    for month, day in ((1, 1), (3, 9), (5, 31), (9, 15), (12, 25))
    for hour, minute in ((0, 0), (0, 5), (5, 0), (11, 59), (12, 0), (12, 30), (17, 7), (23, 0))
    for second, microsecond in ((0, 0), (7, 123456))
]


def _django(value: datetime.datetime, expression: str) -> str:
    return Template(
        "{% load tz %}{% timezone zone %}{{ value" + expression + " }}{% endtimezone %}"
    ).render(Context({"value": value, "zone": ZONE}))


def test_iso_and_clock_are_the_date_filter() -> None:
    for value in MOMENTS:
        local = timezone.localtime(value, ZONE)
        assert iso(local) == _django(value, "|date:'c'")
        assert clock(local) == _django(value, '|date:"M j, g:i A"')
        assert clock(local, True) == _django(value, '|date:"M j, g:i:s A"')


def test_the_title_of_a_time_is_what_localize_writes() -> None:
    from inbox.templatetags.inbox import _moment, _words

    for value in MOMENTS:
        local = timezone.localtime(value, ZONE)
        assert _moment(local, _words("en-us")) == _django(value, "")


def test_empty_times_are_empty() -> None:
    assert iso(None) == ""
    assert clock(None) == ""
