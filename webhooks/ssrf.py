"""Which URLs the platform may POST webhooks to: https, on hosts with public addresses only.

An integrator names the URL (a client's default webhook URL, a message's `callback_url`), and our
servers call it, so without this rule anyone with an API client could make the platform reach
into its own network (SSRF): cloud metadata at 169.254.169.254, an admin port on localhost, a
database on 10.x. The rule: the scheme is https, and every address the host resolves to is a
global unicast address. `WEBHOOK_ALLOW_PRIVATE_URLS` (development and tests with a local
receiver) lifts both parts.

The check runs twice: when the URL is given (so the integrator hears about it at once), and
again by the webhook sender right before each delivery, because DNS answers change. The sender
should connect to one of the addresses `webhook_url_check` returned, so that a second lookup
cannot hand it another (a "DNS rebinding" attack).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

WEBHOOK_URL_MAX_LENGTH = 500
# Answers are cached briefly for checks made while answering an API request (an EMR tends to
# send the same callback_url with every message); the sender's check never uses the cache.
_DNS_CACHE_SECONDS = 60.0
_DNS_CACHE_MAX_ENTRIES = 1024

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeWebhookUrl(Exception):
    """A URL the platform must not call, and why (`reason`, one of the constants below)."""

    INVALID_URL = "invalid_url"
    NOT_HTTPS = "not_https"
    PRIVATE_ADDRESS = "private_address"
    UNRESOLVABLE = "unresolvable"  # the name does not exist
    DNS_UNAVAILABLE = "dns_unavailable"  # no answer right now: may pass

    def __init__(self, message: str, *, reason: str):
        super().__init__(message)
        self.message = message
        self.reason = reason


def resolve_host(host: str, port: int) -> list[str]:
    """The host's addresses (tests replace this function rather than depend on real DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


_cache: dict[tuple[str, int], tuple[float, list[str] | UnsafeWebhookUrl]] = {}
_cache_lock = threading.Lock()


def webhook_url_check(
    url: str, *, allow_private: bool | None = None, use_cache: bool = False
) -> list[IPAddress]:
    """Refuse a URL the platform must not call; return the addresses it may connect to.

    Raises `UnsafeWebhookUrl` with a `reason`. With private URLs allowed (default:
    `settings.WEBHOOK_ALLOW_PRIVATE_URLS`), http is accepted and nothing is resolved (the
    result is then empty: connect by name).
    """
    if allow_private is None:
        allow_private = settings.WEBHOOK_ALLOW_PRIVATE_URLS
    if not isinstance(url, str) or len(url) > WEBHOOK_URL_MAX_LENGTH:
        raise UnsafeWebhookUrl(
            f"Give a URL of at most {WEBHOOK_URL_MAX_LENGTH} characters.",
            reason=UnsafeWebhookUrl.INVALID_URL,
        )
    try:
        URLValidator(schemes=["http", "https"])(url)
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except (ValidationError, ValueError) as exc:
        raise UnsafeWebhookUrl(
            "This is not a valid URL.", reason=UnsafeWebhookUrl.INVALID_URL
        ) from exc
    if allow_private:
        return []
    if parts.scheme != "https":
        raise UnsafeWebhookUrl("Webhook URLs must use https.", reason=UnsafeWebhookUrl.NOT_HTTPS)
    host = (parts.hostname or "").rstrip(".")
    literal = _ip_or_none(host)
    addresses = [literal] if literal else _resolve(host, port, use_cache=use_cache)
    for address in addresses:
        if not is_public_address(address):
            raise UnsafeWebhookUrl(
                "This URL's host is a private, loopback or link-local address; webhooks only "
                "go to public hosts.",
                reason=UnsafeWebhookUrl.PRIVATE_ADDRESS,
            )
    return addresses


# IPv6 ranges whose last 32 bits are an IPv4 address that a host, a translator or the kernel
# reaches instead: `[::ffff:10.0.0.1]` is 10.0.0.1 to a dual-stack socket, `[64:ff9b::10.0.0.1]`
# is 10.0.0.1 behind a NAT64 gateway. `ipaddress` calls most of them global.
_IPV4_IN_LAST_32_BITS = (
    ipaddress.IPv6Network("::ffff:0:0/96"),  # IPv4-mapped
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated, SIIT (RFC 2765)
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64, the well-known prefix (RFC 6052)
)
# Never public, whatever follows: IPv4-compatible addresses (`::a.b.c.d`, deprecated by RFC
# 4291: no public host has one, and some stacks still reach a.b.c.d through them); a local-use
# NAT64 prefix (RFC 8215), which maps to whichever IPv4 network its operator chose, in an RFC
# 6052 layout we cannot know; Teredo (2001::/32), which hides its client's IPv4 address and
# reaches it through a relay.
_NEVER_PUBLIC = (
    ipaddress.IPv6Network("::/96"),  # also :: and ::1
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("2001::/32"),
)


def is_public_address(address: IPAddress) -> bool:
    """True for a global unicast address (not private, loopback, link-local, CGNAT, multicast,
    reserved…). An IPv6 address that embeds an IPv4 address (IPv4-mapped or -compatible,
    SIIT, NAT64, 6to4) is judged as that IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        if any(address in network for network in _NEVER_PUBLIC):
            return False
        if any(address in network for network in _IPV4_IN_LAST_32_BITS):
            return _is_public_ipv4(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour is not None:
            return _is_public_ipv4(address.sixtofour)
        return address.is_global and not address.is_multicast
    return _is_public_ipv4(address)


def _is_public_ipv4(address: ipaddress.IPv4Address) -> bool:
    return address.is_global and not address.is_multicast


def _ip_or_none(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _resolve(host: str, port: int, *, use_cache: bool) -> list[IPAddress]:
    key = (host.lower(), port)
    now = time.monotonic()
    if use_cache:
        with _cache_lock:
            cached = _cache.get(key)
        if cached is not None and cached[0] > now:
            if isinstance(cached[1], UnsafeWebhookUrl):
                raise cached[1]
            return [ipaddress.ip_address(a) for a in cached[1]]
    answer: list[str] | UnsafeWebhookUrl
    try:
        answer = resolve_host(host, port)
        if not answer:
            answer = UnsafeWebhookUrl(
                "This URL's host has no address.", reason=UnsafeWebhookUrl.UNRESOLVABLE
            )
    except (OSError, UnicodeError) as exc:
        temporary = isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_AGAIN
        if temporary:
            raise UnsafeWebhookUrl(
                "This URL's host could not be looked up right now.",
                reason=UnsafeWebhookUrl.DNS_UNAVAILABLE,
            ) from exc
        answer = UnsafeWebhookUrl(
            "This URL's host does not exist.", reason=UnsafeWebhookUrl.UNRESOLVABLE
        )
    if use_cache:
        with _cache_lock:
            if len(_cache) >= _DNS_CACHE_MAX_ENTRIES:
                _cache.clear()
            _cache[key] = (now + _DNS_CACHE_SECONDS, answer)
    if isinstance(answer, UnsafeWebhookUrl):
        raise answer
    return [ipaddress.ip_address(a) for a in answer]


def dns_cache_clear() -> None:
    with _cache_lock:
        _cache.clear()
