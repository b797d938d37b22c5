"""Template helpers for staff pages."""

from __future__ import annotations

import datetime
import re
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
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


@register.simple_tag
def inbox_query(filters: Any, **changes: str) -> str:
    """`{% inbox_query filters status="closed" %}`: the inbox's query string with filters
    changed (an empty value drops one). The cursor is dropped: a new filter starts at the
    newest."""
    return str(filters.query(**{key: value or None for key, value in changes.items()}))


_MENTION_RE = re.compile(r"(?<![\w@])@([\w.+-]{1,150})")


@register.filter
def with_mentions(text: str) -> str:
    """A note's text, escaped, with line breaks and its @mentions highlighted."""
    escaped = str(conditional_escape(text))
    marked = _MENTION_RE.sub(lambda m: f'<mark class="mention">@{m.group(1)}</mark>', escaped)
    return mark_safe(marked.replace("\n", "<br>"))  # noqa: S308 - escaped above


@register.filter
def sender_label(message: Any) -> str:
    """Who sent an outbound message, as staff know them."""
    kind = message.sender_kind
    if kind == "staff" and message.sender_user is not None:
        return str(message.sender_user.get_full_name() or message.sender_user.get_username())
    if kind == "api":
        client = message.sender_api_client
        return f"API · {client.name}" if client is not None else "API"
    if kind == "call_to_text":
        return "Call-to-text"
    if kind == "automation":
        return "Automation"
    return str(message.get_sender_kind_display())


@register.filter
def user_label(user: Any) -> str:
    if user is None:
        return "Someone"
    return str(user.get_full_name() or user.get_username())
