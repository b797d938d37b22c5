"""webhooks.ssrf: which URLs the platform may call (API time, and again at delivery time)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from webhooks import ssrf
from webhooks.ssrf import UnsafeWebhookUrl, is_public_address, webhook_url_check


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
