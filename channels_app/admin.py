"""Admin for patients and their conversation channels."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from practices.admin import FixedAfterCreationMixin, NormalizedSearchAdmin
from practices.admin_scope import ScopedAdminMixin

from .models import (
    AuditLog,
    ChannelEvent,
    ChannelPresence,
    ChannelRead,
    InternalNote,
    Notification,
    Patient,
    PatientChannel,
    PatientPhone,
)


class PatientPhoneInlineForm(forms.ModelForm):
    class Meta:
        model = PatientPhone
        fields = ("number", "kind", "is_primary")

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        # A copy of the patient's enterprise, never chosen by hand.
        patient = cleaned.get("patient")
        if patient is not None:
            self.instance.enterprise_id = patient.enterprise_id
        return cleaned


class PatientPhoneInline(admin.TabularInline):
    model = PatientPhone
    form = PatientPhoneInlineForm
    extra = 0
    verbose_name = "phone number"
    verbose_name_plural = "phone numbers"


@admin.register(Patient)
class PatientAdmin(FixedAfterCreationMixin, NormalizedSearchAdmin):
    list_display = (
        "full_name",
        "mrn",
        "enterprise",
        "date_of_birth",
        "is_verified",
        "preferred_language",
    )
    list_filter = ("is_verified", "preferred_language", "enterprise")
    list_select_related = ("enterprise",)
    search_fields = ("first_name", "last_name", "mrn", "phones__number")
    phone_search_fields = ("phones__number",)
    id_search_fields = ("id",)
    autocomplete_fields = ("enterprise",)
    fixed_after_creation = ("enterprise",)
    fieldsets = (
        (None, {"fields": ("enterprise", "first_name", "last_name", "date_of_birth")}),
        ("Identity", {"fields": ("mrn", "is_verified")}),
        ("Preferences", {"fields": ("preferred_language",)}),
    )
    inlines = (PatientPhoneInline,)

    @admin.display(description="name", ordering="last_name")
    def full_name(self, obj: Patient) -> str:
        return obj.full_name or "—"


@admin.register(PatientChannel)
class PatientChannelAdmin(FixedAfterCreationMixin, NormalizedSearchAdmin):
    list_display = (
        "display_name",
        "practice",
        "line_name",
        "status",
        "needs_action",
        "assignee",
        "last_activity_at",
        "messages_link",
    )
    list_filter = ("status", "needs_action", "practice")
    list_select_related = ("practice", "line", "patient", "assignee")
    search_fields = ("phone", "patient__first_name", "patient__last_name", "patient__mrn")
    phone_search_fields = ("phone",)
    id_search_fields = ("id",)
    autocomplete_fields = ("patient", "line", "assignee", "starred_by")
    fixed_after_creation = ("practice", "line", "patient", "phone")
    readonly_fields = ("created_at", "messages_link")
    date_hierarchy = "last_activity_at"
    fieldsets = (
        (None, {"fields": ("practice", "line", "patient", "phone")}),
        ("Inbox", {"fields": ("status", "needs_action", "assignee", "starred_by")}),
        (None, {"fields": ("last_activity_at", "created_at", "messages_link")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[PatientChannel]:
        return super().get_queryset(request).annotate(message_count=Count("messages"))

    @admin.display(description="conversation", ordering="patient__last_name")
    def display_name(self, obj: PatientChannel) -> str:
        return obj.display_name

    @admin.display(description="line", ordering="line__name")
    def line_name(self, obj: PatientChannel) -> str:
        return obj.line.name

    @admin.display(description="messages", ordering="message_count")
    def messages_link(self, obj: PatientChannel) -> str:
        if obj._state.adding:
            return "—"
        url = reverse("admin:messaging_message_changelist") + f"?channel__id__exact={obj.pk}"
        count = getattr(obj, "message_count", None)
        label = "Messages" if count is None else f"{count} message{'' if count == 1 else 's'}"
        return format_html('<a href="{}">{}</a>', url, label)


# --- The collaborative inbox's records ------------------------------------------------------


@admin.register(ChannelEvent)
class ChannelEventAdmin(ScopedAdminMixin, admin.ModelAdmin):
    internal = True
    list_display = ("kind", "channel", "actor", "subject", "created_at")
    list_filter = ("kind",)
    list_select_related = ("channel__patient", "channel__known_patient", "actor", "subject")
    search_fields = ("actor__username", "subject__username")
    raw_id_fields = ("channel", "practice", "actor", "subject")
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # written by the platform, never by hand


@admin.register(InternalNote)
class InternalNoteAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "channel", "author", "created_at")
    list_select_related = ("channel__patient", "channel__known_patient", "author")
    search_fields = ("body", "author__username")
    raw_id_fields = ("channel", "author")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # written by the platform, never by hand


@admin.register(Notification)
class NotificationAdmin(ScopedAdminMixin, admin.ModelAdmin):
    internal = True
    list_display = ("kind", "user", "channel", "created_at", "read_at")
    list_filter = ("kind",)
    list_select_related = ("user", "channel__patient", "channel__known_patient")
    search_fields = ("user__username",)
    raw_id_fields = ("user", "channel", "note")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # written by the platform, never by hand


@admin.register(AuditLog)
class AuditLogAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """The HIPAA trail: read-only here (rows are only ever written by the inbox)."""

    list_display = ("at", "action", "user", "channel_id", "message_id", "ip_address")
    list_filter = ("action",)
    list_select_related = ("user",)
    search_fields = ("user__username",)
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ChannelPresence)
class ChannelPresenceAdmin(ScopedAdminMixin, admin.ModelAdmin):
    internal = True
    list_display = ("user", "channel", "last_seen_at")
    list_select_related = ("user", "channel__patient", "channel__known_patient")
    search_fields = ("user__username",)
    raw_id_fields = ("channel", "user")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # written by the platform, never by hand


@admin.register(ChannelRead)
class ChannelReadAdmin(ScopedAdminMixin, admin.ModelAdmin):
    internal = True
    list_display = ("user", "channel", "read_at")
    list_select_related = ("user", "channel__patient", "channel__known_patient")
    search_fields = ("user__username",)
    raw_id_fields = ("channel", "user")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # written by the platform, never by hand
