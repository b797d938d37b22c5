"""Objects of the integrator API in states the endpoints never hand out."""

from __future__ import annotations

import datetime
import secrets
from typing import Any

from django.utils import timezone
from oauth2_provider.models import AccessToken


def access_token_create(
    *,
    application: Any,
    scope: str = "messages:send messages:read",
    expires_in: datetime.timedelta = datetime.timedelta(hours=1),
) -> tuple[AccessToken, str]:
    """A token stored as the token endpoint stores it (hashed); returns it and its bearer value.
    For expired tokens, or tokens of an application without an API client."""
    raw = secrets.token_urlsafe(24)
    token = AccessToken(application=application, scope=scope, expires=timezone.now() + expires_in)
    token._raw_token = raw  # DOT derives token_checksum from it and stores no plaintext
    token.token = ""
    token.save()
    return token, raw
