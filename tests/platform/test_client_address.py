"""One idea of the client's address (artera/clientaddr.py), honouring TRUSTED_PROXY_COUNT, for
sign-in lockout, the audit log, IP allowlists and rate limits."""

from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt
from django.test import Client, RequestFactory

from artera.clientaddr import address_normalize, client_ip
from channels_app.models import AuditLog
from tests.factories import TEST_PASSWORD

# The proxy in front of the app, as the app sees it (REMOTE_ADDR) behind one proxy.
PROXY = "10.0.0.2"


def _request(remote: str | None = PROXY, forwarded: str | None = None) -> Any:
    meta: dict[str, str] = {}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().get("/", **meta)
    if remote is None:
        del request.META["REMOTE_ADDR"]
    else:
        request.META["REMOTE_ADDR"] = remote
    return request


@pytest.mark.parametrize(
    ("hops", "remote", "forwarded", "expected"),
    [
        # Directly exposed: the socket, whatever the header says.
        (0, "203.0.113.5", None, "203.0.113.5"),
        (0, "203.0.113.5", "198.51.100.1", "203.0.113.5"),
        (0, "", "198.51.100.1", None),
        (0, None, None, None),
        # One proxy: the entry it appended (the last); what the caller wrote before is ignored.
        (1, PROXY, "203.0.113.5", "203.0.113.5"),
        (1, PROXY, "198.51.100.1, 203.0.113.5", "203.0.113.5"),
        (1, PROXY, "198.51.100.1,203.0.113.5", "203.0.113.5"),
        # Two proxies: the outermost one's entry, second from the right.
        (2, PROXY, "198.51.100.1, 203.0.113.5, 10.0.0.9", "203.0.113.5"),
        # Fewer entries than proxies: the request did not come through them as configured.
        (1, PROXY, None, None),
        (1, PROXY, "", None),
        (2, PROXY, "203.0.113.5", None),
        # Forms proxies write, normalised.
        (1, PROXY, "203.0.113.5:61000", "203.0.113.5"),
        (1, PROXY, "[2001:db8::1]:443", "2001:db8::1"),
        (1, PROXY, "2001:DB8:0::1", "2001:db8::1"),
        (1, PROXY, "::ffff:203.0.113.5", "203.0.113.5"),
        (1, PROXY, "fe80::1%eth0", "fe80::1"),
        (0, "::ffff:203.0.113.5", None, "203.0.113.5"),
        # Garbage: no address, never an error.
        (1, PROXY, "unknown", None),
        (1, PROXY, "203.0.113.5, not-an-ip", None),
        (1, PROXY, "999.1.1.1", None),
        (1, PROXY, "[2001:db8::1", None),
        (1, PROXY, "203.0.113.5\x00", None),
        (1, PROXY, "1" * 5000, None),
        (1, PROXY, ",,,", None),
        (1, PROXY, "\u0661\u0662.0.0.1", None),
    ],
)
def test_client_ip(
    settings: Any, hops: int, remote: str | None, forwarded: str | None, expected: str | None
) -> None:
    settings.TRUSTED_PROXY_COUNT = hops
    assert client_ip(_request(remote, forwarded)) == expected


@pytest.mark.parametrize("value", [None, 5, b"1.2.3.4", "", " "])
def test_address_normalize_refuses_non_addresses(value: object) -> None:
    assert address_normalize(value) is None


def _login(username: str, password: str, forwarded: str) -> Any:
    return Client().post(
        "/accounts/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


def test_behind_a_proxy_lockout_is_per_real_address(staff_a: Any, settings: Any) -> None:
    """Five wrong passwords from one address behind the proxy lock that address out, not the
    user everywhere (as keying on the proxy's own address would)."""
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(5):
        _login("staff_a", "wrong-password", "203.0.113.9")

    assert _login("staff_a", TEST_PASSWORD, "203.0.113.9").status_code in (403, 429)
    assert _login("staff_a", TEST_PASSWORD, "198.51.100.7").status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.9"}


def test_behind_a_proxy_a_forged_header_does_not_dodge_the_lockout(
    staff_a: Any, settings: Any
) -> None:
    """What the attacker writes in front of the proxy's entry changes nothing."""
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(5):
        _login("staff_a", "wrong-password", f"192.0.2.{n}, 203.0.113.9")

    assert _login("staff_a", TEST_PASSWORD, "192.0.2.77, 203.0.113.9").status_code in (403, 429)


def test_directly_exposed_the_header_is_ignored_by_the_lockout(staff_a: Any, settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 0
    for n in range(5):
        _login("staff_a", "wrong-password", f"192.0.2.{n}")  # a new "address" each time

    assert _login("staff_a", TEST_PASSWORD, "192.0.2.99").status_code in (403, 429)


@pytest.mark.parametrize("forwarded", ["garbage", "", "[::1", "1.2.3.4\x00", "a" * 3000])
def test_sign_in_with_a_malformed_header_is_no_error(
    staff_a: Any, settings: Any, forwarded: str
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    assert _login("staff_a", "wrong-password", forwarded).status_code == 200
    assert _login("staff_a", TEST_PASSWORD, forwarded).status_code == 302


def test_the_audit_log_records_the_real_address(
    staff_a: Any, practice_a: Any, settings: Any
) -> None:
    from tests.factories import PatientChannelFactory

    settings.TRUSTED_PROXY_COUNT = 1
    channel = PatientChannelFactory(practice=practice_a, line=practice_a.lines.get())
    client = Client()
    client.force_login(staff_a)
    response = client.get(
        f"/inbox/channels/{channel.pk}/",
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.9",
    )

    assert response.status_code == 200
    entry = AuditLog.objects.filter(channel_id=channel.pk).latest("at")
    assert entry.ip_address == "203.0.113.9"
