"""Template helpers for staff pages."""

from __future__ import annotations

import datetime
import functools
import html
import re
from dataclasses import dataclass
from typing import Any

from django import template
from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.dates import MONTHS_3, MONTHS_AP
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.timesince import timesince
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from messaging.models import ErrorCode, MessageStatus

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
def with_mentions(text: str, members: dict[str, str] | None = None) -> str:
    """A note's text, escaped, with line breaks and its @mentions of real members of the
    practice (`members`: lower-cased username → display name) highlighted by name. Any other
    @word stays plain text: it notified nobody."""
    escaped = str(conditional_escape(text))
    names = members or {}

    def mark(match: re.Match[str]) -> str:
        username = match.group(1).rstrip(".")
        name = names.get(username.lower())
        if name is None:
            return match.group(0)
        rest = match.group(1)[len(username) :]
        return f'<mark class="mention" title="@{username}">@{html.escape(name)}</mark>{rest}'

    marked = _MENTION_RE.sub(mark, escaped)
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


# --- Times, formatted fast ----------------------------------------------------------------------
#
# The same text as Django's `date` filter and `localize` give, for the few formats the inbox
# uses. A thread page shows up to 200 messages with three or four times each, and Django's
# general-purpose formatter (~50 µs a call) was most of the time such a page took.


@dataclass(frozen=True)
class _Words:
    months_3: dict[int, str]  # "Jan", as `M`
    months_ap: dict[int, str]  # "Jan.", "March", as `N`
    am: str
    pm: str
    a_m: str
    p_m: str
    noon: str
    midnight: str


@functools.lru_cache(maxsize=8)
def _words(language: str | None) -> _Words:
    """The translated words the formats use, looked up once per language (a lookup each time
    cost more than the formatting)."""
    return _Words(
        months_3={month: str(name).title() for month, name in MONTHS_3.items()},
        months_ap={month: str(name) for month, name in MONTHS_AP.items()},
        am=_("AM"),
        pm=_("PM"),
        a_m=_("a.m."),
        p_m=_("p.m."),
        noon=_("noon"),
        midnight=_("midnight"),
    )


@register.filter(expects_localtime=True)
def iso(value: datetime.datetime | None) -> str:
    """`{{ value|iso }}` is `{{ value|date:"c" }}`: ISO 8601 in the current time zone."""
    return value.isoformat() if value else ""


@register.filter(expects_localtime=True)
def clock(value: datetime.datetime | None, seconds: bool = False) -> str:
    """`{{ value|clock }}` is `{{ value|date:"M j, g:i A" }}`, `{{ value|clock:True }}` is
    `{{ value|date:"M j, g:i:s A" }}`."""
    return _clock(value, _words(get_language()), seconds=seconds) if value else ""


def _clock(value: datetime.datetime, words: _Words, *, seconds: bool = False) -> str:
    hour = value.hour % 12 or 12
    time = (
        f"{hour}:{value.minute:02d}:{value.second:02d}" if seconds else f"{hour}:{value.minute:02d}"
    )
    half = words.pm if value.hour > 11 else words.am
    return f"{words.months_3[value.month]} {value.day}, {time} {half}"


def _moment(value: datetime.datetime, words: _Words) -> str:
    """What `{{ value }}` shows for a datetime: the locale's DATETIME_FORMAT (for English,
    "N j, Y, P": "Nov. 3, 2026, 4:05 p.m.", "noon", "midnight")."""
    if formats.get_format("DATETIME_FORMAT") != "N j, Y, P":
        return str(formats.localize(value))
    if value.minute == 0 and value.hour in (0, 12):
        time = words.midnight if value.hour == 0 else words.noon
    else:
        hour = value.hour % 12 or 12
        hours = f"{hour}:{value.minute:02d}" if value.minute else f"{hour}"
        time = f"{hours} {words.p_m if value.hour > 11 else words.a_m}"
    return f"{words.months_ap[value.month]} {value.day}, {value.year:04d}, {time}"


# --- The timeline's messages --------------------------------------------------------------------

_STATUS_LABELS = dict(MessageStatus.choices)
_ERROR_LABELS = dict(ErrorCode.choices)


@register.simple_tag
def message_article(message: Any, inbound_name: str) -> SafeString:
    """One message of the thread (from `channel_thread`, which reads its status `history`) with
    its delivery status, written here rather than in the template: a thread shows up to 200
    messages, and the template engine took half a millisecond for each. The markup is the
    template's; every value is escaped. `inbound_name` is who the patient's texts are from.
    Times are in the current time zone (the practice's, set by the timeline)."""
    zone = timezone.get_current_timezone()
    words = _words(get_language())
    created = message.created_at.astimezone(zone)
    title = _moment(created, words)
    sender = inbound_name if message.direction == "inbound" else sender_label(message)
    secure_class = " msg-secure" if message.is_secure else ""
    secure_tag = '· <span class="secure-tag">Secure</span>' if message.is_secure else ""
    parts = [
        f'<article class="msg msg-{_esc(message.direction)}{secure_class}" id="m-{message.id}">\n'
        '    <header class="msg-meta">\n'
        f"      {_esc(sender)}\n"
        f'      · <time datetime="{created.isoformat()}" title="{_esc(title)}">'
        f"{_esc(_clock(created, words))}</time>\n"
        f"      {secure_tag}\n"
        "    </header>\n"
        f'    <div class="msg-body">{linebreaksbr(message.body)}</div>\n'
        "    \n"
    ]
    if message.direction == "outbound":
        history = []
        for change in message.history:
            at = change.at.astimezone(zone)
            error = f" ({_esc(_ERROR_LABELS.get(change.error_code, change.error_code))})"
            history.append(
                f"<li>{_esc(_STATUS_LABELS.get(change.status, change.status))}"
                f"{error if change.error_code else ''} · "
                f'<time datetime="{at.isoformat()}">{_esc(_clock(at, words, seconds=True))}'
                "</time></li>"
            )
        error = f" · {_esc(_ERROR_LABELS.get(message.error_code, message.error_code))}"
        parts.append(
            f'    <footer class="msg-status status-{_esc(message.status)}">\n'
            "      <details>\n"
            # Out of the Tab order (a thread has dozens): the arrow keys reach them from the
            # focused timeline (static/js/inbox.js).
            '        <summary tabindex="-1"><span class="status-label">'
            f"{_esc(_STATUS_LABELS.get(message.status, message.status))}</span>"
            f"{error if message.error_code else ''}</summary>\n"
            '        <ol class="status-history">\n'
            f"          {''.join(history)}\n"
            "        </ol>\n"
            "      </details>\n"
            "    </footer>\n"
            "    \n"
        )
    parts.append("  </article>")
    return mark_safe("".join(parts))  # noqa: S308 - every value in it is escaped


def _esc(value: object) -> str:
    """`django.utils.html.escape` without its lazy-string wrapper, which cost more than the
    escaping (the output is the same)."""
    return html.escape(str(value))


# --- The inbox's rows -----------------------------------------------------------------------------


@register.simple_tag
def channel_row(channel: Any, query: str = "") -> SafeString:
    """One row of the inbox (a channel from `channel_page_for_user`), written here rather than
    in the template for the same reason as `message_article`: the list is the page staff keep
    open, and it is re-rendered whenever anything in it moves. The markup is the template's;
    every value is escaped.

    The link keeps the list's filters (`query`), so the thread's URL shows the same list beside
    it; htmx opens it into the workspace's thread pane and pushes the URL."""
    at = timezone.localtime(channel.last_activity_at)
    title = _moment(at, _words(get_language()))
    row_class = " needs-action" if channel.needs_action else ""
    row_class += " is-unread" if channel.is_unread else ""
    if channel.patient is not None and channel.patient.is_verified:
        badge = _BADGE_VERIFIED
    elif channel.known_patient is not None:
        badge = _BADGE_KNOWN_NUMBER
    else:
        badge = _BADGE_UNVERIFIED
    preview = "".join(
        [
            _SENT if channel.last_message_direction == "outbound" else "",
            _SECURE if channel.last_message_secure else "",
            _esc(Truncator(channel.last_message_body or "No messages yet").chars(120)),
        ]
    )
    assignee = channel.assignee
    assigned = (
        '<span class="small">Assigned to '
        f"{_esc(assignee.get_full_name() or assignee.get_username())}</span>"
        if assignee is not None
        else ""
    )
    waiting = ""
    if channel.needs_action and channel.waiting_since is not None:
        since = timezone.localtime(channel.waiting_since)
        waiting = (
            f'<span class="waiting">Waiting <time datetime="{since.isoformat()}" '
            f'title="Waiting since {_esc(_moment(since, _words(get_language())))}">'
            f"{_esc(timesince(since, depth=1))}</time></span>"
        )
    url = reverse("channel", args=[channel.id]) + (f"?{query}" if query else "")
    return mark_safe(  # noqa: S308 - every value in it is escaped
        f'<li class="channel-row{row_class}" id="channel-{channel.id}">\n'
        '    <div class="channel-main">\n'
        '      <p class="channel-name">\n'
        f"        {_UNREAD_DOT if channel.is_unread else ''}\n"
        f'        <a class="channel-link" id="open-{channel.id}" href="{_esc(url)}" '
        f'hx-get="{_esc(url)}" hx-target="#thread-pane" hx-swap="innerHTML" hx-push-url="true">'
        f"{_esc(channel.display_name)}</a>\n"
        f"        {_STAR if channel.is_starred else ''}\n"
        f"        {badge}\n"
        f"        {_BADGE_NEEDS_ACTION if channel.needs_action else ''}\n"
        f"        {_BADGE_CLOSED if channel.status == 'closed' else ''}\n"
        "      </p>\n"
        '      <p class="channel-preview">\n'
        f"        {preview}\n"
        "      </p>\n"
        "    </div>\n"
        '    <div class="channel-meta">\n'
        f"      {waiting}\n"
        f'      <time datetime="{at.isoformat()}" title="{_esc(title)}">{_esc(ago(at))}</time>\n'
        f'      <span class="muted small">{_esc(channel.practice.name)} · '
        f"{_esc(channel.line.name)}</span>\n"
        f"      {assigned}\n"
        "    </div>\n"
        "  </li>"
    )


_UNREAD_DOT = (
    '<span class="unread-dot" title="Unread"><span class="visually-hidden">Unread:</span></span>'
)
_STAR = '<span class="star" title="Starred">★<span class="visually-hidden"> Starred</span></span>'
_BADGE_VERIFIED = '<span class="badge badge-verified" title="Identified by the EMR">Verified</span>'
_BADGE_KNOWN_NUMBER = (
    '<span class="badge" title="This number belongs to a patient of your organization; the '
    'conversation is not verified">Unverified · known number</span>'
)
_BADGE_UNVERIFIED = '<span class="badge">Unverified</span>'
_BADGE_NEEDS_ACTION = '<span class="badge badge-action">Needs action</span>'
_BADGE_CLOSED = '<span class="badge badge-muted">Closed</span>'
_SENT = '<span class="muted">Sent:</span> '
_SECURE = '<span class="muted">[Secure]</span> '
