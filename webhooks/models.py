"""Integrator-facing configuration: API clients, legacy API keys, call-to-text workflows."""

from __future__ import annotations

import datetime
import ipaddress
import re
import uuid

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
# What a workflow's URL token may look like: `token_generate`'s URL-safe base64 (43 characters for
# 256 bits) or a derived hex secret, with room to spare. Anything else costs no query.
CALL_TO_TEXT_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{32,128}")


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
    # Secret rotation: until `previous_webhook_secret_expires_at`, webhooks carry a signature
    # with the old secret too, so the integrator can switch over without losing a beat.
    previous_webhook_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_webhook_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    quiet_hours = models.BooleanField(
        "hold texts outside quiet hours",
        default=False,
        help_text="This client's texts that would reach a patient outside 8:00 to 21:00 in the "
        "patient's local time wait until 8:00 the next allowed day (the practice's setting "
        "holds them too; its holiday setting applies).",
    )

    class Meta:
        verbose_name = "API client"
        ordering = ["enterprise__name", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    def webhook_signing_secrets(self, *, at: datetime.datetime) -> list[str]:
        """The secrets that sign a webhook sent at `at`: the current one, and during a rotation
        the previous one as well."""
        secrets = [self.webhook_secret]
        expires = self.previous_webhook_secret_expires_at
        if self.previous_webhook_secret and expires is not None and expires > at:
            secrets.append(self.previous_webhook_secret)
        return secrets

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
    message = models.TextField(
        validators=[MaxLengthValidator(CALL_TO_TEXT_MESSAGE_MAX_LENGTH)],
        help_text=f"What the caller is texted (at most {CALL_TO_TEXT_MESSAGE_MAX_LENGTH} "
        "characters; smart phrases such as {practiceName} and {linePhone} are filled in).",
    )
    after_hours_message = models.TextField(
        blank=True,
        validators=[MaxLengthValidator(CALL_TO_TEXT_MESSAGE_MAX_LENGTH)],
        help_text="Texted instead when the practice is closed (its weekly hours and holidays). "
        "Blank: the message above, at any hour.",
    )
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
        if self.message and not self.message.strip():
            raise ValidationError({"message": "Write the text the caller gets."})


class CallToTextCall(models.Model):
    """One accepted hit of a workflow's URL: who called, and what came of it.

    The audit trail of a workflow (visible in admin), and what the 10-minute rule reads: a
    caller with a `texted` row of the same workflow inside the window is not texted again.
    Hits refused before the caller's number is known (unknown token, wrong address, rate limit
    of the token, malformed number) leave no row.
    """

    class Outcome(models.TextChoices):
        TEXTED = "texted", "Texted"
        DEDUPLICATED = "deduplicated", "Not texted: texted by this workflow minutes ago"
        REFUSED = "refused", "Refused"

    workflow = models.ForeignKey(CallToTextWorkflow, on_delete=models.CASCADE, related_name="calls")
    caller = models.CharField(max_length=20, help_text="The caller's number (E.164).")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    error_code = models.CharField(max_length=40, blank=True)
    message = models.ForeignKey(
        "messaging.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The text sent (for a deduplicated call: the earlier one).",
    )
    after_hours = models.BooleanField(default=False)
    client_ip = models.GenericIPAddressField("client IP", null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "call-to-text call"
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["workflow", "caller", "created_at"],
                condition=models.Q(outcome="texted"),
                name="calltotext_recent_texted",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.caller} → {self.get_outcome_display()}"


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


# --- Outbound webhooks ----------------------------------------------------------------------------


class WebhookEndpoint(models.Model):
    """A URL an API client receives webhooks at (its default URL, or a message's callback_url).

    Made on the first delivery to the URL. An endpoint that answers 410 Gone, or that has failed
    every delivery for `WEBHOOK_DISABLE_AFTER_FAILING_DAYS` days, is disabled: deliveries to it
    stop (and are marked so) until an admin enables it again.
    """

    class DisabledReason(models.TextChoices):
        GONE = "gone", "The receiver answered 410 Gone"
        FAILING = "failing", "Every delivery failed for days"
        ADMIN = "admin", "Disabled by an admin"

    api_client = models.ForeignKey(
        ApiClient, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.CharField("URL", max_length=500)
    is_enabled = models.BooleanField("enabled", default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=10, choices=DisabledReason.choices, blank=True)
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="The first failed attempt since the last success."
    )
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "webhook endpoint"
        ordering = ["api_client__name", "url"]
        constraints = [
            models.UniqueConstraint(fields=["api_client", "url"], name="webhook_endpoint_unique"),
        ]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event for one endpoint, signed and POSTed until it is delivered or given up on.

    Its id is the event's `webhook-id` (the same on every retry). Status machine::

        pending ──► delivered
           │  └───► failed      (every attempt of the retry schedule failed, or the URL is refused)
           └──────► disabled    (the endpoint is disabled: answered 410, or failing for days)

    **Schedule.** `next_attempt_at` is when the periodic sweep (re-)enqueues the delivery; the
    first attempt is enqueued after the event's transaction commits, and the sweep only catches
    it if that task was lost. A worker claims an attempt with a conditional UPDATE on
    `attempt_count` and `lease_until`, so two tasks for one delivery never both send.

    `message.status` rows are written by one INSERT … SELECT on the status-change hot path;
    their `body` is built (and frozen) at the first attempt. `patient.response` rows get theirs
    at once.
    """

    class EventType(models.TextChoices):
        MESSAGE_STATUS = "message.status", "message.status"
        PATIENT_RESPONSE = "patient.response", "patient.response"
        # Sent from admin ("Send a test webhook") so an integrator can check their receiver.
        TEST = "webhook.test", "webhook.test"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (gave up)"
        DISABLED = "disabled", "Not sent: endpoint disabled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    api_client = models.ForeignKey(
        ApiClient, on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    url = models.CharField("URL", max_length=500)
    event_type = models.CharField(max_length=32, choices=EventType.choices)
    message = models.ForeignKey(
        "messaging.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The message the event is about (for patient.response: the patient's text).",
    )
    message_status = models.CharField(max_length=12, blank=True)
    error_code = models.CharField(max_length=20, blank=True)
    # `scheduled` comes before `received` (0), so it is negative (`messaging.models.STATUS_RANK`).
    sequence = models.SmallIntegerField(
        default=0, help_text="Grows with each status of the message: receivers drop stale ones."
    )
    occurred_at = models.DateTimeField()
    body = models.TextField(blank=True, help_text="The exact JSON POSTed (the same every time).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempt_count = models.PositiveSmallIntegerField(default=0)
    schedule_step = models.PositiveSmallIntegerField(
        default=0, help_text="Attempts since the retry schedule (re)started."
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_due",
            ),
            models.Index(fields=["api_client", "-created_at"], name="webhook_delivery_client"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.webhook_id}"

    @property
    def webhook_id(self) -> str:
        return f"msg_{self.pk.hex}"


class WebhookAttempt(models.Model):
    """One POST of a delivery: what came back (or what went wrong), and how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=200, blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        verbose_name = "webhook attempt"
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_unique"),
        ]

    def __str__(self) -> str:
        return f"Attempt {self.number}: {self.status_code or self.error}"
