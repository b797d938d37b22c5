"""Messages, their delivery history, and opt-outs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from artera.models import PublicModel
from channels_app.models import Patient, PatientChannel
from practices.models import Line, Practice


class MessageStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    UNDELIVERED = "undelivered", "Undelivered"
    FAILED = "failed", "Failed"


class ErrorCode(models.TextChoices):
    LANDLINE = "landline", "Landline"
    INVALID_NUMBER = "invalid_number", "Invalid number"
    UNREACHABLE = "unreachable", "Unreachable"
    OPTED_OUT = "opted_out", "Opted out"
    CARRIER_REJECTED = "carrier_rejected", "Carrier rejected"
    PROVIDER_ERROR = "provider_error", "Provider error"


# How far along a status is. A status may only move to a higher rank, so callbacks that arrive
# late or twice can never move a message backwards.
STATUS_RANK: dict[str, int] = {
    MessageStatus.RECEIVED: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.UNDELIVERED: 2,
    MessageStatus.FAILED: 2,
}
FINAL_STATUSES = frozenset(s for s, rank in STATUS_RANK.items() if rank == 2)


class Message(PublicModel):
    """One SMS (or secure message) in a channel.

    Outbound status state machine::

        received ──► sent ──► delivered
            │          ├────► undelivered
            │          └────► failed
            └────────────────► failed

    `received` means the platform has stored the message (it is the outbox row); `sent` means
    the provider accepted it; the last three are final. A status never moves backwards: a
    `sent` callback that arrives after `delivered` changes nothing, and so does a duplicate.
    Every change is a `MessageStatusChange` row. Inbound messages are stored as `received` and
    stay there.
    """

    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"

    class SenderKind(models.TextChoices):
        API = "api", "API (MAPI)"
        SMAPI = "smapi", "Legacy API (SMAPI)"
        STAFF = "staff", "Staff"
        AUTOMATION = "automation", "Automation"
        CALL_TO_TEXT = "call_to_text", "Call-to-text"
        PATIENT = "patient", "Patient"

    class Encoding(models.TextChoices):
        GSM7 = "gsm7", "GSM-7"
        UCS2 = "ucs2", "UCS-2"

    channel = models.ForeignKey(PatientChannel, on_delete=models.CASCADE, related_name="messages")
    # Copied from the channel: tenancy filters and per-line work should not need a join.
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="messages")
    line = models.ForeignKey(Line, on_delete=models.PROTECT, related_name="messages")
    patient = models.ForeignKey(
        Patient, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    direction = models.CharField(max_length=10, choices=Direction.choices)
    from_number = models.CharField(max_length=20)
    to_number = models.CharField(max_length=20)
    body = models.TextField()
    is_secure = models.BooleanField("secure", default=False)
    segments = models.PositiveSmallIntegerField(default=1)
    encoding = models.CharField(max_length=5, choices=Encoding.choices, default=Encoding.GSM7)
    status = models.CharField(
        max_length=12, choices=MessageStatus.choices, default=MessageStatus.RECEIVED
    )
    error_code = models.CharField(max_length=20, choices=ErrorCode.choices, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    sender_kind = models.CharField(max_length=20, choices=SenderKind.choices)
    sender_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sent_messages",
    )
    provider_message_id = models.CharField(max_length=64, null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["direction", "provider_message_id"],
                condition=Q(provider_message_id__isnull=False),
                name="message_provider_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(direction="outbound") | Q(sender_kind="patient"),
                name="message_inbound_from_patient",
            ),
        ]
        indexes = [
            models.Index(fields=["channel", "created_at"], name="message_thread"),
            # The outbox sweeper: outbound messages stored but not yet handed to the provider.
            models.Index(
                fields=["created_at"],
                condition=Q(direction="outbound", status="received"),
                name="message_outbox",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.to_number}: {self.body[:40]}"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def can_move_to(self, status: str) -> bool:
        """True when `status` is a real step forward from the current status."""
        return STATUS_RANK[status] > STATUS_RANK[self.status]


class MessageStatusChange(models.Model):
    """One step of a message's status history (append-only)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="status_history")
    status = models.CharField(max_length=12, choices=MessageStatus.choices)
    error_code = models.CharField(max_length=20, choices=ErrorCode.choices, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["message", "at"], name="statuschange_message")]

    def __str__(self) -> str:
        return f"{self.status} at {self.at:%Y-%m-%d %H:%M:%S}"


class OptOut(models.Model):
    """A number that texted STOP to a line. Per line, covering every patient on that number."""

    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="opt_outs")
    phone = models.CharField(max_length=20)
    keyword = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "opt-out"
        constraints = [
            models.UniqueConstraint(fields=["line", "phone"], name="optout_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.phone} opted out of {self.line}"
