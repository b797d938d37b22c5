"""manage.py create_api_client."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from practices.models import Enterprise
from tests.support.api import get_token
from webhooks.models import ApiClient
from webhooks.services import ApiClientCredentials

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("create_api_client", *args, stdout=out)
    return out.getvalue()


def test_prints_credentials_that_work(enterprise: Enterprise) -> None:
    output = json.loads(
        run(
            "--enterprise", str(enterprise.pk), "--name", "Epic", "--webhook-url",
            "https://emr.example.org/hooks", "--json",
        )
    )  # fmt: skip
    assert set(output) >= {"client_id", "client_secret", "webhook_secret", "scopes"}
    assert output["webhook_secret"].startswith("whsec_")
    assert output["scopes"] == ["messages:send", "messages:read"]
    client = ApiClient.objects.get()
    assert (client.enterprise, client.name, client.webhook_url) == (
        enterprise,
        "Epic",
        "https://emr.example.org/hooks",
    )
    assert client.application.client_secret != output["client_secret"]  # hashed
    credentials = ApiClientCredentials(
        api_client=client,
        client_id=output["client_id"],
        client_secret=output["client_secret"],
        webhook_secret=output["webhook_secret"],
    )
    assert get_token(credentials)


def test_scopes_and_enterprise_by_name(enterprise: Enterprise) -> None:
    output = run("--enterprise", "Acme Health", "--name", "Reader", "--scopes", "messages:read")
    assert "client_secret:" in output
    assert ApiClient.objects.get().scope_list == ["messages:read"]


def test_comma_separated_scopes_and_ips(enterprise: Enterprise) -> None:
    run(
        "--enterprise", str(enterprise.pk), "--name", "X",
        "--scopes", "messages:read,messages:send", "--allowed-ips", "203.0.113.0/24,10.0.0.1",
    )  # fmt: skip
    client = ApiClient.objects.get()
    assert set(client.scope_list) == {"messages:read", "messages:send"}
    assert "203.0.113.0/24" in client.allowed_ips


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--enterprise", "Nobody", "--name", "X"], "No enterprise"),
        (["--name", "X", "--scopes", "admin"], "Scopes must be"),
        (["--name", "X", "--webhook-url", "http://emr.example.org/"], "https"),
        (["--name", "X", "--webhook-url", "https://10.0.0.1/"], "private"),
        (["--name", "X", "--allowed-ips", "not-an-ip"], "Not an IP"),
    ],
)
def test_refusals(enterprise: Enterprise, args: list[str], message: str, settings: Any) -> None:
    if "--enterprise" not in args:
        args = ["--enterprise", str(enterprise.pk), *args]
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not ApiClient.objects.exists()
