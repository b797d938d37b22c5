"""Admin for patients and their conversation channels."""

from __future__ import annotations

import csv
import datetime
import uuid
import zoneinfo
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from artera.phones import format_us_phone
from practices.admin import FixedAfterCreationMixin, NormalizedSearchAdmin
from practices.admin_scope import VIEW_ONLY, ScopedAdminMixin, scoped_choices
from practices.models import Practice

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
from .selectors import (
    audit_channels_of_enterprise,
    audit_channels_of_patient_named,
    audit_channels_of_practice,
    audit_csv_rows,
    audit_local_time,
    audit_log_annotate,
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
        ("Preferences", {"fields": ("preferred_language", "time_zone")}),
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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a conversation starts with a text (the send and inbound paths)

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


class AuditDateRangeFilter(admin.ListFilter):
    """Entries from one day to another, both included. The days are those of the practices'
    time zone when the practices in view (all the user's, or the one filtered on) share one,
    otherwise of the site's time zone."""

    title = "date"
    template = "admin/filters/date_range.html"
    parameters = ("date_from", "date_to")

    def __init__(
        self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any
    ) -> None:
        super().__init__(request, params, model, model_admin)
        for name in self.parameters:
            if name in params:
                value = params.pop(name)
                self.used_parameters[name] = value[-1] if isinstance(value, list) else value
        self.zone = _days_zone(request, model_admin)

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str | None]:
        return list(self.parameters)

    def bounds(self) -> tuple[datetime.datetime | None, datetime.datetime | None]:
        """The half-open range [start, end) the chosen days cover; raises
        IncorrectLookupParameters for a value that is not a date (the admin then shows the
        list again with an error flag, never a 500)."""
        zone = self.zone
        found: list[datetime.datetime | None] = []
        for name, extra_days in (("date_from", 0), ("date_to", 1)):
            raw = str(self.used_parameters.get(name) or "").strip()
            if not raw:
                found.append(None)
                continue
            try:
                day = datetime.date.fromisoformat(raw)
            except ValueError as exc:
                raise IncorrectLookupParameters(exc) from exc
            day += datetime.timedelta(days=extra_days)
            found.append(datetime.datetime.combine(day, datetime.time.min, tzinfo=zone))
        return found[0], found[1]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        start, end = self.bounds()
        if start is not None:
            queryset = queryset.filter(at__gte=start)
        if end is not None:
            queryset = queryset.filter(at__lt=end)
        return queryset

    def choices(self, changelist: Any) -> Any:
        # One "choice": the form, with the list's other parameters kept as hidden fields.
        keep = [
            (name, value)
            for name, value in changelist.params.items()
            if name not in self.parameters and name != "p"
        ]
        yield {
            "keep": keep,
            "zone": str(self.zone),
            "date_from": self.used_parameters.get("date_from", ""),
            "date_to": self.used_parameters.get("date_to", ""),
        }


def _days_zone(request: HttpRequest, model_admin: Any) -> datetime.tzinfo:
    """The time zone the date range is read in (see AuditDateRangeFilter): one query."""
    practices = scoped_choices(model_admin, Practice, request)
    if practices is None:
        practices = Practice.objects.all()
    try:
        chosen = uuid.UUID(request.GET.get("practice", ""))
    except ValueError:
        pass
    else:
        practices = practices.filter(pk=chosen)
    zones = list(practices.order_by().values_list("timezone", flat=True).distinct()[:2])
    if len(zones) == 1:
        try:
            return zoneinfo.ZoneInfo(zones[0])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return timezone.get_current_timezone()


class AuditPracticeFilter(admin.SimpleListFilter):
    title = "practice"
    parameter_name = "practice"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        practices = scoped_choices(model_admin, Practice, request)
        if practices is None:
            practices = Practice.objects.all()
        return [
            (str(pk), name) for pk, name in practices.order_by("name").values_list("pk", "name")
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.value():
            return queryset
        try:
            practice_id = uuid.UUID(self.value())
        except ValueError as exc:
            raise IncorrectLookupParameters(exc) from exc
        channels = audit_channels_of_practice(practice_id=practice_id)
        return queryset.filter(channel_id__in=channels.values("pk"))


@admin.register(AuditLog)
class AuditLogAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """The HIPAA trail: read-only here (rows are only ever written by the inbox). Filters by
    patient (the search box), user, practice and date range; times in each entry's practice's
    zone; "Export CSV" writes the filtered entries of a date range."""

    # An entry's enterprise is its conversation's (see enterprise_q): enterprise
    # administrators read their enterprise's entries; managers see none.
    enterprise_path = "channel_id"
    enterprise_admin_can = VIEW_ONLY

    list_display = (
        "local_time",
        "action",
        "user",
        "practice_name",
        "patient_name",
        "client_address",
        "channel_id",
        "message_id",
    )
    list_filter = (
        AuditDateRangeFilter,
        AuditPracticeFilter,
        ("user", admin.RelatedOnlyFieldListFilter),
        "action",
    )
    list_select_related = ("user",)
    search_fields = ("user__username", "user__first_name", "user__last_name")
    search_help_text = "A patient's name, or a user's name or username."
    fields = list_display
    readonly_fields = list_display

    def enterprise_q(self, enterprise_id: Any) -> Q:
        channels = audit_channels_of_enterprise(enterprise_id=enterprise_id)
        return Q(channel_id__in=channels.values("pk"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditLog]:
        return audit_log_annotate(super().get_queryset(request))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        words = search_term.split()
        if words:
            channels = audit_channels_of_patient_named(words=words)
            results = results | queryset.filter(channel_id__in=channels.values("pk"))
        return results, may_have_duplicates

    @admin.display(description="time (practice's zone)", ordering="at")
    def local_time(self, obj: AuditLog) -> str:
        return audit_local_time(obj).strftime("%Y-%m-%d %H:%M:%S %Z")

    @admin.display(description="practice")
    def practice_name(self, obj: AuditLog) -> str:
        return getattr(obj, "practice_name", None) or "—"

    @admin.display(description="client address", ordering="ip_address")
    def client_address(self, obj: AuditLog) -> str:
        return obj.ip_address or "—"

    @admin.display(description="patient")
    def patient_name(self, obj: AuditLog) -> str:
        name = getattr(obj, "patient_name", None)
        return format_us_phone(name) if name and name.startswith("+") else name or "—"

    def get_urls(self) -> list[Any]:
        export = path(
            "export/",
            self.admin_site.admin_view(self.export_view),
            name="channels_app_auditlog_export",
        )
        return [export, *super().get_urls()]

    def export_view(self, request: HttpRequest) -> HttpResponseBase:
        """The changelist's entries (its filters and search) as CSV; a date range is required,
        so an export is always of a bounded period."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist_url = reverse("admin:channels_app_auditlog_changelist")
        query = request.GET.urlencode()
        if not (request.GET.get("date_from") and request.GET.get("date_to")):
            messages.error(request, "Pick the dates (from and to) to export.")
            return HttpResponseRedirect(f"{changelist_url}?{query}")
        try:
            changelist = self.get_changelist_instance(request)
            queryset = changelist.get_queryset(request)
        except IncorrectLookupParameters:
            messages.error(request, "These filters are not valid: nothing was exported.")
            return HttpResponseRedirect(changelist_url)
        writer = csv.writer(_Echo())
        rows = (writer.writerow(row) for row in audit_csv_rows(queryset))
        filename = f"audit-log-{request.GET['date_from']}-to-{request.GET['date_to']}.csv"
        response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # append-only


class _Echo:
    """A file-like object whose write returns the line: csv.writer into a streamed response."""

    def write(self, value: str) -> str:
        return value


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
