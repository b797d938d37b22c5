"""Organisation structure and configuration: enterprises, practices, lines, hours, people."""

from __future__ import annotations

import datetime
import re
import zoneinfo
from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from phonenumber_field.modelfields import PhoneNumberField

from artera.models import PublicModel
from artera.phones import validate_us_phone

# One segment of GSM-7 is 160 characters; an auto-response should stay within two.
AFTER_HOURS_MESSAGE_MAX_LENGTH = 320
QUICK_RESPONSE_MAX_LENGTH = 1600


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    SPANISH = "es", "Spanish"
    CHINESE = "zh", "Chinese"
    VIETNAMESE = "vi", "Vietnamese"
    KOREAN = "ko", "Korean"
    TAGALOG = "tl", "Tagalog"
    RUSSIAN = "ru", "Russian"
    ARABIC = "ar", "Arabic"
    FRENCH = "fr", "French"
    HAITIAN_CREOLE = "ht", "Haitian Creole"
    PORTUGUESE = "pt", "Portuguese"


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            "%(value)s is not a known time zone (use a name like America/New_York).",
            params={"value": value},
            code="invalid_timezone",
        )


class Enterprise(PublicModel):
    """A health system. Owns practices, patients, API clients and enterprise-wide settings."""

    class UrlShortening(models.TextChoices):
        OFF = "off", "Off"
        ALL = "all", "Shorten every link"
        DOMAINS = "domains", "Shorten links to the listed domains only"

    name = models.CharField(max_length=200, unique=True)
    allow_enterprise_patient_access = models.BooleanField(
        "allow practices to message and search for any patient across the enterprise",
        default=False,
        help_text="When on, staff can find and message patients known to any practice of the "
        "enterprise, and new conversations show a known patient's name.",
    )
    url_shortening = models.CharField(
        max_length=10, choices=UrlShortening.choices, default=UrlShortening.OFF
    )
    url_shortening_domains = models.TextField(
        blank=True,
        help_text="One domain per line (e.g. portal.example.org); subdomains are included. "
        "Used when shortening is limited to listed domains.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        domains = self.shortening_domains()
        if self.url_shortening == self.UrlShortening.DOMAINS and not domains:
            raise ValidationError(
                {
                    "url_shortening_domains": "List at least one domain to shorten, "
                    "or pick another rule."
                }
            )
        bad = [d for d in domains if not _DOMAIN_RE.fullmatch(d)]
        if bad:
            raise ValidationError(
                {"url_shortening_domains": f"Not a domain name: {', '.join(bad)}."}
            )

    def shortening_domains(self) -> list[str]:
        return [
            line.strip().lower()
            for line in self.url_shortening_domains.splitlines()
            if line.strip()
        ]


_DOMAIN_RE = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


class Practice(PublicModel):
    """A clinic or call center inside an enterprise."""

    class Kind(models.TextChoices):
        CLINIC = "clinic", "Clinic"
        CALL_CENTER = "call_center", "Call center"

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="practices")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.CLINIC)
    timezone = models.CharField(
        max_length=64, default="America/New_York", validators=[validate_timezone]
    )
    is_one_way = models.BooleanField(
        "one-way",
        default=False,
        help_text="Patients cannot reply: inbound texts get an automatic notice instead of a "
        "conversation.",
    )
    quiet_hours = models.BooleanField(
        "hold texts outside quiet hours",
        default=False,
        help_text="Texts that would reach a patient outside 8:00 to 21:00 in the patient's local "
        "time wait until 8:00 the next allowed day (replies to a patient who just texted, and "
        "automatic answers, are never held).",
    )
    quiet_hours_skip_holidays = models.BooleanField(
        "hold texts on closed holidays too",
        default=False,
        help_text="With quiet hours on: the practice's closed holidays are not allowed days.",
    )
    after_hours_enabled = models.BooleanField("send an after-hours auto-response", default=False)
    after_hours_message = models.TextField(
        blank=True,
        validators=[MaxLengthValidator(AFTER_HOURS_MESSAGE_MAX_LENGTH)],
        help_text=f"Sent to a patient who texts outside practice hours (at most "
        f"{AFTER_HOURS_MESSAGE_MAX_LENGTH} characters; smart phrases such as {{practiceName}} "
        "are filled in).",
    )

    class Meta:
        ordering = ["enterprise__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "name"], name="practice_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.after_hours_enabled and not self.after_hours_message.strip():
            raise ValidationError(
                {
                    "after_hours_message": "Write the after-hours message, "
                    "or turn the auto-response off."
                }
            )

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class PracticeLocation(models.Model):
    """An EMR location/department id that maps to a practice (MAPI's `location_id`).

    `enterprise` is copied from the practice so that one id maps to one practice per enterprise,
    which the database can then enforce.
    """

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="locations")
    location_id = models.CharField("EMR location id", max_length=100)

    class Meta:
        verbose_name = "EMR location id"
        constraints = [
            models.UniqueConstraint(
                fields=["enterprise", "location_id"], name="location_unique_in_enterprise"
            ),
        ]

    def __str__(self) -> str:
        return self.location_id

    def save(self, *args: object, **kwargs: object) -> None:
        self.enterprise_id = self.practice.enterprise_id
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def validate_unique(self, exclude: object = None) -> None:
        if self.practice_id:
            self.enterprise_id = self.practice.enterprise_id
        super().validate_unique(exclude)  # type: ignore[arg-type]


class PracticeHours(models.Model):
    """One open interval on one weekday, in the practice's timezone (a day may have several)."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens_at = models.TimeField()
    closes_at = models.TimeField()

    class Meta:
        verbose_name = "practice hours"
        verbose_name_plural = "practice hours"
        ordering = ["weekday", "opens_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")), name="hours_close_after_open"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens_at:%H:%M}-{self.closes_at:%H:%M}"

    def clean(self) -> None:
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValidationError({"closes_at": "Closing time must be after opening time."})


class AfterHoursTranslation(models.Model):
    """The after-hours auto-response in another language, used for patients who prefer it."""

    practice = models.ForeignKey(
        Practice, on_delete=models.CASCADE, related_name="after_hours_translations"
    )
    language = models.CharField(max_length=8, choices=Language.choices)
    message = models.TextField(validators=[MaxLengthValidator(AFTER_HOURS_MESSAGE_MAX_LENGTH)])

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "language"], name="after_hours_one_translation_per_language"
            ),
        ]

    def __str__(self) -> str:
        return self.get_language_display()


class Line(PublicModel):
    """An SMS-capable phone number of a practice. Inbound texts find their line by this number,
    so a number belongs to one line platform-wide."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="lines")
    name = models.CharField(max_length=200)
    phone_number = PhoneNumberField(unique=True, validators=[validate_us_phone])
    forwarding_number = PhoneNumberField(
        blank=True,
        validators=[validate_us_phone],
        help_text="Where voice calls to this number are forwarded.",
    )
    is_default = models.BooleanField(
        "default line",
        default=False,
        help_text="Used when a message does not name a line. One per practice.",
    )
    send_rate = models.DecimalField(
        "send rate (messages per second)",
        max_digits=6,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Carrier limit for this number: 1/s for a long code, more for a toll-free or "
        "short code.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["practice__name", "-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice"],
                condition=Q(is_default=True),
                name="line_one_default_per_practice",
                violation_error_message="This practice already has a default line.",
            ),
            models.CheckConstraint(condition=Q(send_rate__gt=0), name="line_send_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.phone_number})"


class Holiday(models.Model):
    """A closed (or specially open) date at enterprise, practice or line level."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="holidays")
    practice = models.ForeignKey(
        Practice, on_delete=models.CASCADE, null=True, blank=True, related_name="holidays"
    )
    line = models.ForeignKey(
        Line, on_delete=models.CASCADE, null=True, blank=True, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=200)
    repeats_yearly = models.BooleanField(
        "every year",
        default=False,
        help_text="Also on this day and month of every later year (e.g. December 25). A "
        "February 29 holiday falls only in leap years.",
    )
    is_closed = models.BooleanField(
        "closed all day",
        default=True,
        help_text="Untick for a day with special opening hours (set them below).",
    )
    opens_at = models.TimeField(null=True, blank=True)
    closes_at = models.TimeField(null=True, blank=True)
    message = models.TextField(
        "out-of-office message",
        blank=True,
        validators=[MaxLengthValidator(AFTER_HOURS_MESSAGE_MAX_LENGTH)],
        help_text="Sent instead of the after-hours message on this date (blank: use the "
        "practice's after-hours message).",
    )

    class Meta:
        ordering = ["date"]
        indexes = [models.Index(fields=["enterprise", "date"], name="holiday_enterprise_date")]
        constraints = [
            models.CheckConstraint(
                condition=Q(line__isnull=True) | Q(practice__isnull=False),
                name="holiday_line_needs_practice",
            ),
            models.CheckConstraint(
                condition=Q(is_closed=True)
                | Q(
                    opens_at__isnull=False,
                    closes_at__isnull=False,
                    closes_at__gt=models.F("opens_at"),
                ),
                name="holiday_special_hours_valid",
            ),
        ]

    def __str__(self) -> str:
        if self.repeats_yearly:
            return f"{self.name} ({self.date:%B} {self.date.day}, every year from {self.date.year})"
        return f"{self.name} ({self.date:%Y-%m-%d})"

    def falls_on(self, day: datetime.date) -> bool:
        """Whether the holiday is on `day`: its date, or for a yearly one the same day and
        month of that year or a later one."""
        if self.date == day:
            return True
        return (
            self.repeats_yearly
            and day > self.date
            and (day.month, day.day) == (self.date.month, self.date.day)
        )

    @property
    def level(self) -> str:
        if self.line_id:
            return "line"
        if self.practice_id:
            return "practice"
        return "enterprise"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if (
            self.practice is not None
            and self.enterprise_id
            and self.practice.enterprise_id != self.enterprise_id
        ):
            errors["practice"] = "This practice belongs to another enterprise."
        if self.line is not None:
            if not self.practice_id:
                errors["line"] = "Pick the line's practice too."
            elif self.line.practice_id != self.practice_id:
                errors["line"] = "This line belongs to another practice."
        if not self.is_closed:
            if not self.opens_at or not self.closes_at:
                errors["opens_at"] = "A specially open day needs opening and closing times."
            elif self.closes_at <= self.opens_at:
                errors["closes_at"] = "Closing time must be after opening time."
        if errors:
            raise ValidationError(errors)


class Membership(models.Model):
    """A user's role in a practice. Everything a staff member sees is scoped by these rows."""

    class Role(models.TextChoices):
        STAFF = "staff", "Staff"
        MANAGER = "manager", "Manager"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.STAFF)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "practice"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.practice} ({self.get_role_display()})"


class EnterpriseAdministrator(models.Model):
    """The enterprise administrator role: a user who configures one enterprise (its practices,
    lines, people and integrations) in Django admin. Not a platform superuser: everything they
    see there is scoped to `enterprise`. A user administers at most one enterprise."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enterprise_administrator"
    )
    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.CASCADE, related_name="administrators"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "enterprise administrator"

    def __str__(self) -> str:
        return f"{self.user} — {self.enterprise} (enterprise administrator)"


class QuickResponse(models.Model):
    """A practice's canned reply. A text that starts with `!!` is sent unsecured."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="quick_responses")
    topic = models.CharField(max_length=100)
    text = models.TextField(validators=[MaxLengthValidator(QUICK_RESPONSE_MAX_LENGTH)])
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.ENGLISH)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["topic", "position", "id"]
        indexes = [models.Index(fields=["practice", "topic"], name="quickresponse_practice_topic")]

    def __str__(self) -> str:
        return f"{self.topic}: {self.text[:40]}"

    @property
    def is_unsecured(self) -> bool:
        return self.text.startswith("!!")


# Smart phrases the platform fills in itself; custom phrases may not reuse these names.
BUILTIN_SMART_PHRASES: dict[str, str] = {
    "practiceName": "The practice's name",
    "lineName": "The line's name",
    "linePhone": "The line's phone number",
    "enterpriseName": "The enterprise's name",
    "patientFirstName": "The patient's first name",
    "patientLastName": "The patient's last name",
    "patientFullName": "The patient's full name",
    "staffFirstName": "The sending staff member's first name",
    "staffLastName": "The sending staff member's last name",
    "staffFullName": "The sending staff member's full name",
}
_PHRASE_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,49}")


class SmartPhrase(models.Model):
    """A `{name}` token replaced by its text when a message is sent.

    General phrases (no owner) belong to the enterprise; a staff member's own phrases have an
    owner and shadow general ones of the same name for that person.
    """

    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.CASCADE, related_name="smart_phrases"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="smart_phrases",
        help_text="Blank for a general phrase everyone in the enterprise can use.",
    )
    name = models.CharField(
        max_length=50, help_text="Used as {name} in a message: letters, digits and _."
    )
    text = models.TextField(validators=[MaxLengthValidator(QUICK_RESPONSE_MAX_LENGTH)])
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["enterprise", "name"],
                condition=Q(owner__isnull=True),
                name="smartphrase_general_unique",
                violation_error_message="A general smart phrase with this name already exists.",
            ),
            models.UniqueConstraint(
                fields=["enterprise", "owner", "name"],
                condition=Q(owner__isnull=False),
                name="smartphrase_owned_unique",
                violation_error_message="This person already has a smart phrase with this name.",
            ),
        ]

    def __str__(self) -> str:
        return "{" + self.name + "}"

    def clean(self) -> None:
        if not _PHRASE_NAME_RE.fullmatch(self.name or ""):
            raise ValidationError(
                {"name": "Use letters, digits and underscores, starting with a letter."}
            )
        if self.name in BUILTIN_SMART_PHRASES:
            raise ValidationError(
                {"name": f"{{{self.name}}} is filled in by the platform; pick another name."}
            )
        if (
            self.owner_id
            and self.enterprise_id
            and not Membership.objects.filter(
                user_id=self.owner_id, practice__enterprise_id=self.enterprise_id
            ).exists()
        ):
            raise ValidationError(
                {"owner": "This person works in none of the enterprise's practices."}
            )
