"""The client's address: the one idea of "who is calling" that every part of the platform uses.

Sign-in lockout (django-axes, `AXES_CLIENT_IP_CALLABLE`), the audit log, IP allowlists (API
clients, call-to-text workflows) and every rate limit keyed by address ask `client_ip`. Two copies
that disagree are a hole: a lockout keyed on the proxy's address locks every user out at once,
and an allowlist that believes a header the caller wrote admits anyone.

`TRUSTED_PROXY_COUNT` says how many reverse proxies stand in front of the app, each appending the
address it received the connection from to `X-Forwarded-For`:

- 0 (the app's port faces the callers directly): the socket's address, `REMOTE_ADDR`.
  `X-Forwarded-For` is ignored entirely: anyone can write it.
- N: the entry N places from the right, the one the outermost trusted proxy appended. Entries
  further left were written by the caller (or by proxies we do not know) and prove nothing.

This is only true if nobody can reach the app's port except through those proxies: bind the app
server to 127.0.0.1 or a private interface (README, "Run it for real").

A value that is not an address (garbage in the header, fewer entries than proxies, a Unix-socket
`REMOTE_ADDR` of "") gives None: allowlists refuse it, rate limits count it in one shared bucket,
the audit log stores no address. It is never an error.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest

# Longer than any address with a port and brackets; a longer entry is not worth parsing.
_MAX_ENTRY_CHARS = 64


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address (normalised, e.g. `203.0.113.5` or `2001:db8::1`), or None."""
    return client_ip_from_meta(request.META)


def client_ip_from_meta(meta: Mapping[str, Any]) -> str | None:
    """`client_ip` from a WSGI environment (or the copy of it oauthlib's request carries)."""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops <= 0:
        return address_normalize(meta.get("REMOTE_ADDR"))
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    if not isinstance(forwarded, str):
        return None
    # Several X-Forwarded-For headers arrive joined with commas: one list either way.
    entries = [item.strip() for item in forwarded.split(",")]
    entries = [item for item in entries if item]
    if len(entries) < hops:
        # The proxies did not add what they should have: the request did not come through
        # them as configured, and nothing in the header can be trusted.
        return None
    return address_normalize(entries[-hops])


def address_normalize(value: object) -> str | None:
    """An IP address in canonical form, or None. Accepts what proxies write: `1.2.3.4`,
    `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:443`; an IPv4-mapped IPv6 address
    (`::ffff:1.2.3.4`, what a dual-stack socket reports) becomes the IPv4 address, and an IPv6
    zone (`%eth0`) is dropped, so one caller always has one address."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > _MAX_ENTRY_CHARS:
        return None
    if text.startswith("["):
        host, bracket, _ = text[1:].partition("]")
        if not bracket:
            return None
        text = host
    elif text.count(":") == 1:
        text = text.partition(":")[0]  # IPv4 with a port
    text = text.partition("%")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)
