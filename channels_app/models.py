"""Patients and their conversation channels."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone
from phonenumber_field.modelfields import PhoneNumberField

from artera.models import PublicModel
from artera.phones import format_us_phone, validate_us_phone
from practices.models import Enterprise, Language, Line, Practice, validate_timezone


class Patient(PublicModel):
    """A person known to an enterprise.

    Verified means the EMR identified the patient by MRN; an unverified patient is known only by
    name and phone (e.g. added by staff). MRNs are unique within one enterprise.
    """

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="patients")
    # NULL, not "", for "no MRN": the uniqueness rule must ignore patients without one.
    mrn = models.CharField("MRN", max_length=64, null=True, blank=True)  # noqa: DJ001
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    preferred_language = models.CharField(
        max_length=8, choices=Language.choices, default=Language.ENGLISH
    )
    is_verified = models.BooleanField(
        "verified", default=False, help_text="Identified by the EMR through an MRN."
    )
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text="Where the patient lives (e.g. America/New_York), for quiet hours; blank: "
        "from the phone number's area code, else the practice's.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["enterprise", "mrn"],
                condition=Q(mrn__isnull=False),
                name="patient_mrn_unique_in_enterprise",
                violation_error_message="Another patient of this enterprise has this MRN.",
            ),
            models.CheckConstraint(
                condition=Q(is_verified=False) | (Q(mrn__isnull=False) & ~Q(mrn="")),
                name="patient_verified_has_mrn",
                violation_error_message="A verified patient needs an MRN.",
            ),
        ]
        indexes = [
            models.Index(fields=["enterprise", "last_name", "first_name"], name="patient_name"),
            # The inbox's search by MRN (`mrn__iexact`). On PostgreSQL the name search has
            # trigram indexes too (migration 0004: not declared here, SQLite has no such index).
            models.Index(Upper("mrn"), name="patient_mrn_upper"),
        ]

    def __str__(self) -> str:
        return self.full_name or f"Patient {self.mrn or self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def clean(self) -> None:
        # An empty MRN from a form means "none": store NULL so the uniqueness rule ignores it.
        if self.mrn is not None:
            self.mrn = self.mrn.strip() or None


class PatientPhone(models.Model):
    """A phone number of a patient. Several patients may share one number (a family phone)."""

    class Kind(models.TextChoices):
        MOBILE = "mobile", "Mobile"
        HOME = "home", "Home"
        WORK = "work", "Work"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="phones")
    # Copied from the patient so "who has this number in this enterprise" is one index lookup.
    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    number = PhoneNumberField(validators=[validate_us_phone])
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MOBILE)
    is_primary = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "number"], name="patientphone_unique"),
        ]
        indexes = [models.Index(fields=["enterprise", "number"], name="patientphone_lookup")]

    def __str__(self) -> str:
        return format_us_phone(self.number)

    def save(self, *args: object, **kwargs: object) -> None:
        self.enterprise_id = self.patient.enterprise_id
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class PatientChannel(PublicModel):
    """The conversation of one practice line with one patient, or with a bare phone number.

    A verified channel has a patient; an unverified one has only the phone number. There is one
    channel per line and patient, and one per line and bare number.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="channels")
    line = models.ForeignKey(Line, on_delete=models.PROTECT, related_name="channels")
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="channels"
    )
    phone = PhoneNumberField(
        validators=[validate_us_phone], help_text="The number this conversation texts."
    )
    known_patient = models.ForeignKey(
        Patient,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="On an unverified channel: the enterprise's patient this number belongs to, "
        "shown by name when the enterprise allows enterprise-wide patient access. It does not "
        "verify the channel.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    needs_action = models.BooleanField(default=False)
    # Since when the patient has been waiting for an answer: the first text that made the
    # conversation need action; cleared with `needs_action` (a staff reply, closing).
    waiting_since = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_channels",
    )
    starred_by = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="starred_channels"
    )
    last_activity_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_activity_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "line", "patient"],
                condition=Q(patient__isnull=False),
                name="channel_one_per_line_patient",
                violation_error_message="This line already has a conversation with this patient.",
            ),
            models.UniqueConstraint(
                fields=["practice", "line", "phone"],
                condition=Q(patient__isnull=True),
                name="channel_one_per_line_phone",
                violation_error_message="This line already has a conversation with this number.",
            ),
        ]
        indexes = [
            # The inbox: a practice's channels in a folder, newest activity first, in the exact
            # order of its pages (the id breaks ties), so a page is read straight off the index.
            models.Index(
                fields=["practice", "status", "-last_activity_at", "-id"],
                name="channel_inbox_folder",
            ),
            models.Index(fields=["practice", "-last_activity_at", "-id"], name="channel_inbox_all"),
            models.Index(fields=["line", "phone"], name="channel_line_phone"),
            # The inbox's "longest waiting first": who needs an answer, oldest wait first.
            models.Index(
                fields=["practice", "waiting_since", "id"],
                condition=Q(waiting_since__isnull=False),
                name="channel_inbox_waiting",
            ),
            # On PostgreSQL the number search also has a trigram index (migration 0004).
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_verified(self) -> bool:
        return self.patient_id is not None and bool(self.patient and self.patient.is_verified)

    @property
    def display_name(self) -> str:
        if self.patient is not None and self.patient.full_name:
            return self.patient.full_name
        if self.known_patient is not None and self.known_patient.full_name:
            return self.known_patient.full_name
        return format_us_phone(self.phone)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.line_id and self.practice_id and self.line.practice_id != self.practice_id:
            errors["line"] = "This line belongs to another practice."
        if (
            self.patient is not None
            and self.practice_id
            and self.patient.enterprise_id != self.practice.enterprise_id
        ):
            errors["patient"] = "This patient belongs to another enterprise."
        if errors:
            raise ValidationError(errors)


# --- The collaborative inbox: what staff do in a conversation --------------------------------


class ChannelEvent(models.Model):
    """Something staff (or the platform) did to a conversation, shown in its thread.

    Delivery failures and shared-phone choices are not stored here: the thread reads them from
    the messages' statuses and the `MpspPrompt` rows, which are their own record.
    """

    class Kind(models.TextChoices):
        CLOSED = "closed", "Closed"
        REOPENED = "reopened", "Reopened"
        ASSIGNED = "assigned", "Assigned"
        UNASSIGNED = "unassigned", "Unassigned"
        MOVED = "moved", "Moved to another practice"

    channel = models.ForeignKey(PatientChannel, on_delete=models.CASCADE, related_name="events")
    # Copied from the channel: the inbox's "anything new?" check reads events per practice.
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The person the conversation was assigned to.",
    )
    from_practice = models.ForeignKey(
        Practice,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="For a move: the practice the conversation came from.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["channel", "created_at"], name="channelevent_thread"),
            models.Index(fields=["practice", "-id"], name="channelevent_practice"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.created_at:%Y-%m-%d %H:%M}"


class InternalNote(models.Model):
    """A note staff leave in a conversation for each other; the patient never sees it."""

    channel = models.ForeignKey(PatientChannel, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    body = models.TextField(max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["channel", "created_at"], name="note_thread")]

    def __str__(self) -> str:
        return self.body[:40]


class Notification(models.Model):
    """Something a staff member should look at: for now, an @mention in an internal note."""

    class Kind(models.TextChoices):
        MENTION = "mention", "Mentioned in a note"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inbox_notifications"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.MENTION)
    channel = models.ForeignKey(PatientChannel, on_delete=models.CASCADE, related_name="+")
    note = models.ForeignKey(
        InternalNote, on_delete=models.CASCADE, null=True, blank=True, related_name="mentions"
    )
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["note", "user"], condition=Q(note__isnull=False), name="mention_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["user", "-created_at"],
                condition=Q(read_at__isnull=True),
                name="notification_unread",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.user}"


class AuditLog(models.Model):
    """Who opened which conversation and who sent what (HIPAA audit controls). Append-only."""

    class Action(models.TextChoices):
        CHANNEL_VIEWED = "channel_viewed", "Opened a conversation"
        MESSAGE_SENT = "message_sent", "Sent a message"
        NOTE_ADDED = "note_added", "Added an internal note"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    # Kept as ids, not foreign keys: the trail must outlive the rows it talks about.
    channel_id = models.UUIDField(null=True, blank=True)
    message_id = models.UUIDField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["channel_id", "-at"], name="audit_channel"),
            models.Index(fields=["user", "-at"], name="audit_user"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} at {self.at:%Y-%m-%d %H:%M:%S}"


class ChannelPresence(models.Model):
    """A staff member has a conversation open (refreshed by the page while it stays open)."""

    channel = models.ForeignKey(PatientChannel, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_seen_at = models.DateTimeField(default=timezone.now)
    is_typing = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "channel presence"
        constraints = [
            models.UniqueConstraint(fields=["channel", "user"], name="presence_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.channel_id}"


class ChannelRead(models.Model):
    """When a staff member last read a conversation: later patient texts are unread for them."""

    channel = models.ForeignKey(PatientChannel, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "user"], name="channelread_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} read {self.channel_id} at {self.read_at:%Y-%m-%d %H:%M}"
