"""Writes for integrator-facing objects: API clients, SMAPI keys, call-to-text workflows."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import math
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_id, generate_client_secret
from oauth2_provider.models import AccessToken, Application, RefreshToken

from artera.errors import ApplicationError, InvalidInput, NotFound
from artera.locks import transaction_lock
from artera.phones import normalize_us_phone
from artera.secrets import client_secret_make, token_generate, token_hash
from messaging.models import Message
from messaging.services import CallToText, ToNumber, message_send
from practices.hours import practice_is_open
from practices.models import Enterprise, Line, Practice

from .api.throttling import rate_limit_hit
from .models import (
    API_SCOPES,
    CALL_TO_TEXT_TOKEN_RE,
    ApiClient,
    CallToTextCall,
    CallToTextWorkflow,
    SmapiKey,
)


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
        # Stored in the fast keyed form (artera/secrets.py); DOT sees it is hashed already.
        client_secret=client_secret_make(secret),
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


def api_client_secret_rehash(*, application: Application, secret: str, stored: str) -> None:
    """Store a client secret that was just checked right (`secret`) in the current form, in
    place of `stored` (DOT's PBKDF2, or a hash under a retired key). Conditional on `stored`, so
    of two requests re-hashing at once one writes and the other changes nothing."""
    Application.objects.filter(pk=application.pk, client_secret=stored).update(
        client_secret=client_secret_make(secret)
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
    after_hours_message: str = "",
    token: str | None = None,
) -> tuple[CallToTextWorkflow, str]:
    """Create a workflow; returns it and its secret token (shown once, stored hashed).

    Raises `ValidationError` for a bad workflow (a message over 255 characters, a line of
    another practice, an unknown kind or language, a bad IP allowlist)."""
    if line is None:
        line = practice.lines.filter(is_default=True).first() or practice.lines.first()
        if line is None:
            raise ValidationError("This practice has no line to text from; add one first.")
    token = token or token_generate()
    if not CALL_TO_TEXT_TOKEN_RE.fullmatch(token):
        raise ValueError("A call-to-text token is 32-128 URL-safe characters.")
    workflow = CallToTextWorkflow(
        practice=practice,
        line=line,
        kind=kind,
        language=language,
        message=message,
        name=name,
        allowed_ips=allowed_ips,
        after_hours_message=after_hours_message,
        token_prefix=token[:8],
        token_hash=token_hash(token),
    )
    workflow.full_clean()
    workflow.save()
    return workflow, token


# --- Call-to-text ---------------------------------------------------------------------------

CALLER_ID_FIELD = "CALLER_ID_NUMBER"
_CALLER_ID_SEPARATORS = str.maketrans("", "", " -.()")
_CALLER_ID_RE = re.compile(r"(?:\+1|1)?([2-9]\d{9})")
INVALID_CALLER_ID = (
    f"{CALLER_ID_FIELD} must be a 10-digit US phone number, e.g. 8185551234 "
    "(1 or +1 in front is accepted)."
)


class CallToTextRateLimited(ApplicationError):
    """Too many texts through one workflow, or to one caller (429, with `retry_after`)."""

    http_status = 429
    default_code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))


def caller_id_normalize(raw: object) -> str:
    """The E.164 form of a phone system's `CALLER_ID_NUMBER`, or `InvalidInput`
    (`invalid_caller_id`).

    DESIGN.md's contract: 10 digits of a US number; `1` or `+1` in front is accepted. Spaces,
    dashes, dots and parentheses are ignored (phone systems format numbers differently);
    letters (`anonymous`, `Restricted`: a withheld caller id), other lengths, area codes that
    start with 0 or 1, and numbers of other NANP countries (Canada, the Caribbean) are refused.
    """
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    text = raw.strip().translate(_CALLER_ID_SEPARATORS) if isinstance(raw, str) else ""
    match = _CALLER_ID_RE.fullmatch(text)
    if match is None:
        message = INVALID_CALLER_ID if text else f"{CALLER_ID_FIELD} is required."
        raise InvalidInput(message, code="invalid_caller_id", field=CALLER_ID_FIELD)
    try:
        return normalize_us_phone(match.group(1))
    except ValidationError as exc:
        raise InvalidInput(
            INVALID_CALLER_ID, code="invalid_caller_id", field=CALLER_ID_FIELD
        ) from exc


def call_to_text_token_rate_check(*, workflow: CallToTextWorkflow) -> None:
    """Count one hit of the workflow's URL against its limit (`CALL_TO_TEXT_RATE_PER_MINUTE`
    on average, bursts of `CALL_TO_TEXT_RATE_BURST`): a leaked URL cannot be used to pump
    texts to many numbers. Raises `CallToTextRateLimited`."""
    decision = rate_limit_hit(
        key=f"c2t:workflow:{workflow.pk}",
        rate=settings.CALL_TO_TEXT_RATE_PER_MINUTE / 60,
        burst=int(settings.CALL_TO_TEXT_RATE_BURST),
    )
    if not decision.allowed:
        raise CallToTextRateLimited(
            "Too many calls of this workflow's URL; retry after Retry-After seconds.",
            retry_after=decision.retry_after,
        )


def _caller_rate_check(*, workflow: CallToTextWorkflow, caller: str) -> None:
    # Per enterprise, across its workflows: the 10-minute rule covers one workflow; this caps
    # what any mix of workflows can send one number (`CALL_TO_TEXT_CALLER_RATE_PER_HOUR`).
    decision = rate_limit_hit(
        key=f"c2t:caller:{workflow.practice.enterprise_id}:{caller}",
        rate=settings.CALL_TO_TEXT_CALLER_RATE_PER_HOUR / 3600,
        burst=int(settings.CALL_TO_TEXT_CALLER_RATE_BURST),
    )
    if not decision.allowed:
        raise CallToTextRateLimited(
            "This caller was texted too often in the last hour; retry after Retry-After seconds.",
            retry_after=decision.retry_after,
        )


@dataclass(frozen=True)
class CallToTextResult:
    """What a hit of a workflow's URL came to: the text sent now, or (deduplicated) the one
    this workflow sent the caller minutes ago."""

    message: Message
    deduplicated: bool


def call_to_text_trigger(
    *,
    workflow: CallToTextWorkflow,
    caller_id: object,
    client_ip: str | None = None,
) -> CallToTextResult:
    """Text the caller the workflow's message from its line, through the one send path.

    The caller's number (`caller_id_normalize`) gets the workflow's message, or its after-hours
    variant while the practice is closed (`practices.hours.practice_is_open`), in the caller's
    unverified channel of the workflow's practice (which names the enterprise's patient with
    that number when the enterprise allows it: `channel_get_or_create`).

    A caller this workflow texted in the last `CALL_TO_TEXT_DEDUPE_SECONDS` (600) is not texted
    again: the earlier message comes back with `deduplicated=True`. Concurrent hits for one
    caller of one workflow are serialised (`artera.locks.transaction_lock`), so two hits at the
    same moment cannot both miss the earlier text; hits for different callers run side by side
    (a call center closing for the night abandons many calls at once).

    Raises `InvalidInput` (`invalid_caller_id`), `NotFound` (workflow switched off meanwhile),
    `CallToTextRateLimited` (this caller, across the enterprise's workflows) and the send
    path's refusals (e.g. `recipient_opted_out`, `line_inactive`); a refusal after the number
    is known is recorded as a `CallToTextCall`.
    """
    caller = caller_id_normalize(caller_id)
    client_ip = _ip_or_none(client_ip)
    window = datetime.timedelta(seconds=settings.CALL_TO_TEXT_DEDUPE_SECONDS)
    try:
        with transaction.atomic():
            transaction_lock(f"call-to-text:{workflow.pk}:{caller}")
            locked = (
                CallToTextWorkflow.objects.select_related("line")
                .filter(pk=workflow.pk, is_active=True)
                .first()
            )
            if locked is None:
                raise NotFound("Not found.", code="not_found")
            now = timezone.now()
            earlier = (
                CallToTextCall.objects.filter(
                    workflow=workflow,
                    caller=caller,
                    outcome=CallToTextCall.Outcome.TEXTED,
                    created_at__gt=now - window,
                    message__isnull=False,
                )
                .select_related("message")
                .order_by("-created_at")
                .first()
            )
            if earlier is not None and earlier.message is not None:
                CallToTextCall.objects.create(
                    workflow=workflow,
                    caller=caller,
                    outcome=CallToTextCall.Outcome.DEDUPLICATED,
                    message=earlier.message,
                    client_ip=client_ip,
                    created_at=now,
                )
                return CallToTextResult(message=earlier.message, deduplicated=True)
            _caller_rate_check(workflow=workflow, caller=caller)
            after_hours = bool(locked.after_hours_message.strip()) and not practice_is_open(
                practice=workflow.practice, at=now, line=locked.line
            )
            message = message_send(
                to=ToNumber(workflow.practice, caller, line=locked.line),
                sender=CallToText(locked),
                body=locked.after_hours_message if after_hours else locked.message,
            )
            CallToTextCall.objects.create(
                workflow=workflow,
                caller=caller,
                outcome=CallToTextCall.Outcome.TEXTED,
                message=message,
                after_hours=after_hours,
                client_ip=client_ip,
                created_at=now,
            )
            return CallToTextResult(message=message, deduplicated=False)
    except ApplicationError as exc:
        if not isinstance(exc, NotFound):
            CallToTextCall.objects.create(
                workflow=workflow,
                caller=caller,
                outcome=CallToTextCall.Outcome.REFUSED,
                error_code=exc.code,
                client_ip=client_ip,
            )
        raise


def _ip_or_none(value: str | None) -> str | None:
    # Stored in an inet column on PostgreSQL: anything else would fail the insert.
    try:
        return str(ipaddress.ip_address(value or ""))
    except ValueError:
        return None


def call_to_text_token_regenerate(*, workflow: CallToTextWorkflow) -> str:
    """Give the workflow a new secret token and return it (shown once). The old URL stops
    working at once: the phone system must be given the new one."""
    token = token_generate()
    workflow.token_hash = token_hash(token)
    workflow.token_prefix = token[:8]
    workflow.save(update_fields=["token_hash", "token_prefix"])
    return token


def api_client_secret_rotate(*, api_client: ApiClient) -> str:
    """Give the client a new OAuth client secret and return it (it is shown once). The old
    secret stops working at once, and so do the access and refresh tokens issued with it: a
    secret is rotated because it may have leaked, and a token fetched with a leaked secret is
    as good as the secret."""
    secret = generate_client_secret()
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=api_client.application_id)
        application.client_secret = client_secret_make(secret)
        application.save(update_fields=["client_secret"])
        # A queryset delete still sends post_delete per row, which empties the API's token
        # cache in this process (webhooks/api/authentication.py).
        RefreshToken.objects.filter(application=application).delete()
        AccessToken.objects.filter(application=application).delete()
    return secret
