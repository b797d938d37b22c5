"""Integrator-facing configuration: API clients, legacy API keys, call-to-text workflows."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils import timezone

from artera.models import PublicModel
from practices.models import Enterprise, Language, Line, Practice

API_SCOPES: dict[str, str] = {
    "messages:send": "Send messages to patients",
    "messages:read": "Read messages and their delivery status",
}
CALL_TO_TEXT_MESSAGE_MAX_LENGTH = 255


def parse_ip_allowlist(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """One address or CIDR network per line (or comma-separated); raises ValidationError."""
    networks = []
    bad = []
    for item in text.replace(",", "\n").splitlines():
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            bad.append(item)
    if bad:
        raise ValidationError(f"Not an IP address or network: {', '.join(bad)}.")
    return networks


def validate_ip_allowlist(text: str) -> None:
    parse_ip_allowlist(text)


class ApiClient(PublicModel):
    """An EMR integration: an OAuth application bound to one enterprise.

    The client can only ever act on its own enterprise, and only obtain the scopes listed here.
    """

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="api_clients")
    application = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="api_client",
    )
    name = models.CharField(max_length=200)
    scopes = models.CharField(
        max_length=200,
        default="messages:send messages:read",
        help_text="Space-separated scopes this client may request: " + ", ".join(API_SCOPES),
    )
    allowed_ips = models.TextField(
        "allowed IPs",
        blank=True,
        validators=[validate_ip_allowlist],
        help_text="One address or CIDR network per line. Blank allows any address.",
    )
    webhook_url = models.URLField(
        "default webhook URL",
        max_length=500,
        blank=True,
        help_text="Where message.status and patient.response events go unless a message names "
        "its own callback_url.",
    )
    webhook_secret = models.CharField(
        max_length=100, help_text="whsec_… key that signs this client's webhooks."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = "API client"
        ordering = ["enterprise__name", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    def clean(self) -> None:
        unknown = [s for s in self.scope_list if s not in API_SCOPES]
        if unknown:
            raise ValidationError({"scopes": f"Unknown scope: {', '.join(unknown)}."})


class SmapiKey(PublicModel):
    """A legacy SMAPI key (`X-API-Key`), scoped to an enterprise. Only its hash is stored."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="smapi_keys")
    name = models.CharField(max_length=200)
    key_prefix = models.CharField(
        max_length=12, editable=False, help_text="The first characters, to tell keys apart."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(default=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "SMAPI key"
        ordering = ["enterprise__name", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"


class CallToTextWorkflow(PublicModel):
    """A secret webhook URL a phone system calls with a caller's number, to text that caller.

    Only the token's hash is stored: the full URL is shown once, when it is made.
    """

    class Kind(models.TextChoices):
        CALL_TO_TEXT = "call_to_text", "Call-to-text (caller pressed a key)"
        ABANDONED_CALL = "abandoned_call", "Abandoned call (caller hung up)"

    practice = models.ForeignKey(
        Practice, on_delete=models.CASCADE, related_name="call_to_text_workflows"
    )
    line = models.ForeignKey(Line, on_delete=models.PROTECT, related_name="call_to_text_workflows")
    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.ENGLISH)
    message = models.TextField(validators=[MaxLengthValidator(CALL_TO_TEXT_MESSAGE_MAX_LENGTH)])
    token_prefix = models.CharField(max_length=12, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    allowed_ips = models.TextField(
        "allowed IPs",
        blank=True,
        validators=[validate_ip_allowlist],
        help_text="One address or CIDR network per line. Blank allows any address.",
    )
    is_active = models.BooleanField("active", default=True)

    class Meta:
        verbose_name = "call-to-text workflow"
        ordering = ["practice__name", "kind", "language"]

    def __str__(self) -> str:
        return self.name or f"{self.get_kind_display()} — {self.practice} ({self.language})"

    def clean(self) -> None:
        if self.line_id and self.practice_id and self.line.practice_id != self.practice_id:
            raise ValidationError({"line": "This line belongs to another practice."})


class IdempotencyKey(models.Model):
    """An `Idempotency-Key` an API client sent, and the response its request got.

    The row is inserted as the first write of the request's transaction and completed with the
    response in that same transaction, so a committed row always holds a response, and a refused
    or failed request leaves no row (its retry runs afresh). The unique constraint is what makes
    concurrent duplicates safe: on PostgreSQL a second INSERT of the same key waits for the first
    transaction, then fails, and that request replays the stored response instead of sending.
    Rows are kept at least `API_IDEMPOTENCY_KEY_HOURS` (24) hours, then purged by a periodic task.
    """

    api_client = models.ForeignKey(
        ApiClient, on_delete=models.CASCADE, related_name="idempotency_keys"
    )
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(
        max_length=64, help_text="SHA-256 of the method, path and canonical JSON body."
    )
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "idempotency key"
        constraints = [
            models.UniqueConstraint(
                fields=["api_client", "key"], name="idempotency_key_per_client"
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_created")]

    def __str__(self) -> str:
        return self.key
