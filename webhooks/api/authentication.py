"""Who is calling the API: an OAuth client (MAPI) or a legacy API key (SMAPI).

MAPI requests carry a bearer token issued by `/oauth/token/` (client credentials). The token is
found by its SHA-256 checksum in one query that also loads its application and `ApiClient`, which
is the tenant: `request.auth` is the `AccessToken`, `request.auth.application.api_client` the
client. This does what django-oauth-toolkit's `OAuth2Authentication` does for a bearer token
(expiry, RFC 8707 audience), without building an oauthlib request per call, and adds what it does
not know about: the client being switched off, its IP allowlist, and its current scopes.

The token, its application and its client are remembered per process for
`API_TOKEN_CACHE_SECONDS` (`TokenCache`), so a steady caller costs no query to authenticate.
Expiry and the audience are still checked on every request. What changes elsewhere — a token
revoked, a client switched off, a scope taken away, an allowlist narrowed — holds within that
delay; a change saved or deleted through the ORM in this process forgets the entries at once.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ObjectDoesNotExist
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from oauth2_provider.contrib.rest_framework import TokenHasScope
from oauth2_provider.models import AccessToken, Application
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from artera.clientaddr import client_ip
from artera.reload import reload_on
from artera.secrets import token_hash
from webhooks.models import ApiClient, SmapiKey

from .network import ip_allowed

# `SmapiKey.last_used_at` is a hint for admins, not an audit log: written at most this often.
SMAPI_LAST_USED_RESOLUTION = datetime.timedelta(minutes=5)


class TokenCache:
    """Token checksum → the `AccessToken` (with its application and `ApiClient` loaded), kept
    for `API_TOKEN_CACHE_SECONDS` on this process's clock. Only tokens of a client are
    remembered: an unknown token, or one whose client is missing, is looked up again next time
    (a token issued a moment ago must work at once). At most `max_entries` are kept; past that
    the cache starts again empty, which only costs the queries it saves."""

    def __init__(self, *, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock: Callable[[], float] = time.monotonic
        self._entries: dict[str, tuple[float, AccessToken]] = {}
        self._lock = threading.Lock()

    def get(self, checksum: str, load: Callable[[], AccessToken | None]) -> AccessToken | None:
        now = self.clock()
        entry = self._entries.get(checksum)
        if entry is not None and now - entry[0] < self.ttl:
            return entry[1]
        access_token = load()
        with self._lock:
            if access_token is None or api_client_of_token(access_token) is None or self.ttl <= 0:
                self._entries.pop(checksum, None)
            else:
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
                self._entries[checksum] = (now, access_token)
        return access_token

    def forget_all(self) -> None:
        with self._lock:
            self._entries.clear()


@reload_on("API_TOKEN_CACHE_SECONDS")
@functools.cache
def token_cache() -> TokenCache:
    """This process's `TokenCache` (rebuilt when the setting changes)."""
    return TokenCache(ttl=float(settings.API_TOKEN_CACHE_SECONDS))


@receiver(post_save, sender=AccessToken)
@receiver(post_delete, sender=AccessToken)
@receiver(post_save, sender=Application)
@receiver(post_delete, sender=Application)
@receiver(post_save, sender=ApiClient)
@receiver(post_delete, sender=ApiClient)
def _credentials_changed(**kwargs: object) -> None:
    """A change made in this process holds at once here (other processes: within the delay)."""
    token_cache().forget_all()


def _failed(message: str, code: str) -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed(message, code=code)


class ApiClientAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>` with a token issued to an active `ApiClient`."""

    www_authenticate_realm = "api"

    def authenticate(self, request: Request) -> tuple[AnonymousUser, AccessToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, credentials = header.partition(" ")
        token = credentials.strip()
        if scheme.lower() != "bearer" or not token:
            raise _failed("Send the token as `Authorization: Bearer <token>`.", "invalid_token")
        checksum = hashlib.sha256(token.encode()).hexdigest()
        access_token = token_cache().get(
            checksum,
            lambda: (
                AccessToken.objects.select_related("application__api_client")
                .filter(token_checksum=checksum)
                .first()
            ),
        )
        if access_token is None:
            raise _failed("This access token is not valid.", "invalid_token")
        if access_token.is_expired():
            raise _failed("This access token has expired; get a new one.", "token_expired")
        if access_token.resource and not access_token.allows_audience(
            request.build_absolute_uri().split("?")[0]
        ):
            raise _failed("This access token is not valid for this API.", "invalid_token")
        api_client = api_client_of_token(access_token)
        if api_client is None:
            raise _failed("This access token is not valid.", "invalid_token")
        if not api_client.is_active:
            raise _failed("This API client is switched off.", "inactive_client")
        if not ip_allowed(allowlist=api_client.allowed_ips, ip=client_ip(request)):
            raise exceptions.PermissionDenied(
                "This API client may not call from this IP address.", code="ip_not_allowed"
            )
        return AnonymousUser(), access_token

    def authenticate_header(self, request: Request) -> str:
        return f'Bearer realm="{self.www_authenticate_realm}"'


def api_client_of_token(access_token: AccessToken) -> ApiClient | None:
    application = access_token.application
    if application is None:
        return None
    try:
        api_client: ApiClient = application.api_client
    except ObjectDoesNotExist:
        return None
    return api_client


def api_client_of(request: Request) -> ApiClient:
    """The calling client of a request that passed `ApiClientAuthentication`."""
    api_client = api_client_of_token(request.auth)
    if api_client is None:  # the permission classes make this unreachable
        raise exceptions.NotAuthenticated()
    return api_client


class HasScope(TokenHasScope):
    """The token must carry every scope in the view's `required_scopes`, and the client must
    still hold them (scopes taken away from a client stop working at once, not when its tokens
    expire)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, AccessToken):
            return False
        required = set(self.get_scopes(request, view))
        api_client = api_client_of(request)
        granted = set(token.scope.split()) & set(api_client.scope_list)
        missing = sorted(required - granted)
        if missing:
            raise exceptions.PermissionDenied(
                f"This token does not carry the scope {', '.join(missing)}; ask for it when "
                "you get a token (the client must be allowed it).",
                code="insufficient_scope",
            )
        return True


class SmapiKeyAuthentication(BaseAuthentication):
    """Legacy SMAPI: the `X-API-Key` header, an active key of an enterprise (stored hashed)."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, SmapiKey] | None:
        key = request.META.get("HTTP_X_API_KEY", "")
        if not key:
            return None
        row = SmapiKey.objects.filter(key_hash=token_hash(key), is_active=True).first()
        if row is None:
            raise _failed("This API key is not valid.", "invalid_api_key")
        now = timezone.now()
        if row.last_used_at is None or row.last_used_at < now - SMAPI_LAST_USED_RESOLUTION:
            SmapiKey.objects.filter(pk=row.pk).update(last_used_at=now)
            row.last_used_at = now
        return AnonymousUser(), row

    def authenticate_header(self, request: Request) -> str:
        return 'ApiKey realm="smapi", header="X-API-Key"'


class HasSmapiKey(BasePermission):
    """The request came with a valid SMAPI key (no scopes: a key may send, nothing else)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, SmapiKey):
            return True
        raise exceptions.NotAuthenticated("Send your SMAPI key in the X-API-Key header.")
