"""Links in texts are shortened by the enterprise's rule and served at /s/<code>."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from messaging.links import links_shorten
from messaging.models import ShortLink
from messaging.services import Api, ToNumber, message_send
from practices.models import Enterprise, Line

pytestmark = pytest.mark.django_db

SHORT = re.compile(r"http://testserver/s/([A-Za-z0-9_-]+)")


@pytest.fixture(autouse=True)
def _short_domain(settings: object) -> None:
    settings.SHORT_LINK_BASE_URL = "http://testserver"  # type: ignore[attr-defined]


def shorten(text: str, rule: str, domains: str = "") -> tuple[str, list[ShortLink]]:
    enterprise = Enterprise(name="E", url_shortening=rule, url_shortening_domains=domains)
    return links_shorten(text=text, enterprise=enterprise)


def test_off_leaves_links_alone() -> None:
    assert shorten("See https://portal.example.org/a/b", "off") == (
        "See https://portal.example.org/a/b",
        [],
    )


def test_all_shortens_every_link_but_keeps_punctuation() -> None:
    text, links = shorten(
        "Pay at https://pay.example.com/x?id=1. Map (https://maps.example.org/p) ok!", "all"
    )
    assert [link.target_url for link in links] == [
        "https://pay.example.com/x?id=1",
        "https://maps.example.org/p",
    ]
    assert text == (
        f"Pay at http://testserver/s/{links[0].code}. Map (http://testserver/s/{links[1].code}) ok!"
    )


def test_domains_rule_covers_subdomains_only_of_listed_domains() -> None:
    text, links = shorten(
        "A https://portal.example.org/1 B https://example.org/2 C https://evil-example.org/3 "
        "D https://other.com/4",
        "domains",
        "example.org",
    )
    assert [link.target_url for link in links] == [
        "https://portal.example.org/1",
        "https://example.org/2",
    ]
    assert "https://evil-example.org/3" in text
    assert "https://other.com/4" in text


def test_our_own_short_links_are_not_shortened_again() -> None:
    assert shorten("http://testserver/s/abc", "all") == ("http://testserver/s/abc", [])


def test_send_stores_links_and_the_redirect_counts_clicks(line: Line, client: Client) -> None:
    enterprise = line.practice.enterprise
    enterprise.url_shortening = Enterprise.UrlShortening.ALL
    enterprise.save(update_fields=["url_shortening"])
    message = message_send(
        to=ToNumber(line.practice, "+18185550101"),
        sender=Api(),
        body="Check in: https://portal.example.org/check-in?appt=123",
    )
    code = SHORT.search(message.body).group(1)  # type: ignore[union-attr]
    link = ShortLink.objects.get(code=code)
    assert (link.message, link.enterprise) == (message, enterprise)

    for expected_clicks in (1, 2):
        response = client.get(f"/s/{code}")
        assert response.status_code == 302
        assert response["Location"] == "https://portal.example.org/check-in?appt=123"
        link.refresh_from_db()
        assert link.clicks == expected_clicks
    assert link.last_clicked_at is not None


def test_unknown_code_is_404(client: Client) -> None:
    assert client.get("/s/nope").status_code == 404
