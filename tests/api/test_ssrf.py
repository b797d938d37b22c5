"""webhooks.ssrf: which URLs the platform may call (API time, and again at delivery time)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from messaging.models import Message
from practices.models import Practice
from tests.support.api import ApiCaller, assert_error, message_payload
from webhooks import ssrf
from webhooks.ssrf import UnsafeWebhookUrl, is_public_address, webhook_url_check

# Private IPv4 addresses inside IPv6 addresses: each reaches the IPv4 address through the
# kernel's dual-stack sockets, a NAT64 gateway or a 6to4/Teredo relay. Never called; only refused.
EMBEDDED_PRIVATE = [
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "::10.0.0.1",
    "::169.254.169.254",
    "::",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "::ffff:0:10.0.0.1",  # IPv4-translated (SIIT)
    "::ffff:0:127.0.0.1",
    "64:ff9b::10.0.0.1",  # NAT64, well-known prefix
    "64:ff9b::127.0.0.1",
    "64:ff9b::169.254.169.254",
    "64:ff9b::192.168.1.1",
    "64:ff9b:1::a00:1",  # NAT64, local-use prefix: refused whatever it embeds
    "64:ff9b:1:ffff::808:808",
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
]
# The same wrappers around a public IPv4 address are public.
EMBEDDED_PUBLIC = ["64:ff9b::8.8.8.8", "::ffff:0:8.8.8.8", "2002:808:808::1"]


def reason(url: str, **kwargs: Any) -> str | None:
    try:
        webhook_url_check(url, **kwargs)
    except UnsafeWebhookUrl as exc:
        return exc.reason
    return None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://emr.example.org/hook", None),
        ("https://hooks.example.com:8443/hook?x=1", None),
        ("https://93.184.215.14/hook", None),
        ("http://emr.example.org/hook", "not_https"),
        ("https://127.0.0.1/", "private_address"),
        ("https://127.1.2.3/", "private_address"),
        ("https://0.0.0.0/", "private_address"),
        ("https://10.20.30.40/", "private_address"),
        ("https://172.16.0.1/", "private_address"),
        ("https://192.168.0.1/", "private_address"),
        ("https://100.64.0.1/", "private_address"),  # carrier-grade NAT
        ("https://169.254.169.254/", "private_address"),  # cloud metadata
        ("https://224.0.0.1/", "private_address"),  # multicast
        ("https://[::1]/", "private_address"),
        ("https://[fe80::1]/", "private_address"),
        ("https://[fc00::1]/", "private_address"),
        ("https://[::ffff:10.0.0.1]/", "private_address"),
        ("https://localhost/", "private_address"),
        ("https://intranet.example.org/", "private_address"),
        ("https://sneaky.example.org/", "private_address"),
        ("https://does-not-exist.example.net/", "unresolvable"),
        ("not a url", "invalid_url"),
        ("https://", "invalid_url"),
        ("javascript:alert(1)", "invalid_url"),
        ("https://emr.example.org/" + "a" * 500, "invalid_url"),
    ],
)
def test_rules(url: str, expected: str | None) -> None:
    assert reason(url) == expected


def test_private_urls_allowed_for_development(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    assert webhook_url_check("http://localhost:9000/hook") == []
    assert reason("https://10.0.0.1/") is None
    assert reason("not a url") == "invalid_url"


def test_returns_the_addresses_to_connect_to() -> None:
    assert webhook_url_check("https://emr.example.org/") == [ipaddress.ip_address("93.184.215.14")]


def test_a_temporary_dns_failure_is_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    def flaky(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(ssrf, "resolve_host", flaky)
    assert reason("https://emr.example.org/") == "dns_unavailable"


def test_answers_are_cached_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def counting(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["93.184.215.14"]

    monkeypatch.setattr(ssrf, "resolve_host", counting)
    for _ in range(3):
        webhook_url_check("https://cached.example.org/", use_cache=True)
    assert calls == ["cached.example.org"]
    webhook_url_check("https://cached.example.org/")  # the sender's check always resolves
    assert len(calls) == 2


def test_public_address_rule() -> None:
    assert is_public_address(ipaddress.ip_address("8.8.8.8"))
    assert is_public_address(ipaddress.ip_address("2001:4860:4860::8888"))
    assert not is_public_address(ipaddress.ip_address("2002:c0a8:0101::1"))  # 6to4 of 192.168.1.1


@pytest.mark.parametrize("address", EMBEDDED_PRIVATE)
def test_private_ipv4_inside_ipv6_is_refused(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))
    assert reason(f"https://[{address}]/hook") == "private_address"
    assert reason(f"https://[{address}]:8443/hook") == "private_address"


@pytest.mark.parametrize("address", EMBEDDED_PRIVATE)
def test_a_name_that_resolves_to_an_embedded_private_address_is_refused(
    address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ssrf, "resolve_host", lambda host, port: ["93.184.215.14", address])
    assert reason("https://rebound.example.org/hook") == "private_address"


@pytest.mark.parametrize("address", EMBEDDED_PUBLIC)
def test_public_ipv4_inside_ipv6_is_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))
    assert reason(f"https://[{address}]/hook") is None


@pytest.mark.parametrize("address", ["::127.0.0.1", "64:ff9b::10.0.0.1", "::ffff:0:10.0.0.1"])
def test_the_api_refuses_a_callback_url_on_an_embedded_private_address(
    api: ApiCaller, practice: Practice, address: str
) -> None:
    payload = message_payload(practice, callback_url=f"https://[{address}]/status")
    assert_error(api.post(data=payload), 400, "invalid_callback_url", "callback_url")
    assert not Message.objects.exists()
