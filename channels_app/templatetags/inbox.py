"""Template helpers for staff pages."""

from __future__ import annotations

import datetime

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def ago(value: datetime.datetime | None) -> str:
    """ "just now", "5 minutes ago", "3 hours ago": one unit is enough to scan a list."""
    if not value:
        return ""
    if timezone.now() - value < datetime.timedelta(minutes=1):
        return "just now"
    return f"{timesince(value, depth=1)} ago"
