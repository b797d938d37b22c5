"""Whether an IP allowlist admits a caller (whose address is `artera.clientaddr.client_ip`)."""

from __future__ import annotations

import functools
import ipaddress
import logging

from django.core.exceptions import ValidationError

from webhooks.models import parse_ip_allowlist

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def ip_allowed(*, allowlist: str, ip: str | None) -> bool:
    """True when `ip` is in one of the allowlist's networks; a blank allowlist admits anyone.
    An unknown address (None) is in no network."""
    if not allowlist.strip():
        return True
    networks = _networks(allowlist)
    if ip is None:
        return False
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
