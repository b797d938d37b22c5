"""Short links: long URLs in a text replaced by `/s/<code>` on the platform's own host.

Whether a link is shortened is the enterprise's rule (`Enterprise.url_shortening`): never, every
link, or links to the listed domains and their subdomains. Our own short links are left alone.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from artera.errors import NotFound
from practices.models import Enterprise

from .models import ShortLink

URL_RE = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
# Punctuation that ends a sentence rather than a URL ("see https://x.org/a.").
_TRAILING = ".,;:!?'\""


def short_link_url(code: str) -> str:
    return f"{settings.SHORT_LINK_BASE_URL}/s/{code}"


def links_shorten(*, text: str, enterprise: Enterprise) -> tuple[str, list[ShortLink]]:
    """Return `text` with the links the enterprise's rule covers shortened, and the (unsaved)
    `ShortLink` rows to store with the message."""
    rule = enterprise.url_shortening
    if rule == Enterprise.UrlShortening.OFF or "://" not in text:
        return text, []
    domains = enterprise.shortening_domains()
    own_host = urlsplit(settings.SHORT_LINK_BASE_URL).hostname
    links: list[ShortLink] = []

    def shorten(match: re.Match[str]) -> str:
        url, tail = _split_trailing(match.group(0))
        host = (urlsplit(url).hostname or "").lower()
        if not host or host == own_host:
            return match.group(0)
        if rule == Enterprise.UrlShortening.DOMAINS and not any(
            host == domain or host.endswith("." + domain) for domain in domains
        ):
            return match.group(0)
        link = ShortLink(code=secrets.token_urlsafe(8), target_url=url, enterprise=enterprise)
        links.append(link)
        return short_link_url(link.code) + tail

    return URL_RE.sub(shorten, text), links


def _split_trailing(url: str) -> tuple[str, str]:
    """Split sentence punctuation (and a closing parenthesis the URL did not open) off a URL."""
    end = len(url)
    while end and (
        url[end - 1] in _TRAILING
        or (url[end - 1] == ")" and url.count("(", 0, end) < url.count(")", 0, end))
    ):
        end -= 1
    return url[:end], url[end:]


_SHORT_CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")


def short_link_follow(*, code: str) -> str:
    """Count a click on a short link and return where it goes."""
    if not _SHORT_CODE_RE.fullmatch(code):
        # Not a code we could have made (`links.py` uses URL-safe base64): no query needed, and
        # bytes such as NUL never reach the database.
        raise NotFound("No such link.", code="unknown_link")
    row = ShortLink.objects.filter(code=code).values_list("pk", "target_url").first()
    if row is None:
        raise NotFound("No such link.", code="unknown_link")
    ShortLink.objects.filter(pk=row[0]).update(
        clicks=F("clicks") + 1, last_clicked_at=timezone.now()
    )
    return row[1]
