"""Writes for integrator-facing objects: API clients, SMAPI keys, call-to-text workflows."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from oauth2_provider.generators import generate_client_id, generate_client_secret
from oauth2_provider.models import Application

from artera.secrets import token_generate, token_hash
from practices.models import Enterprise, Line, Practice

from .models import API_SCOPES, ApiClient, CallToTextWorkflow, SmapiKey


def webhook_secret_generate() -> str:
    """A Standard Webhooks signing secret: `whsec_` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class ApiClientCredentials:
    """What an integrator is given once: the secret is never readable again."""

    api_client: ApiClient
    client_id: str
    client_secret: str
    webhook_secret: str


@transaction.atomic
def api_client_create(
    *,
    enterprise: Enterprise,
    name: str,
    scopes: list[str] | None = None,
    webhook_url: str = "",
    allowed_ips: str = "",
    client_secret: str | None = None,
) -> ApiClientCredentials:
    """Create an OAuth client-credentials application bound to `enterprise`."""
    scopes = list(API_SCOPES) if scopes is None else scopes
    unknown = [s for s in scopes if s not in API_SCOPES]
    if unknown or not scopes:
        raise ValidationError(
            f"Scopes must be among {', '.join(API_SCOPES)} (got: {', '.join(scopes) or 'none'})."
        )
    secret = client_secret or generate_client_secret()
    application = Application(
        name=f"{enterprise.name}: {name}",
        client_id=generate_client_id(),
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,
        hash_client_secret=True,
    )
    application.full_clean()
    application.save()
    api_client = ApiClient(
        enterprise=enterprise,
        application=application,
        name=name,
        scopes=" ".join(scopes),
        webhook_url=webhook_url,
        allowed_ips=allowed_ips,
        webhook_secret=webhook_secret_generate(),
    )
    api_client.full_clean()
    api_client.save()
    return ApiClientCredentials(
        api_client=api_client,
        client_id=application.client_id,
        client_secret=secret,
        webhook_secret=api_client.webhook_secret,
    )


def smapi_key_create(
    *, enterprise: Enterprise, name: str, key: str | None = None
) -> tuple[SmapiKey, str]:
    """Create a legacy API key; returns the row and the key, which is shown only now."""
    key = key or token_generate(prefix="smapi_")
    row = SmapiKey.objects.create(
        enterprise=enterprise, name=name, key_prefix=key[:12], key_hash=token_hash(key)
    )
    return row, key


def call_to_text_url(token: str) -> str:
    """The path a phone system calls (DESIGN.md's contract); prefix it with PUBLIC_BASE_URL."""
    return f"/webhook/call-to-text/{token}/"


def call_to_text_workflow_create(
    *,
    practice: Practice,
    kind: str,
    message: str,
    line: Line | None = None,
    language: str = "en",
    name: str = "",
    allowed_ips: str = "",
    token: str | None = None,
) -> tuple[CallToTextWorkflow, str]:
    """Create a workflow; returns it and its secret token (shown once, stored hashed)."""
    if line is None:
        line = practice.lines.filter(is_default=True).first() or practice.lines.first()
        if line is None:
            raise ValidationError("This practice has no line to text from; add one first.")
    token = token or token_generate()
    workflow = CallToTextWorkflow(
        practice=practice,
        line=line,
        kind=kind,
        language=language,
        message=message,
        name=name,
        allowed_ips=allowed_ips,
        token_prefix=token[:8],
        token_hash=token_hash(token),
    )
    workflow.full_clean()
    workflow.save()
    return workflow, token
