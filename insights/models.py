"""Daily rollup rows: what the Insights dashboard reads instead of a million messages.

Every row belongs to one practice and one local date in that practice's timezone (`day`). The
rows of a (practice, day) are rewritten together from the raw rows by `insights.rollup`, never
edited one by one, so a recomputation is always the whole truth of that day.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from practices.models import Line, Practice


class MessageDay(models.Model):
    """How many messages of one kind a line had on one day: direction, source (sender kind),
    status and error code as they stand now, the opt-out/opt-in keyword an inbound text was,
    and the API client that sent it."""

    class Keyword(models.TextChoices):
        NONE = "", "None"
        OPT_OUT = "opt_out", "Opt-out"
        OPT_IN = "opt_in", "Opt-in"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    direction = models.CharField(max_length=10)
    sender_kind = models.CharField(max_length=20)
    status = models.CharField(max_length=12)
    error_code = models.CharField(max_length=20, blank=True)
    keyword = models.CharField(max_length=8, choices=Keyword.choices, blank=True)
    api_client = models.ForeignKey(
        "webhooks.ApiClient", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    count = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["practice", "day"], name="insights_messageday_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.direction} {self.sender_kind} {self.status}: {self.count}"


class ResponseWait(models.Model):
    """One patient text that started a wait for staff, and the first staff reply that ended it.

    A wait starts with a patient's text (not a STOP/START/HELP keyword) when the conversation's
    previous patient-or-staff text was not the patient's; it ends at the first later text a
    staff member sent in that conversation. `business_seconds` is the time between, counted only
    while the practice was open; for a wait still open it is the time so far (as of the last
    rollup run), and the two flags say whether it crossed one hour and one business day.
    """

    message = models.OneToOneField(
        "messaging.Message", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="+")
    channel_id = models.UUIDField()
    day = models.DateField()
    started_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    business_seconds = models.PositiveIntegerField()
    over_hour = models.BooleanField()
    over_business_day = models.BooleanField()

    class Meta:
        indexes = [
            models.Index(fields=["practice", "day"], name="insights_wait_day"),
            # The rollup run keeps open waits' "so far" current until they pass a business day.
            models.Index(
                fields=["practice"],
                condition=models.Q(answered_at__isnull=True, over_business_day=False),
                name="insights_wait_open",
            ),
        ]

    def __str__(self) -> str:
        return f"Wait of {self.business_seconds} s from {self.started_at:%Y-%m-%d %H:%M}"


class CallDay(models.Model):
    """The call-to-text funnel of one workflow's calls on one day."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    kind = models.CharField(max_length=20)
    calls = models.PositiveIntegerField()
    texted = models.PositiveIntegerField()
    replied = models.PositiveIntegerField()
    answered = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["practice", "day"], name="insights_callday_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.kind}: {self.calls} calls"


class WebhookDay(models.Model):
    """An API client's webhook deliveries about one practice's messages, by the day of the
    event: delivered at the first attempt, delivered after retries, failed (given up on, or the
    endpoint disabled) and still pending."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="+")
    api_client = models.ForeignKey("webhooks.ApiClient", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    delivered = models.PositiveIntegerField()
    retried = models.PositiveIntegerField()
    failed = models.PositiveIntegerField()
    pending = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["practice", "day"], name="insights_webhookday_day")]

    def __str__(self) -> str:
        return f"{self.day}: {self.delivered} delivered"


class Touch(models.Model):
    """A practice's messages changed at `at` (the message's own time): its day must be rolled
    up again. Appended on the hot paths (a status change, a patient's text) without any lock,
    and consumed by the rollup run."""

    practice_id = models.UUIDField()
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.practice_id} at {self.at:%Y-%m-%d %H:%M}"


class RollupState(models.Model):
    """Up to when the rollup run has scanned new messages (one row)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    scanned_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Scanned until {self.scanned_until}"
