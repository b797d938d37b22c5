"""The OAuth 2.0 token endpoint: client credentials for `ApiClient`s, nothing else.

django-oauth-toolkit does the protocol; three pieces bend it to this product (all named in
`settings.OAUTH2_PROVIDER`):

- `ApiClientScopes`, the scopes backend. DOT's default lets any client ask for any scope in
  settings; here a client may only ever get (and by default gets) the scopes its `ApiClient`
  lists, and a client that is switched off gets none.
- `ApiClientOAuth2Validator`: an application without an active `ApiClient` does not exist as far
  as the token endpoint is concerned (`invalid_client`), and a client with an IP allowlist only
  gets tokens from those addresses. It authenticates the client itself (`authenticate_client`):
  credentials that cannot be read (bad base64, not UTF-8, a NUL byte in the client id) are
  `invalid_client`, never an error; the secret is checked with the fast keyed hash
  (`artera.secrets.client_secret_check`; secrets still in DOT's PBKDF2 form are re-hashed on
  their first right use); and wrong secrets are counted per client (below).
- oauthlib's `BackendApplicationServer` as the server class: the client-credentials grant is the
  only one (anything else is `unsupported_grant_type`), and no refresh tokens are issued.

`TokenView` wraps DOT's view with what the API promises of every endpoint: JSON errors (in the
OAuth 2.0 form, RFC 6749 §5.2, `{"error", "error_description"}`, which every OAuth client
library parses), a size limit, and a per-address rate limit.

Refusing is cheap: an unknown client id costs one indexed lookup, a wrong secret one HMAC and one
Redis round trip. Wrong secrets are limited per client (`API_TOKEN_CLIENT_FAILURES_PER_MINUTE`,
bursts of `API_TOKEN_CLIENT_FAILURE_BURST`, from all addresses together): past the limit they are
429 `rate_limited` with Retry-After. Only failures count, and a right secret is never refused by
this limit, so a flood of wrong secrets cannot lock the real client out. The one exception is a
secret still stored the old, slow way (PBKDF2, before its first use since this change): there
every attempt counts *before* the check, so a flood cannot buy PBKDF2 work; the real client's
first token request after the flood stops re-hashes it.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any
from urllib.parse import unquote_plus

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as dot_views
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import BaseScopes
from oauthlib.oauth2.rfc6749 import errors as oauth_errors  # type: ignore[import-untyped]

from artera.clientaddr import client_ip, client_ip_from_meta
from artera.secrets import client_secret_check, client_secret_is_fast
from webhooks.models import API_SCOPES, ApiClient
from webhooks.services import api_client_secret_rehash

from .network import ip_allowed
from .throttling import Decision, rate_limit_hit

TOKEN_REQUEST_MAX_BYTES = 8 * 1024
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def _active_api_client(application: Any) -> ApiClient | None:
    if application is None:
        return None
    try:
        api_client: ApiClient = application.api_client
    except ObjectDoesNotExist:
        return None
    return api_client if api_client.is_active else None


class ApiClientScopes(BaseScopes):
    """Per-client scopes: exactly those listed on the application's `ApiClient`."""

    def get_all_scopes(self) -> dict[str, str]:
        return dict(API_SCOPES)

    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        api_client = _active_api_client(application)
        if api_client is None:
            return []
        return [scope for scope in api_client.scope_list if scope in API_SCOPES]

    def get_default_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        # A token request without `scope` gets everything the client may have.
        return self.get_available_scopes(application, request)


class IpNotAllowedError(oauth_errors.OAuth2Error):
    error = "ip_not_allowed"
    status_code = 403
    description = "This API client may not get tokens from this IP address."


class TooManyFailuresError(oauth_errors.OAuth2Error):
    error = "rate_limited"
    status_code = 429
    description = "Too many wrong secrets for this client; retry after Retry-After seconds."

    def __init__(self, *, retry_after: float, request: Any) -> None:
        super().__init__(request=request)
        self.retry_after = max(1, math.ceil(retry_after))

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


# DOT's Application.client_id is at most 100 characters; nothing longer is worth a query.
CLIENT_ID_MAX_CHARS = 100


class ApiClientOAuth2Validator(OAuth2Validator):
    def _load_application(self, client_id: str, request: Any) -> Any:
        application = super()._load_application(client_id, request)
        if application is not None and _active_api_client(application) is None:
            # No API client, or one that is switched off: the credentials are worthless.
            request.client = None
            return None
        return application

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        """HTTP Basic (preferred) or the form fields, as DOT does, with the fast secret check
        and the per-client failure limit (module docstring)."""
        credentials = self._client_credentials(request)
        if credentials is None:
            return False
        client_id, secret = credentials
        application = self._load_application(client_id, request)
        if application is None:
            return False
        stored = application.client_secret
        slow = not client_secret_is_fast(stored)
        if slow:
            _failure_budget_spend(application, request)
        check = client_secret_check(secret=secret, stored=stored)
        if not check.ok:
            if not slow:
                _failure_budget_spend(application, request)
            request.client = None
            return False
        if check.needs_rehash and application.hash_client_secret:
            api_client_secret_rehash(application=application, secret=secret, stored=stored)
        api_client = _active_api_client(application)
        if api_client is None:
            return False
        if not ip_allowed(
            allowlist=api_client.allowed_ips, ip=client_ip_from_meta(request.headers)
        ):
            raise IpNotAllowedError(request=request)
        return True

    def _client_credentials(self, request: Any) -> tuple[str, str] | None:
        """(client_id, secret) from the Authorization header when it holds readable Basic
        credentials, else from the form; None when neither does."""
        for client_id, secret in (
            _basic_credentials(self._extract_basic_auth(request)),
            (request.client_id, request.client_secret),
        ):
            if (
                isinstance(client_id, str)
                and _usable_client_id(client_id)
                and isinstance(secret, str)
            ):
                return client_id, secret
        return None

    def validate_scopes(
        self,
        client_id: str,
        scopes: list[str],
        client: Any,
        request: Any,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        # A token without any scope is good for nothing: refuse rather than issue it.
        return bool(scopes) and bool(
            super().validate_scopes(client_id, scopes, client, request, *args, **kwargs)
        )


def _basic_credentials(auth_string: str | None) -> tuple[object, object]:
    """RFC 6749 §2.3.1: base64 of `form-encoded id ":" form-encoded secret`, in UTF-8."""
    if not auth_string:
        return None, None
    try:
        decoded = base64.b64decode(auth_string.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return None, None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        return None, None
    return unquote_plus(client_id), unquote_plus(secret)


def _usable_client_id(client_id: str) -> bool:
    # Client ids are printable ASCII; a NUL byte (which PostgreSQL cannot even hold in text) or
    # any other control character means garbage, and is refused before any query.
    return (
        0 < len(client_id) <= CLIENT_ID_MAX_CHARS
        and client_id.isascii()
        and client_id.isprintable()
    )


def _failure_budget_spend(application: Any, request: Any) -> None:
    """Count one (possible) failure against the client's budget; past it, 429."""
    decision: Decision = rate_limit_hit(
        key=f"token-failures:{application.pk}",
        rate=settings.API_TOKEN_CLIENT_FAILURES_PER_MINUTE / 60,
        burst=settings.API_TOKEN_CLIENT_FAILURE_BURST,
    )
    if not decision.allowed:
        request.client = None
        raise TooManyFailuresError(retry_after=decision.retry_after, request=request)


def oauth_error(
    error: str, description: str, *, status: int, headers: dict[str, str] | None = None
) -> JsonResponse:
    """An OAuth 2.0 error response (RFC 6749 §5.2)."""
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@method_decorator(csrf_exempt, name="dispatch")
class TokenView(dot_views.TokenView):
    """`POST /oauth/token/` with `grant_type=client_credentials`, client authenticated by HTTP
    Basic (preferred) or `client_id`/`client_secret` form fields."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "POST":
            return oauth_error(
                "invalid_request",
                "Request a token with POST.",
                status=405,
                headers={"Allow": "POST"},
            )
        decision = rate_limit_hit(
            key=f"token-ip:{client_ip(request) or 'unknown'}",
            rate=settings.API_TOKEN_RATE_LIMIT_PER_SECOND,
            burst=settings.API_TOKEN_RATE_LIMIT_BURST,
        )
        if not decision.allowed:
            retry_after = max(1, math.ceil(decision.retry_after))
            return oauth_error(
                "rate_limited",
                "Too many token requests from this address; retry after Retry-After seconds.",
                status=429,
                headers={"Retry-After": str(retry_after)},
            )
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > TOKEN_REQUEST_MAX_BYTES:
            return oauth_error("invalid_request", "The request body is too large.", status=413)
        content_type = request.content_type or ""
        if length and content_type != FORM_CONTENT_TYPE:
            return oauth_error(
                "invalid_request",
                f"Send the token request form-encoded ({FORM_CONTENT_TYPE}).",
                status=415,
            )
        try:
            response: HttpResponse = super().dispatch(request, *args, **kwargs)
        except RequestDataTooBig:
            return oauth_error("invalid_request", "The request body is too large.", status=413)
        if response.status_code >= 400:
            _describe(response)
        response["Cache-Control"] = "no-store"
        return response


# oauthlib leaves some errors without a description; integrators deserve a sentence.
_DESCRIPTIONS = {
    "invalid_client": "Client authentication failed: check the client id and secret (HTTP "
    "Basic), and that the API client is active.",
    "invalid_scope": "This client may not have the scope it asked for.",
    "unsupported_grant_type": "Only grant_type=client_credentials is supported.",
    "unauthorized_client": "This client may not use this grant type.",
    "invalid_request": "The token request is malformed.",
}


def _describe(response: HttpResponse) -> None:
    try:
        body = json.loads(response.content)
    except ValueError:
        return
    if isinstance(body, dict) and body.get("error") and not body.get("error_description"):
        body["error_description"] = _DESCRIPTIONS.get(str(body["error"]), "")
        response.content = json.dumps(body).encode()
