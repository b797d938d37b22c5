"""Messages, their delivery history, opt-outs, short links, and the simulator's carrier."""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from artera.models import PublicModel
from channels_app.models import Patient, PatientChannel
from practices.models import Enterprise, Line, Membership, Practice


class MessageStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    RECEIVED = "received", "Received"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    UNDELIVERED = "undelivered", "Undelivered"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


class ErrorCode(models.TextChoices):
    LANDLINE = "landline", "Landline"
    INVALID_NUMBER = "invalid_number", "Invalid number"
    UNREACHABLE = "unreachable", "Unreachable"
    OPTED_OUT = "opted_out", "Opted out"
    CARRIER_REJECTED = "carrier_rejected", "Carrier rejected"
    PROVIDER_ERROR = "provider_error", "Provider error"
    EXPIRED = "expired", "Expired (valid_until passed before it was sent)"


# How far along a status is. A status may only move to a higher rank, so callbacks that arrive
# late or twice can never move a message backwards. The rank is also the `sequence` of the
# `message.status` webhook (receivers drop an event that is not higher than the last one), so
# the ranks of the first statuses stay what they were: `scheduled`, which comes before
# `received`, is negative.
STATUS_RANK: dict[str, int] = {
    MessageStatus.SCHEDULED: -1,
    MessageStatus.RECEIVED: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.UNDELIVERED: 2,
    MessageStatus.FAILED: 2,
    MessageStatus.CANCELED: 2,
}
FINAL_STATUSES = frozenset(s for s, rank in STATUS_RANK.items() if rank == 2)
# The state machine: the statuses each status may be reached from, most likely first (the
# nearest). Every step goes up in rank; not every higher rank may follow: only a scheduled text
# can be canceled, and one that is scheduled has never been near the carrier, so it can only be
# released (`received`), canceled, or fail (`expired` before its release). `scheduled` and
# `received` are reached from nowhere: the send path starts a message in one of them.
# `messaging.status.message_statuses_apply` follows this table; `Message.can_move_to` answers
# from it.
STATUS_REACHABLE_FROM: dict[str, tuple[str, ...]] = {
    MessageStatus.RECEIVED: (MessageStatus.SCHEDULED,),
    MessageStatus.SENT: (MessageStatus.RECEIVED,),
    MessageStatus.DELIVERED: (MessageStatus.SENT, MessageStatus.RECEIVED),
    MessageStatus.UNDELIVERED: (MessageStatus.SENT, MessageStatus.RECEIVED),
    MessageStatus.FAILED: (MessageStatus.SENT, MessageStatus.RECEIVED, MessageStatus.SCHEDULED),
    MessageStatus.CANCELED: (MessageStatus.SCHEDULED,),
}
# Only the carrier can say these, so the provider must have had the message (a jump from
# `received` records the implied `sent` step first).
STATUS_IMPLIES_SENT = frozenset({MessageStatus.DELIVERED, MessageStatus.UNDELIVERED})

# What staff see instead of a security code's text (thread, admin).
SECURITY_CODE_REDACTED = "Security code texted"


class Message(PublicModel):
    """One SMS (or secure message) in a channel.

    Outbound status state machine::

        scheduled ──► received ──► sent ──► delivered
            │             │          ├────► undelivered
            │             │          └────► failed
            │             └────────────────► failed   (a provider's refusal, or `expired`)
            ├──────────────────────────────► failed   (`expired` before its release)
            └──────────────────────────────► canceled

    `scheduled` means the message waits for its `send_at` (asked for, or set by quiet hours):
    the release task (`messaging.schedule.scheduled_release`) moves it to `received` then, or
    to `failed` with `expired` when its `valid_until` passed first; only a scheduled message can
    be `canceled`. `received` means the platform has stored the message and it is on its way;
    `sent` means the provider accepted it; the last four are final. Statuses only move along
    `STATUS_REACHABLE_FROM` (always to a higher rank, `STATUS_RANK`), by a conditional UPDATE,
    so a `sent` callback that arrives after `delivered` changes nothing, and neither does a
    duplicate. `delivered` and `undelivered` imply the provider had the message:
    when one arrives while we still say `received` (the provider's callback beat our own record
    of its answer), the history gets the implied `sent` step first. Every change is a
    `MessageStatusChange` row. Inbound messages are stored as `received` and stay there.

    **Publishing status changes.** A status change is published exactly once, and only through
    `messaging.events`: the service that moves the status writes the `MessageStatusChange` row and
    calls every handler registered with `events.on_message_status_changed` inside the same
    transaction. The committed history row is the durable event; a handler that delivers it
    elsewhere (the `message.status` webhook) stores its own outbox row in that transaction and
    enqueues with `transaction.on_commit`, so an event can be neither lost nor doubled.

    **Outbox.** An outbound `received` row *is* the outbox entry. `outbox_due_at` is when the
    sweeper may consider it lost: pushed forward whenever a task is enqueued or deferred, and
    set to the end of the claim lease while a worker holds it (`claimed_at`). A worker claims a
    message with a conditional UPDATE before calling the provider; a claim whose lease ran out
    (its worker died) may be taken over, after asking the provider whether the dead worker's
    attempt got through (`SmsGateway.find_sent`).
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

    class Kind(models.TextChoices):
        """What an outbound text is for. Only the send path's callers that write automated texts
        set it; everything people write (staff, the EMR, call-to-text) and every inbound text
        is `conversation`.

        The automated kinds expect no answer (`Message.expects_reply` is False), so the
        shared-phone routing does not count them when it asks who is texting
        (`messaging.routing`). A `security_code` is more: the code is the patient's secret, so
        staff never see its body (the thread shows an event, the inbox preview and the admin
        skip it) and it does not move the conversation to the top of the inbox."""

        CONVERSATION = "conversation", "Conversation"
        SHARED_PHONE_PROMPT = "mpsp_prompt", "Shared-phone prompt"
        SECURITY_CODE = "security_code", "Security code"
        KEYWORD_REPLY = "keyword_reply", "Keyword confirmation (STOP/START/HELP)"
        AFTER_HOURS = "after_hours", "After-hours auto-response"
        AUTO_REPLY = "auto_reply", "Automation auto-reply"

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
    # The database default too: bulk loads (bench/inbox.py COPY) and older writers name no kind.
    kind = models.CharField(
        max_length=16,
        choices=Kind.choices,
        default=Kind.CONVERSATION,
        db_default=Kind.CONVERSATION,
    )
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
    sender_api_client = models.ForeignKey(
        "webhooks.ApiClient",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        help_text="The integration that sent this message through the API.",
    )
    sender_workflow = models.ForeignKey(
        "webhooks.CallToTextWorkflow",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
    )
    callback_url = models.URLField(
        max_length=500, blank=True, help_text="Where this message's status webhooks go."
    )
    # NULL, not "", means "no id yet": the partial unique constraint below only covers real ids.
    provider_message_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    metadata = models.JSONField(default=dict, blank=True)
    # Send later (`messaging.schedule`): when a `scheduled` message is released, and the moment
    # after which it must not go out at all (it fails with `expired` instead).
    send_at = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    # The outbox (see the class docstring).
    outbox_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    send_attempts = models.PositiveSmallIntegerField(default=0, editable=False)

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
            # Automated kinds are written by automations only.
            models.CheckConstraint(
                condition=Q(kind="conversation") | Q(sender_kind="automation"),
                name="message_automated_kind_from_automation",
            ),
            models.CheckConstraint(
                condition=~Q(status="scheduled") | Q(send_at__isnull=False),
                name="message_scheduled_has_send_at",
            ),
        ]
        indexes = [
            models.Index(fields=["channel", "created_at"], name="message_thread"),
            # A practice's messages by time: Insights' daily rollups and today's live figures.
            models.Index(fields=["practice", "created_at"], name="message_practice_created"),
            # The outbox sweeper: outbound messages stored but not yet handed to the provider.
            models.Index(
                fields=["outbox_due_at"],
                condition=Q(direction="outbound", status="received"),
                name="message_outbox_due",
            ),
            # The release task: scheduled messages by the time they are due.
            models.Index(
                fields=["send_at"], condition=Q(status="scheduled"), name="message_scheduled_due"
            ),
            # The release task's expiry: unsent messages with a deadline.
            models.Index(
                fields=["valid_until"],
                condition=Q(status__in=["scheduled", "received"], valid_until__isnull=False),
                name="message_valid_until",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.to_number}: {self.staff_body[:40]}"

    @property
    def staff_body(self) -> str:
        """The body as staff may see it: a security code's text is replaced by what it was."""
        if self.kind == self.Kind.SECURITY_CODE:
            return SECURITY_CODE_REDACTED
        return self.body

    @property
    def expects_reply(self) -> bool:
        """Whether the patient may answer this text (see `Kind`)."""
        return self.kind in EXPECTS_REPLY_KINDS

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def can_move_to(self, status: str) -> bool:
        """True when `status` is a real step forward from the current status."""
        return self.status in STATUS_REACHABLE_FROM.get(status, ())


# Texts a patient may answer; the other kinds are automated notices (`Message.Kind`).
EXPECTS_REPLY_KINDS = (Message.Kind.CONVERSATION, Message.Kind.SHARED_PHONE_PROMPT)


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


class ShortLink(models.Model):
    """A link in a text, shortened to `/s/<code>` on the platform's own domain.

    Made by the send path when the enterprise's URL-shortening rule covers the link; the
    redirect counts clicks.
    """

    code = models.CharField(max_length=16, unique=True)
    target_url = models.URLField(max_length=2000)
    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="short_links"
    )
    clicks = models.PositiveIntegerField(default=0)
    last_clicked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"/s/{self.code} → {self.target_url}"


class SimulatorNumber(models.Model):
    """How the simulated carrier treats a number; a number without a row is a mobile phone."""

    class Kind(models.TextChoices):
        MOBILE = "mobile", "Mobile"
        LANDLINE = "landline", "Landline"
        UNREACHABLE = "unreachable", "Unreachable"

    number = models.CharField(max_length=20, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.MOBILE)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.number} ({self.kind})"


class SimulatorText(models.Model):
    """One text the simulated carrier carried, in either direction.

    This is the carrier's own record, not the platform's: it has one row per hand-over, so a
    message the platform sent twice shows up twice here. `created_at` is the carrier's clock.
    """

    class Direction(models.TextChoices):
        TO_PATIENT = "mt", "To a patient"
        FROM_PATIENT = "mo", "From a patient"

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        UNDELIVERED = "undelivered", "Undelivered"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    direction = models.CharField(max_length=2, choices=Direction.choices)
    from_number = models.CharField(max_length=20)
    to_number = models.CharField(max_length=20)
    body = models.TextField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SENT)
    error_code = models.CharField(max_length=20, choices=ErrorCode.choices, blank=True)
    client_reference = models.CharField(
        max_length=64, blank=True, help_text="The platform's id for the message it handed over."
    )
    created_at = models.DateTimeField(default=timezone.now)
    reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["to_number", "created_at"], name="simtext_to"),
            models.Index(fields=["from_number", "created_at"], name="simtext_from"),
            models.Index(fields=["client_reference"], name="simtext_client_reference"),
            # The carrier's own sweep: texts whose delivery report has not gone out.
            models.Index(
                fields=["created_at"], condition=Q(status="sent"), name="simtext_unreported"
            ),
        ]

    def __str__(self) -> str:
        # No body: a text to a patient may be a security code, which staff must not see.
        return f"{self.from_number} → {self.to_number} at {self.created_at:%Y-%m-%d %H:%M:%S}"

    @property
    def provider_message_id(self) -> str:
        return str(self.id)


# --- Inbound: automations, the shared-phone prompt, after-hours replies -------------------------


class InboundAutomation(models.Model):
    """A practice's rule for patients' texts: when its condition holds, its actions run.

    Runs on every text that lands in a conversation of the practice (not on STOP/START/HELP,
    nor on answers to the shared-phone prompt), after the after-hours auto-response, in
    `position` order. Every matching automation runs; their actions are applied in the order
    reply, assign, close.
    """

    class Condition(models.TextChoices):
        ANY_TEXT = "any_text", "Any text"
        KEYWORDS = "keywords", "The text contains one of the keywords"
        OUTSIDE_HOURS = "outside_hours", "The practice is closed (hours and holidays)"
        ONE_WAY = "one_way", "The practice is one-way"

    practice = models.ForeignKey(
        Practice, on_delete=models.CASCADE, related_name="inbound_automations"
    )
    name = models.CharField(max_length=200)
    is_active = models.BooleanField("active", default=True)
    position = models.PositiveSmallIntegerField(default=0)
    condition = models.CharField(max_length=20, choices=Condition.choices)
    keywords = models.TextField(
        blank=True,
        help_text="For the keyword condition: one word or phrase per line (or comma-separated); "
        "matched as whole words, in any case.",
    )
    reply = models.TextField(
        "auto-reply",
        blank=True,
        help_text="Sent to the patient (smart phrases such as {practiceName} are filled in). "
        "Blank: no reply.",
    )
    close_channel = models.BooleanField(
        "close the conversation",
        default=False,
        help_text="Closed conversations leave the inbox's open folder; the patient's next text "
        "reopens it.",
    )
    assign_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Assign the conversation to this member of the practice.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["practice", "position", "id"]
        indexes = [
            models.Index(
                fields=["practice", "position"],
                condition=Q(is_active=True),
                name="automation_active",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def keyword_list(self) -> list[str]:
        parts = self.keywords.replace(",", "\n").splitlines()
        return [part.strip() for part in parts if part.strip()]

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.condition == self.Condition.KEYWORDS and not self.keyword_list():
            errors["keywords"] = "List at least one keyword, or pick another condition."
        if not (self.reply.strip() or self.close_channel or self.assign_to_id):
            errors["reply"] = "Pick at least one action: a reply, closing, or an assignee."
        if (
            self.assign_to_id
            and self.practice_id
            and not Membership.objects.filter(
                user_id=self.assign_to_id, practice_id=self.practice_id
            ).exists()
        ):
            errors["assign_to"] = "This person is not a member of the practice."
        if errors:
            raise ValidationError(errors)


class MpspPrompt(models.Model):
    """The shared-phone prompt (MPSP): a text from a number several patients share, held until
    the patient says who they are.

    While `pending`, the held text (`held_message`), the prompts and the answers sit in the
    number's unverified channel (`holding_channel`) and are listed in `messages`. An answer by
    number or first name moves them all to the chosen patient's channel (`chosen`); an unclear
    answer re-prompts once, then everything stays in the unverified channel (`fallback`). The
    resolved row is the record of the choice, and it stands for the rest of the conversation:
    later texts go to `chosen_channel` until the line sends a text that expects an answer to
    another patient on that number (`messaging.routing`).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the answer"
        CHOSEN = "chosen", "Patient chose"
        FALLBACK = "fallback", "No clear answer: unverified channel"

    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="mpsp_prompts")
    phone = models.CharField(max_length=20)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # [{"label": "John", "full_name": "John Smith", "channel_id": "…"}, …,
    #  {"label": "(818) 888-2222", "full_name": "", "channel_id": "…"}] (before: "8188882222")
    options = models.JSONField(default=list)
    prompts_sent = models.PositiveSmallIntegerField(default=1)
    held_message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    holding_channel = models.ForeignKey(
        PatientChannel, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    chosen_channel = models.ForeignKey(
        PatientChannel, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    answer = models.CharField(max_length=160, blank=True)
    messages = models.ManyToManyField(Message, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "shared-phone prompt"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["line", "phone"],
                condition=Q(status="pending"),
                name="mpsp_one_pending_per_line_phone",
            ),
        ]
        indexes = [models.Index(fields=["line", "phone", "-created_at"], name="mpsp_lookup")]

    def __str__(self) -> str:
        return f"{self.phone} on {self.line}: {self.get_status_display()}"


class AfterHoursReply(models.Model):
    """An after-hours auto-response that went out: a channel gets at most one per 12 hours."""

    channel = models.ForeignKey(
        PatientChannel, on_delete=models.CASCADE, related_name="after_hours_replies"
    )
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField()

    class Meta:
        verbose_name = "after-hours reply"
        verbose_name_plural = "after-hours replies"
        indexes = [models.Index(fields=["channel", "-sent_at"], name="afterhours_channel")]

    def __str__(self) -> str:
        return f"After-hours reply at {self.sent_at:%Y-%m-%d %H:%M}"


class AutomationReply(models.Model):
    """An automation's auto-reply that went out. An automation answers one channel at most once
    per `messaging.automations.AUTOMATION_REPLY_INTERVAL`: two auto-responders (ours and a
    patient's phone, or a bot) must not keep answering each other."""

    automation = models.ForeignKey(
        InboundAutomation, on_delete=models.CASCADE, related_name="replies"
    )
    channel = models.ForeignKey(PatientChannel, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(
                fields=["automation", "channel", "-sent_at"], name="automationreply_recent"
            )
        ]

    def __str__(self) -> str:
        return f"Automatic reply at {self.sent_at:%Y-%m-%d %H:%M}"


# --- Secure messaging: the patient portal's links, one-time codes and the audit of attempts -----


class SecureLink(PublicModel):
    """The link in a secure message's SMS notice: `/secure/<token>/` on the portal.

    The token (256 bits) is never stored: the row keeps its SHA-256 (`token_hash`, looked up by
    index) and a random `nonce` from which, with SECRET_KEY, the send path can rebuild the same
    notice text whenever it hands the message to the carrier again (`messaging.secure`).

    A link works until `expires_at` (SECURE_LINK_TTL_DAYS after it was made). A newer link in
    the same channel supersedes it (`superseded_at`): it still works, with the code step.
    SECURE_LINK_MAX_FAILURES wrong answers in a row lock it until `locked_until`.

    Opening it asks for the patient's date of birth; a link older than
    SECURE_LINK_CODE_AFTER_HOURS, superseded, or locked before also asks for a one-time code
    texted to the patient (`code_hash`, valid until `code_expires_at`). Every answer is a
    `SecureAccessAttempt` row.
    """

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="secure_link")
    # Copied from the message: the portal shows the channel's thread; supersession is per channel.
    channel = models.ForeignKey(PatientChannel, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    nonce = models.CharField(max_length=64, editable=False)
    expires_at = models.DateTimeField()
    superseded_at = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    lockouts = models.PositiveSmallIntegerField(default=0)
    code_hash = models.CharField(max_length=64, blank=True, editable=False)
    code_sent_at = models.DateTimeField(null=True, blank=True)
    code_expires_at = models.DateTimeField(null=True, blank=True)
    last_opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "secure link"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["channel", "-created_at"], name="securelink_channel")]

    def __str__(self) -> str:
        return f"Secure link of {self.created_at:%Y-%m-%d %H:%M}"

    def is_expired(self, at: datetime.datetime) -> bool:
        return at >= self.expires_at

    def is_locked(self, at: datetime.datetime) -> bool:
        return self.locked_until is not None and at < self.locked_until

    @property
    def is_superseded(self) -> bool:
        return self.superseded_at is not None


class SecureAccessAttempt(models.Model):
    """One answer given on the portal (append-only): which link, which step, the outcome."""

    class Kind(models.TextChoices):
        DOB = "dob", "Date of birth"
        CODE = "code", "Texted code"

    class Outcome(models.TextChoices):
        OK = "ok", "Accepted"
        WRONG = "wrong", "Wrong answer"
        LOCKED = "locked", "Refused: the link is locked"
        CODE_EXPIRED = "code_expired", "Refused: the code had expired"

    link = models.ForeignKey(SecureLink, on_delete=models.CASCADE, related_name="attempts")
    kind = models.CharField(max_length=4, choices=Kind.choices)
    success = models.BooleanField(default=False)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "secure access attempt"
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["link", "-at"], name="secureattempt_link")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.get_outcome_display()}"
