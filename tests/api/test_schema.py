"""The OpenAPI description (/api/schema/), the docs page (/api/docs/), and schemathesis fuzzing
the running API from that description."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.test import Client

from practices.models import Enterprise, Line, Practice, PracticeLocation
from tests.factories import PatientFactory
from tests.support.api import get_token
from webhooks.services import api_client_create, smapi_key_create

# The ids in the schema's examples, so example-based cases reach the accepted path.
EXAMPLE_PRACTICE_ID = uuid.UUID("3fa85f64-5717-4562-b3fc-2c963f66afa6")
EXAMPLE_LINE_ID = uuid.UUID("6a1f7c2e-3d4b-4e5f-8a9b-0c1d2e3f4a5b")


@pytest.mark.django_db
def test_schema_is_valid_openapi_with_the_oauth_flow() -> None:
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    assert schema["openapi"].startswith("3.")
    oauth = schema["components"]["securitySchemes"]["oauth2"]
    assert oauth["flows"]["clientCredentials"]["tokenUrl"] == "/oauth/token/"
    assert set(oauth["flows"]["clientCredentials"]["scopes"]) == {
        "messages:send",
        "messages:read",
    }
    assert schema["components"]["securitySchemes"]["smapiKey"]["name"] == "X-API-Key"
    send = schema["paths"]["/api/v1/messages"]["post"]
    assert send["security"] == [{"oauth2": ["messages:send"]}]
    assert set(send["responses"]) == {"202", "400", "401", "403", "413", "415", "422", "429"}
    assert "Retry-After" in send["responses"]["429"]["headers"]
    codes = {
        example["value"]["error"]["code"]
        for response in send["responses"].values()
        for example in response["content"]["application/json"].get("examples", {}).values()
        if "error" in example["value"]
    }
    assert {
        "invalid_phone",
        "empty_body",
        "body_too_long",
        "missing_practice",
        "invalid_uuid",
        "metadata_too_large",
        "invalid_callback_url",
        "malformed_json",
        "not_authenticated",
        "insufficient_scope",
        "ip_not_allowed",
        "request_too_large",
        "unsupported_media_type",
        "unknown_practice",
        "secure_requires_verified_patient",
        "recipient_opted_out",
        "idempotency_key_reuse",
        "rate_limited",
    } <= codes
    read = schema["paths"]["/api/v1/messages/{message_id}"]["get"]
    assert read["security"] == [{"oauth2": ["messages:read"]}]
    assert set(read["responses"]) == {"200", "401", "403", "404", "429"}
    assert any(p["name"] == "Idempotency-Key" for p in send["parameters"])


@pytest.mark.django_db
def test_schema_documents_the_batch_endpoint() -> None:
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    batch = schema["paths"]["/api/v1/messages/batch"]["post"]
    assert batch["security"] == [{"oauth2": ["messages:send"]}]
    assert set(batch["responses"]) == {"207", "400", "401", "403", "413", "415", "422", "429"}
    assert any(p["name"] == "Idempotency-Key" for p in batch["parameters"])
    assert "Idempotent-Replayed" in batch["responses"]["207"]["headers"]
    request = batch["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    messages = schema["components"]["schemas"][request.rsplit("/", 1)[1]]["properties"]
    assert (messages["messages"]["minItems"], messages["messages"]["maxItems"]) == (1, 500)
    item = messages["messages"]["items"]["anyOf"][0]["$ref"]
    assert set(schema["components"]["schemas"][item.rsplit("/", 1)[1]]["required"]) == {
        "to",
        "body",
    }
    codes = {
        example["value"]["error"]["code"]
        for response in batch["responses"].values()
        for example in response["content"]["application/json"].get("examples", {}).values()
        if "error" in example["value"]
    }
    assert {"too_many_messages", "empty_batch", "idempotency_key_reuse"} <= codes
    # Both shapes of a result are in the 207's example.
    example = next(
        iter(batch["responses"]["207"]["content"]["application/json"]["examples"].values())
    )
    assert [set(r) for r in example["value"]["results"]] == [
        {"status", "message"},
        {"status", "error"},
    ]
    # The single send's errors do not list the batch's own.
    send = schema["paths"]["/api/v1/messages"]["post"]
    send_codes = {
        example["value"]["error"]["code"]
        for response in send["responses"].values()
        for example in response["content"]["application/json"].get("examples", {}).values()
        if "error" in example["value"]
    }
    assert not {"too_many_messages", "empty_batch"} & send_codes


@pytest.mark.django_db
def test_schema_is_served_without_credentials() -> None:
    response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Artera messaging API"


@pytest.mark.django_db
def test_docs_page_loads_nothing_from_elsewhere() -> None:
    client = Client()
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls, html
    assert all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    # Every asset is really there, and the setup script points at our schema.
    for url in urls:
        assert client.get(url).status_code == 200, url
    script = client.get("/api/docs/?script=").content.decode()
    assert "/api/schema/" in script
    assert "http://" not in script
    assert "https://" not in script
    # No inline script or style: the site's CSP (script-src/style-src 'self') allows none.
    assert "<script>" not in html
    assert "<style" not in html
    assert "script-src 'self'" in response["Content-Security-Policy"]


# --- schemathesis ---------------------------------------------------------------------------


@pytest.fixture
def fuzz_target(transactional_db: None, settings: Any) -> dict[str, str]:
    """An enterprise whose practice, line and location carry the ids in the schema's examples,
    and credentials for both APIs."""
    settings.API_RATE_LIMIT_PER_SECOND = 0
    enterprise = Enterprise.objects.create(name="Fuzzed Health")
    practice = Practice.objects.create(pk=EXAMPLE_PRACTICE_ID, enterprise=enterprise, name="Fz")
    Line.objects.create(
        pk=EXAMPLE_LINE_ID,
        practice=practice,
        name="Main",
        phone_number="+12135550100",
        is_default=True,
        send_rate=Decimal("1000"),
    )
    PracticeLocation.objects.create(practice=practice, location_id="DEP10101")
    PatientFactory(enterprise=enterprise, mrn="E1234567")
    credentials = api_client_create(enterprise=enterprise, name="Fuzzer")
    _, smapi_key = smapi_key_create(enterprise=enterprise, name="Fuzzer")
    return {"token": get_token(credentials), "smapi_key": smapi_key}


def test_schemathesis_finds_no_server_error(
    live_server: Any, fuzz_target: dict[str, str], tmp_path: Path
) -> None:
    """The documented command (docs/api.md) against a live server: every phase (examples,
    coverage, fuzzing, stateful), every check but `positive_data_acceptance` (schema-valid
    requests may still be refused with a 422: a random practice id names no practice)."""
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{live_server.url}/api/schema/",
        "-H", f"Authorization: Bearer {fuzz_target['token']}",
        "-H", f"X-API-Key: {fuzz_target['smapi_key']}",
        "--exclude-checks", "positive_data_acceptance",
        "--max-examples", os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "40"),
        "--seed", os.environ.get("SCHEMATHESIS_SEED", "20261121"),
        "--generation-database", "none",
        "--workers", "1",
        "--no-color",
    ]  # fmt: skip
    result = subprocess.run(  # our own venv's executable, fixed arguments
        command, cwd=tmp_path, capture_output=True, text=True, timeout=170, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "Server error" not in output
