"""Admin for messages and the other records the platform writes, opt-outs, and the simulator."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from artera.phones import normalize_us_phone
from practices.admin import NormalizedSearchAdmin, phone_column, text_preview
from practices.admin_scope import ALL_ACTIONS, ScopedAdminMixin

from .models import (
    SECURITY_CODE_REDACTED,
    AfterHoursReply,
    InboundAutomation,
    Message,
    MessageStatusChange,
    MpspPrompt,
    OptOut,
    SecureAccessAttempt,
    SecureLink,
    ShortLink,
    SimulatorNumber,
    SimulatorText,
)


class MessageStatusChangeInline(ScopedAdminMixin, admin.TabularInline):
    """The status history is append-only: written by the send path and provider callbacks."""

    model = MessageStatusChange
    fields = ("status", "error_code", "at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "status change"
    verbose_name_plural = "status history"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RecordAdmin(NormalizedSearchAdmin):
    """A log the platform writes: looked at in the admin, never added or edited there."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(RecordAdmin):
    """A message is a record of what was sent or received: it can be looked at, not edited.

    Messages are only ever made by the send and inbound paths, so there is no add page; a
    superuser may delete one (e.g. a message sent to the wrong patient, on request). A security
    code's text is the patient's secret: the list and the page show what it was, never the code.
    """

    list_display = (
        "created_at",
        "direction",
        "to",
        "from_",
        "status",
        "error_code",
        "sender_kind",
        "practice",
        "preview",
    )
    list_filter = (
        "status",
        "direction",
        "sender_kind",
        "kind",
        "error_code",
        "is_secure",
        "practice",
    )
    list_select_related = ("practice",)
    search_fields = ("to_number", "from_number", "provider_message_id")
    phone_search_fields = ("to_number", "from_number")
    id_search_fields = ("id", "channel_id")
    date_hierarchy = "created_at"
    fieldsets = (
        (None, {"fields": ("id", "created_at", "channel", "practice", "line", "patient")}),
        (
            "Message",
            {
                "fields": (
                    "direction",
                    "from_number",
                    "to_number",
                    "kind",
                    "text",
                    "is_secure",
                    "segments",
                    "encoding",
                )
            },
        ),
        (
            "Delivery",
            {"fields": ("status", "error_code", "status_changed_at", "provider_message_id")},
        ),
        (
            "Sender",
            {
                "fields": (
                    "sender_kind",
                    "sender_user",
                    "sender_api_client",
                    "sender_workflow",
                    "callback_url",
                    "metadata",
                )
            },
        ),
        (
            "Outbox",
            {
                "fields": ("outbox_due_at", "claimed_at", "send_attempts"),
                "classes": ("collapse",),
            },
        ),
    )
    ordering = ("-created_at",)
    inlines = (MessageStatusChangeInline,)

    def get_readonly_fields(self, request: HttpRequest, obj: Message | None = None) -> Any:
        # Read-only even for someone who is given the change permission.
        return [field.name for field in Message._meta.fields] + ["text"]

    @admin.display(description="body")
    def text(self, obj: Message) -> str:
        return obj.staff_body

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    @admin.display(description="to", ordering="to_number")
    def to(self, obj: Message) -> str:
        return phone_column(obj.to_number)

    @admin.display(description="from", ordering="from_number")
    def from_(self, obj: Message) -> str:
        return phone_column(obj.from_number)

    @admin.display(description="body")
    def preview(self, obj: Message) -> str:
        return text_preview(obj.staff_body, 50)


def _normalized_phone(value: str) -> str:
    try:
        return normalize_us_phone(value)
    except ValidationError as exc:
        raise forms.ValidationError(exc.messages, code="invalid_phone") from exc


class OptOutAdminForm(forms.ModelForm):
    class Meta:
        model = OptOut
        fields = ("line", "phone", "keyword")
        help_texts = {
            "phone": "A US number in any usual form; stored as +1…",
            "keyword": "What the patient texted (e.g. STOP), or blank when added by hand.",
        }

    def clean_phone(self) -> str:
        return _normalized_phone(self.cleaned_data["phone"])


@admin.register(OptOut)
class OptOutAdmin(NormalizedSearchAdmin):
    form = OptOutAdminForm
    enterprise_path = "line__practice__enterprise_id"
    list_display = ("line", "phone_display", "keyword", "created_at")
    list_filter = (("line__practice", admin.RelatedOnlyFieldListFilter), "keyword")
    list_select_related = ("line",)
    search_fields = ("phone",)
    phone_search_fields = ("phone",)
    autocomplete_fields = ("line",)
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request: HttpRequest, obj: OptOut | None = None) -> Any:
        # An opt-out is a fact about one number and one line; change it by deleting it.
        return ("line", "phone", "created_at") if obj else ("created_at",)

    @admin.display(description="phone", ordering="phone")
    def phone_display(self, obj: OptOut) -> str:
        return phone_column(obj.phone)


@admin.register(ShortLink)
class ShortLinkAdmin(RecordAdmin):
    """Links the send path shortened. Deleting one makes `/s/<code>` a 404 (e.g. a bad link)."""

    list_display = ("code", "target", "enterprise", "clicks", "last_clicked_at", "created_at")
    list_filter = ("enterprise",)
    list_select_related = ("enterprise",)
    search_fields = ("=code", "target_url")
    id_search_fields = ("message_id",)
    date_hierarchy = "created_at"
    fields = (
        "code",
        "target_url",
        "enterprise",
        "message",
        "clicks",
        "last_clicked_at",
        "created_at",
    )

    @admin.display(description="target", ordering="target_url")
    def target(self, obj: ShortLink) -> str:
        return text_preview(obj.target_url, 80)


class SimulatorNumberAdminForm(forms.ModelForm):
    class Meta:
        model = SimulatorNumber
        fields = ("number", "kind")
        help_texts = {"number": "A US number in any usual form; stored as +1…"}

    def clean_number(self) -> str:
        return _normalized_phone(self.cleaned_data["number"])


@admin.register(SimulatorNumber)
class SimulatorNumberAdmin(NormalizedSearchAdmin):
    """How the simulated carrier treats a number (a number without a row is a mobile)."""

    internal = True

    form = SimulatorNumberAdminForm
    list_display = ("phone", "kind", "updated_at")
    list_filter = ("kind",)
    search_fields = ("number",)
    phone_search_fields = ("number",)

    @admin.display(description="number", ordering="number")
    def phone(self, obj: SimulatorNumber) -> str:
        return phone_column(obj.number)


@admin.register(SimulatorText)
class SimulatorTextAdmin(RecordAdmin):
    """Every text the simulated carrier carried, in either direction. A security code it
    carried shows as what it was, never the code (the simulator's phone page, the patient's
    side, shows it)."""

    internal = True

    fields = (
        "id",
        "direction",
        "from_number",
        "to_number",
        "text",
        "status",
        "error_code",
        "client_reference",
        "created_at",
        "reported_at",
    )
    readonly_fields = fields

    list_display = (
        "created_at",
        "direction",
        "from_",
        "to",
        "status",
        "error_code",
        "preview",
        "client_reference",
    )
    list_filter = ("direction", "status", "error_code")
    search_fields = ("from_number", "to_number", "=client_reference")
    phone_search_fields = ("from_number", "to_number")
    id_search_fields = ("id",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)

    @admin.display(description="from", ordering="from_number")
    def from_(self, obj: SimulatorText) -> str:
        return phone_column(obj.from_number)

    @admin.display(description="to", ordering="to_number")
    def to(self, obj: SimulatorText) -> str:
        return phone_column(obj.to_number)

    @admin.display(description="body")
    def preview(self, obj: SimulatorText) -> str:
        return text_preview(self.text(obj), 50)

    @admin.display(description="body")
    def text(self, obj: SimulatorText) -> str:
        is_code = getattr(obj, "is_security_code", None)
        if is_code is None:  # the change page: one row
            is_code = obj.client_reference in _security_code_ids([obj])
        return SECURITY_CODE_REDACTED if is_code else obj.body

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return _SimulatorTextChangeList


class _SimulatorTextChangeList(ChangeList):
    """Marks the page's security codes with one query (the carrier's record names the
    platform's message only by `client_reference`, which no join can follow)."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        texts = list(self.result_list)
        codes = _security_code_ids(texts)
        for text in texts:
            text.is_security_code = text.client_reference in codes
        self.result_list = texts


def _security_code_ids(texts: list[SimulatorText]) -> set[str]:
    """The `client_reference`s among `texts` that are security codes the platform sent."""
    ids = set()
    for text in texts:
        if text.direction != SimulatorText.Direction.TO_PATIENT:
            continue
        try:
            ids.add(uuid.UUID(text.client_reference))
        except ValueError:
            continue
    if not ids:
        return set()
    found = Message.objects.filter(pk__in=ids, kind=Message.Kind.SECURITY_CODE).values_list(
        "pk", flat=True
    )
    return {str(pk) for pk in found}


# --- Inbound: automations, shared-phone prompts, after-hours replies ----------------------------


@admin.register(InboundAutomation)
class InboundAutomationAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """A practice's rules for patients' texts: a condition, and what to do when it holds."""

    enterprise_path = "practice__enterprise_id"
    practice_path = "practice_id"
    manager_can = ALL_ACTIONS

    list_display = (
        "name",
        "practice",
        "condition",
        "does",
        "position",
        "is_active",
    )
    list_filter = ("is_active", "condition", ("practice", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("practice", "assign_to")
    search_fields = ("name", "practice__name")
    autocomplete_fields = ("practice", "assign_to")
    fieldsets = (
        (None, {"fields": ("practice", "name", "is_active", "position")}),
        ("When", {"fields": ("condition", "keywords")}),
        ("Then", {"fields": ("reply", "assign_to", "close_channel")}),
    )

    @admin.display(description="then")
    def does(self, obj: InboundAutomation) -> str:
        done = []
        if obj.reply.strip():
            done.append(f"reply “{text_preview(obj.reply, 40)}”")
        if obj.assign_to_id:
            done.append(f"assign to {obj.assign_to}")
        if obj.close_channel:
            done.append("close")
        return ", ".join(done) or "—"


@admin.register(MpspPrompt)
class MpspPromptAdmin(RecordAdmin):
    """Shared-phone prompts: which patient a text from a shared number was routed to, and why."""

    list_display = ("created_at", "phone_display", "line", "status", "answer", "chosen_channel")
    list_filter = ("status", ("line__practice", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("line", "chosen_channel__patient")
    search_fields = ("phone",)
    phone_search_fields = ("phone",)
    date_hierarchy = "created_at"
    fields = (
        "line",
        "phone",
        "status",
        "options",
        "prompts_sent",
        "answer",
        "held_message",
        "holding_channel",
        "chosen_channel",
        "created_at",
        "resolved_at",
    )
    readonly_fields = fields

    @admin.display(description="phone", ordering="phone")
    def phone_display(self, obj: MpspPrompt) -> str:
        return phone_column(obj.phone)


@admin.register(AfterHoursReply)
class AfterHoursReplyAdmin(RecordAdmin):
    """After-hours auto-responses that went out (a channel gets at most one per 12 hours)."""

    list_display = ("sent_at", "channel", "message")
    list_select_related = ("channel__patient", "message")
    id_search_fields = ("channel_id",)
    date_hierarchy = "sent_at"
    fields = ("channel", "message", "sent_at")
    readonly_fields = fields


# --- Secure messaging: portal links and the audit of every answer --------------------------------


class SecureAccessAttemptInline(ScopedAdminMixin, admin.TabularInline):
    """The audit of a link: every date of birth and code typed on the portal (append-only)."""

    model = SecureAccessAttempt
    fields = ("at", "kind", "outcome", "success", "ip_address", "user_agent")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-at", "-id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SecureLink)
class SecureLinkAdmin(RecordAdmin):
    """Links to the secure messaging portal. The token and the code are never shown: only their
    hashes are stored, and not even those are displayed."""

    list_display = (
        "created_at",
        "channel",
        "expires_at",
        "superseded_at",
        "locked_until",
        "failed_attempts",
        "last_opened_at",
    )
    list_select_related = ("channel__patient", "channel__known_patient")
    id_search_fields = ("id", "message_id", "channel_id", "patient_id")
    date_hierarchy = "created_at"
    fields = (
        "id",
        "created_at",
        "message",
        "channel",
        "patient",
        "expires_at",
        "superseded_at",
        "failed_attempts",
        "locked_until",
        "lockouts",
        "code_sent_at",
        "code_expires_at",
        "last_opened_at",
    )
    readonly_fields = fields
    inlines = (SecureAccessAttemptInline,)


@admin.register(SecureAccessAttempt)
class SecureAccessAttemptAdmin(RecordAdmin):
    """Every answer given on the portal: which link, which step, the outcome, from where."""

    list_display = ("at", "kind", "outcome", "success", "ip_address", "link")
    list_filter = ("kind", "outcome", "success")
    list_select_related = ("link",)
    search_fields = ("ip_address",)
    id_search_fields = ("link_id",)
    date_hierarchy = "at"
    fields = ("link", "at", "kind", "outcome", "success", "ip_address", "user_agent")
    readonly_fields = fields
