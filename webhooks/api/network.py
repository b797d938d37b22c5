"""Who is calling: the client's IP address, and whether an allowlist admits it."""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from webhooks.models import parse_ip_allowlist

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_ip(request: HttpRequest) -> str:
    """The caller's address (see `client_ip_from_meta`)."""
    return client_ip_from_meta(request.META)


def client_ip_from_meta(meta: Mapping[str, Any]) -> str:
    """The caller's address, from a request's WSGI environment.

    Directly exposed, it is REMOTE_ADDR. Behind `TRUSTED_PROXY_COUNT` proxies (load balancers)
    each of which appends the address it received from to X-Forwarded-For, the caller is the
    entry that many places from the end: anything before it was written by the caller and
    proves nothing.
    """
    remote = str(meta.get("REMOTE_ADDR", ""))
    hops = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    if hops <= 0:
        return remote
    forwarded = [
        item.strip()
        for item in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",")
        if item.strip()
    ]
    return forwarded[-hops] if len(forwarded) >= hops else remote


def ip_allowed(*, allowlist: str, ip: str) -> bool:
    """True when `ip` is in one of the allowlist's networks; a blank allowlist admits anyone."""
    if not allowlist.strip():
        return True
    networks = _networks(allowlist)
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


@functools.lru_cache(maxsize=512)
def _networks(allowlist: str) -> tuple[Network, ...]:
    try:
        return tuple(parse_ip_allowlist(allowlist))
    except ValidationError:
        # Only a row written around the model's validation can hold this; refuse everyone
        # rather than guess what was meant.
        logger.error("Unparseable IP allowlist %r: refusing every address", allowlist)
        return ()
