"""Admin for the organisation structure: enterprises, practices, lines, hours, people.

Also home to the small admin helpers the other apps' admins reuse: a search that understands phone
numbers and ids, fields that are fixed once an object exists, and changelist text helpers.
"""

from __future__ import annotations

import uuid
import zoneinfo
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import (
    AdminTextareaWidget,
    AdminTimeWidget,
    RelatedFieldWidgetWrapper,
)
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, Model, Q, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import Truncator

from artera.phones import format_us_phone, normalize_us_phone

from .admin_scope import ALL_ACTIONS, VIEW_ONLY, ScopedAdminMixin, admin_role
from .hours import practices_open_at
from .models import (
    AfterHoursTranslation,
    Enterprise,
    EnterpriseAdministrator,
    Holiday,
    Line,
    Membership,
    Practice,
    PracticeHours,
    PracticeLocation,
    QuickResponse,
    SmartPhrase,
)

User = get_user_model()


# --- Shared helpers -------------------------------------------------------------------------


def text_preview(text: str, length: int = 60) -> str:
    return Truncator(text.replace("\n", " ")).chars(length)


def phone_column(number: str | None) -> str:
    """`(818) 555-1234` that a narrow changelist column does not break over three lines."""
    return format_us_phone(number).replace(" ", "\u00a0").replace("-", "\u2011")


class NormalizedSearchAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Finds a phone number typed in any US form, and an object by its full id.

    Numbers are stored as E.164 (`+18185551234`), so the default substring search misses
    `(818) 555-1234`; ids are UUIDs, which cannot go in `search_fields` because a term that is
    not a UUID would make the lookup raise.
    """

    phone_search_fields: tuple[str, ...] = ()
    id_search_fields: tuple[str, ...] = ()

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if not term:
            return results, may_have_duplicates
        exact = Q()
        extra_fields: list[str] = []
        if self.phone_search_fields:
            try:
                number = normalize_us_phone(term)
            except ValidationError:
                pass
            else:
                for field in self.phone_search_fields:
                    exact |= Q(**{field: number})
                extra_fields += self.phone_search_fields
        if self.id_search_fields:
            try:
                object_id = uuid.UUID(term)
            except ValueError:
                pass
            else:
                for field in self.id_search_fields:
                    exact |= Q(**{field: object_id})
                extra_fields += self.id_search_fields
        if exact:
            results = results | queryset.filter(exact)
            # A lookup through a reverse relation (patient -> phones) can repeat a row.
            may_have_duplicates = may_have_duplicates or any("__" in f for f in extra_fields)
        return results, may_have_duplicates


class FixedAfterCreationMixin:
    """Fields shown but not editable once the object exists.

    Moving a practice, line or patient to another parent would leave copies of that parent on
    related rows (locations, holidays, channels, phones) pointing at the old one. The fields stay
    on the form as *disabled* fields rather than read-only ones, so that Django still validates
    the unique constraints they take part in (a read-only field would be excluded from them, and
    a duplicate would only surface as an IntegrityError).
    """

    fixed_after_creation: tuple[str, ...] = ()

    def get_form(
        self, request: HttpRequest, obj: Model | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        form: type[forms.ModelForm[Any]] = super().get_form(  # type: ignore[misc]
            request, obj, change=change, **kwargs
        )
        if obj is not None:
            for name in self.fixed_after_creation:
                field = form.base_fields.get(name)
                if field is None:
                    continue
                field.disabled = True
                field.help_text = "Fixed once created."
                if isinstance(field.widget, RelatedFieldWidgetWrapper):
                    field.widget.can_add_related = False
                    field.widget.can_change_related = False
                    field.widget.can_delete_related = False
        return form


def _parent_object_id(request: HttpRequest) -> str | None:
    """The id of the object whose change page an inline is on (None on an add page)."""
    match = request.resolver_match
    return match.kwargs.get("object_id") if match else None


# --- Enterprise -----------------------------------------------------------------------------


# Narrow inputs, so that a holiday fits on one row of an inline table.
HOLIDAY_ROW_WIDGETS = {
    "opens_at": AdminTimeWidget(format="%H:%M"),
    "closes_at": AdminTimeWidget(format="%H:%M"),
    "name": forms.TextInput(attrs={"size": 18}),
    "message": forms.Textarea(attrs={"rows": 3, "cols": 32}),
}


class EnterpriseHolidayInline(ScopedAdminMixin, admin.TabularInline):
    """Holidays of the whole enterprise: no practice, no line."""

    enterprise_path = "enterprise_id"

    model = Holiday
    verbose_name = "enterprise-wide holiday"
    verbose_name_plural = "enterprise-wide holidays"
    fields = ("date", "name", "repeats_yearly", "is_closed", "opens_at", "closes_at", "message")
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[Holiday]:
        return super().get_queryset(request).filter(practice__isnull=True, line__isnull=True)

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name in HOLIDAY_ROW_WIDGETS:
            kwargs["widget"] = HOLIDAY_ROW_WIDGETS[db_field.name]
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class EnterpriseAdminForm(forms.ModelForm):
    class Meta:
        model = Enterprise
        fields = (
            "name",
            "allow_enterprise_patient_access",
            "url_shortening",
            "url_shortening_domains",
        )
        labels = {
            "url_shortening": "URL shortening",
            "url_shortening_domains": "Domains to shorten",
        }
        widgets = {"url_shortening_domains": AdminTextareaWidget(attrs={"rows": 4})}


class EnterpriseAdministratorInline(ScopedAdminMixin, admin.TabularInline):
    """Who administers the enterprise: given by a platform superuser, seen by the enterprise's
    administrators."""

    model = EnterpriseAdministrator
    fields = ("user", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("user",)
    extra = 0
    enterprise_path = "enterprise_id"
    enterprise_admin_can = VIEW_ONLY


@admin.register(Enterprise)
class EnterpriseAdmin(ScopedAdminMixin, admin.ModelAdmin):
    enterprise_path = "id"
    practice_path = "practices__id"  # managers: only to show their practice's enterprise
    enterprise_admin_can = frozenset({"view", "change"})
    ordering = ("name",)
    form = EnterpriseAdminForm
    list_display = ("name", "patient_access", "url_shortening", "practice_count")
    list_filter = ("allow_enterprise_patient_access", "url_shortening")
    search_fields = ("name",)
    fieldsets = (
        (None, {"fields": ("name",)}),
        ("Patients", {"fields": ("allow_enterprise_patient_access",)}),
        ("Links in messages", {"fields": ("url_shortening", "url_shortening_domains")}),
    )
    inlines = (EnterpriseHolidayInline, EnterpriseAdministratorInline)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Enterprise]:
        return super().get_queryset(request).annotate(practice_count=Count("practices"))

    @admin.display(
        description="enterprise-wide patient access",
        boolean=True,
        ordering="allow_enterprise_patient_access",
    )
    def patient_access(self, obj: Enterprise) -> bool:
        return obj.allow_enterprise_patient_access

    @admin.display(description="practices", ordering="practice_count")
    def practice_count(self, obj: Enterprise) -> int:
        return obj.practice_count  # type: ignore[attr-defined]


# --- Practice and its inlines ---------------------------------------------------------------


def timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class PracticeAdminForm(forms.ModelForm):
    # A select rather than free text: an unknown zone would break every hours calculation.
    timezone = forms.ChoiceField(
        choices=timezone_choices,
        initial=Practice._meta.get_field("timezone").default,
        help_text="The practice's local time: its hours and holidays are read in this zone.",
    )

    class Meta:
        model = Practice
        fields = (
            "enterprise",
            "name",
            "kind",
            "timezone",
            "is_one_way",
            "after_hours_enabled",
            "after_hours_message",
        )
        widgets = {"after_hours_message": AdminTextareaWidget(attrs={"rows": 4})}


class PracticeLocationInlineForm(forms.ModelForm):
    class Meta:
        model = PracticeLocation
        fields = ("location_id",)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        # The inline's parent: an unsaved practice on the add page, so read its enterprise
        # from the object rather than from the database.
        practice = cleaned.get("practice")
        location_id = cleaned.get("location_id")
        if practice is None or not practice.enterprise_id:
            return cleaned
        # `enterprise` is not on the form, so Django skips the (enterprise, location_id)
        # constraint; check it here rather than fail on save.
        self.instance.enterprise_id = practice.enterprise_id
        if location_id:
            clash = (
                PracticeLocation.objects.filter(
                    enterprise_id=practice.enterprise_id, location_id=location_id
                )
                .exclude(pk=self.instance.pk)
                .select_related("practice")
                .first()
            )
            if clash is not None:
                self.add_error(
                    "location_id",
                    f"Location id {location_id} already maps to {clash.practice} in this "
                    "enterprise.",
                )
        return cleaned


class PracticeLocationFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        seen: set[str] = set()
        for form in self.forms:
            if form.cleaned_data.get("DELETE"):
                continue
            location_id = form.cleaned_data.get("location_id")
            if location_id in seen:
                form.add_error("location_id", "This location id is listed twice.")
            elif location_id:
                seen.add(location_id)


class PracticeLocationInline(ScopedAdminMixin, admin.TabularInline):
    enterprise_path = "practice__enterprise_id"
    model = PracticeLocation
    form = PracticeLocationInlineForm
    formset = PracticeLocationFormSet
    extra = 0
    verbose_name_plural = "EMR location ids"


class LineInlineFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        # The one-default-per-practice constraint is on `practice`, which an inline form does
        # not validate; every line of the practice is in this formset, so count here.
        defaults = [
            form
            for form in self.forms
            if form.cleaned_data.get("is_default") and not form.cleaned_data.get("DELETE")
        ]
        if len(defaults) > 1:
            for form in defaults[1:]:
                form.add_error("is_default", "This practice already has a default line.")


class LineInline(ScopedAdminMixin, admin.TabularInline):
    enterprise_path = "practice__enterprise_id"
    practice_path = "practice_id"
    manager_can = VIEW_ONLY
    model = Line
    formset = LineInlineFormSet
    fields = ("name", "phone_number", "forwarding_number", "is_default", "send_rate", "is_active")
    extra = 0
    show_change_link = True

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # Narrower inputs, so that a line fits on one row of the table.
        if db_field.name in {"phone_number", "forwarding_number"}:
            kwargs["widget"] = forms.TextInput(attrs={"size": 15})
        elif db_field.name == "send_rate":
            kwargs["widget"] = forms.NumberInput(attrs={"class": "vIntegerField"})
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class PracticeHoursInline(ScopedAdminMixin, admin.TabularInline):
    enterprise_path = "practice__enterprise_id"
    practice_path = "practice_id"
    manager_can = ALL_ACTIONS
    model = PracticeHours
    extra = 0
    formfield_overrides = {models.TimeField: {"widget": AdminTimeWidget(format="%H:%M")}}


class PracticeHolidayInlineForm(forms.ModelForm):
    class Meta:
        model = Holiday
        fields = (
            "date",
            "name",
            "repeats_yearly",
            "line",
            "is_closed",
            "opens_at",
            "closes_at",
            "message",
        )
        widgets = HOLIDAY_ROW_WIDGETS

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        # The holiday's enterprise is always the practice's: set it before the model's clean()
        # compares them, so an admin never has to pick it.
        practice = cleaned.get("practice")
        if practice is not None:
            self.instance.enterprise_id = practice.enterprise_id
        return cleaned


class PracticeHolidayInline(ScopedAdminMixin, admin.TabularInline):
    """Holidays of this practice, and of its lines (pick a line for a line-level one)."""

    enterprise_path = "practice__enterprise_id"
    practice_path = "practice_id"
    manager_can = ALL_ACTIONS
    model = Holiday
    form = PracticeHolidayInlineForm
    extra = 0
    verbose_name = "practice or line holiday"
    verbose_name_plural = "practice and line holidays"

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        if db_field.name == "line":
            practice_id = _parent_object_id(request)
            kwargs["queryset"] = (
                Line.objects.filter(practice_id=practice_id) if practice_id else Line.objects.none()
            )
            kwargs["help_text"] = "Blank for the whole practice."
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class AfterHoursTranslationInline(ScopedAdminMixin, admin.TabularInline):
    enterprise_path = "practice__enterprise_id"
    practice_path = "practice_id"
    manager_can = ALL_ACTIONS
    model = AfterHoursTranslation
    extra = 0

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "message":
            kwargs["widget"] = forms.Textarea(attrs={"rows": 3, "cols": 60})
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class QuickResponseInline(ScopedAdminMixin, admin.TabularInline):
    enterprise_path = "practice__enterprise_id"
    practice_path = "practice_id"
    manager_can = ALL_ACTIONS
    model = QuickResponse
    fields = ("topic", "text", "language", "position")
    extra = 0

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "text":
            kwargs["widget"] = forms.Textarea(attrs={"rows": 2, "cols": 60})
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class PracticeMembershipInline(ScopedAdminMixin, admin.TabularInline):
    enterprise_path = "practice__enterprise_id"
    practice_path = "practice_id"
    manager_can = ALL_ACTIONS
    model = Membership
    fields = ("user", "role")
    autocomplete_fields = ("user",)
    extra = 0
    verbose_name = "member"
    verbose_name_plural = "members"


@admin.register(Practice)
class PracticeAdmin(FixedAfterCreationMixin, ScopedAdminMixin, admin.ModelAdmin):
    """A manager changes only the after-hours settings here (and, in the inlines, the hours,
    holidays, translations, quick responses and members); the rest is shown read-only."""

    form = PracticeAdminForm
    enterprise_path = "enterprise_id"
    practice_path = "id"
    manager_can = frozenset({"view", "change"})
    list_display = (
        "name",
        "enterprise",
        "kind",
        "timezone",
        "is_one_way",
        "after_hours_enabled",
        "open_now",
    )
    list_filter = ("enterprise", "kind", "is_one_way", "after_hours_enabled")
    list_select_related = ("enterprise",)
    search_fields = ("name", "enterprise__name", "locations__location_id")
    autocomplete_fields = ("enterprise",)
    fixed_after_creation = ("enterprise",)
    fieldsets = (
        (None, {"fields": ("enterprise", "name", "kind", "timezone", "is_one_way")}),
        ("After hours", {"fields": ("after_hours_enabled", "after_hours_message")}),
        ("Quiet hours", {"fields": ("quiet_hours", "quiet_hours_skip_holidays")}),
    )
    inlines = (
        PracticeLocationInline,
        LineInline,
        PracticeHoursInline,
        PracticeHolidayInline,
        AfterHoursTranslationInline,
        QuickResponseInline,
        PracticeMembershipInline,
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Practice]:
        return super().get_queryset(request).prefetch_related("hours")

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return _PracticeChangeList

    @admin.display(description="open now?", boolean=True)
    def open_now(self, obj: Practice) -> bool | None:
        return getattr(obj, "is_open_now", None)

    def get_readonly_fields(self, request: HttpRequest, obj: Practice | None = None) -> Any:
        if admin_role(request).kind == "manager":
            return ("enterprise", "name", "kind", "timezone", "is_one_way")
        return super().get_readonly_fields(request, obj)


class _PracticeChangeList(ChangeList):
    """Marks whether each practice on the page is open right now, from its hours and holidays,
    with one query for the page's holidays."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        practices = list(self.result_list)
        open_now = practices_open_at(practices=practices, at=timezone.now())
        for practice in practices:
            practice.is_open_now = open_now[practice.pk]
        self.result_list = practices


# --- Line -----------------------------------------------------------------------------------


@admin.register(Line)
class LineAdmin(FixedAfterCreationMixin, NormalizedSearchAdmin):
    enterprise_path = "practice__enterprise_id"
    practice_path = "practice_id"  # managers: only to pick a line for a holiday
    list_display = ("phone", "name", "practice", "is_default", "rate", "is_active")
    list_filter = (("practice__enterprise", admin.RelatedOnlyFieldListFilter), "is_active")
    list_select_related = ("practice",)
    search_fields = ("name", "phone_number")
    phone_search_fields = ("phone_number", "forwarding_number")
    autocomplete_fields = ("practice",)
    fixed_after_creation = ("practice",)
    fields = (
        "practice",
        "name",
        "phone_number",
        "forwarding_number",
        "is_default",
        "send_rate",
        "is_active",
    )

    @admin.display(description="phone number", ordering="phone_number")
    def phone(self, obj: Line) -> str:
        return phone_column(obj.phone_number)

    @admin.display(description="messages/second", ordering="send_rate")
    def rate(self, obj: Line) -> Decimal:
        return obj.send_rate


# --- Holiday --------------------------------------------------------------------------------


class HolidayLevelFilter(admin.SimpleListFilter):
    title = "level"
    parameter_name = "level"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("enterprise", "Enterprise"), ("practice", "Practice"), ("line", "Line")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Holiday]) -> QuerySet[Holiday]:
        if self.value() == "enterprise":
            return queryset.filter(practice__isnull=True, line__isnull=True)
        if self.value() == "practice":
            return queryset.filter(practice__isnull=False, line__isnull=True)
        if self.value() == "line":
            return queryset.filter(line__isnull=False)
        return queryset


class HolidayAdminForm(forms.ModelForm):
    class Meta:
        model = Holiday
        fields = (
            "date",
            "name",
            "repeats_yearly",
            "enterprise",
            "practice",
            "line",
            "is_closed",
            "opens_at",
            "closes_at",
            "message",
        )
        help_texts = {
            "enterprise": "Blank: the practice's enterprise.",
            "practice": "Blank for an enterprise-wide holiday. Blank with a line: the line's.",
            "line": "Blank for the whole practice (or enterprise).",
        }
        widgets = {
            "message": AdminTextareaWidget(attrs={"rows": 3}),
            "opens_at": AdminTimeWidget(format="%H:%M"),
            "closes_at": AdminTimeWidget(format="%H:%M"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Filled in from the practice (or line) when left blank; see clean().
        self.fields["enterprise"].required = False

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        line = cleaned.get("line")
        practice = cleaned.get("practice")
        if line is not None and practice is None and "practice" not in self.errors:
            cleaned["practice"] = practice = line.practice
        if cleaned.get("enterprise") is None and "enterprise" not in self.errors:
            if practice is not None:
                cleaned["enterprise"] = practice.enterprise
            else:
                self.add_error("enterprise", "Pick the enterprise, or a practice to take it from.")
        return cleaned


@admin.register(Holiday)
class HolidayAdmin(ScopedAdminMixin, admin.ModelAdmin):
    form = HolidayAdminForm
    enterprise_path = "enterprise_id"
    practice_path = "practice_id"
    manager_can = ALL_ACTIONS
    list_display = (
        "date",
        "name",
        "repeats_yearly",
        "level",
        "enterprise",
        "practice",
        "line",
        "is_closed",
    )
    list_filter = (HolidayLevelFilter, "repeats_yearly", "enterprise", "is_closed", "date")
    list_select_related = ("enterprise", "practice", "line")
    search_fields = ("name", "practice__name", "enterprise__name")
    date_hierarchy = "date"
    autocomplete_fields = ("enterprise", "practice", "line")
    fieldsets = (
        (None, {"fields": ("date", "name", "repeats_yearly")}),
        ("Applies to", {"fields": ("enterprise", "practice", "line")}),
        ("Opening", {"fields": ("is_closed", "opens_at", "closes_at", "message")}),
    )

    @admin.display(description="level")
    def level(self, obj: Holiday) -> str:
        return obj.level.capitalize()

    def get_form(
        self, request: HttpRequest, obj: Holiday | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if admin_role(request).kind == "manager":
            # A manager's holidays are their practice's (or its lines'), never the enterprise's.
            form.base_fields["practice"].required = True
        return form


# --- People ---------------------------------------------------------------------------------


@admin.register(Membership)
class MembershipAdmin(ScopedAdminMixin, admin.ModelAdmin):
    enterprise_path = "practice__enterprise_id"
    practice_path = "practice_id"
    manager_can = ALL_ACTIONS
    list_display = ("user", "practice", "role", "created_at")
    list_filter = ("role", ("practice__enterprise", admin.RelatedOnlyFieldListFilter), "practice")
    list_select_related = ("user", "practice")
    search_fields = ("user__username", "user__first_name", "user__last_name", "practice__name")
    autocomplete_fields = ("user", "practice")


class UserMembershipInline(ScopedAdminMixin, admin.TabularInline):
    enterprise_path = "practice__enterprise_id"
    practice_path = "practice_id"
    manager_can = ALL_ACTIONS
    model = Membership
    fields = ("practice", "role")
    autocomplete_fields = ("practice",)
    extra = 0
    verbose_name = "practice role"
    verbose_name_plural = "practice roles"

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        if obj is None and admin_role(request).is_scoped:
            # Someone an administrator adds must work somewhere they administer (otherwise the
            # new user would not even be visible to them).
            kwargs.update(min_num=1, validate_min=True)
        return super().get_formset(request, obj, **kwargs)


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(ScopedAdminMixin, DjangoUserAdmin):
    """An enterprise administrator sees the people of their practices (never a platform
    superuser), adds people with a practice role, and changes those who work only in their
    enterprise; a manager sees the people of their enterprise's practices, to add them as
    members. Neither sees or grants superuser status, groups or model permissions."""

    inlines = (UserMembershipInline,)
    enterprise_path = "memberships__practice__enterprise_id"
    practice_path = "memberships__practice_id"
    enterprise_admin_can = frozenset({"view", "add", "change"})
    manager_can = VIEW_ONLY

    def enterprise_q(self, enterprise_id: Any) -> Q:
        works_here = Q(memberships__practice__enterprise_id=enterprise_id) | Q(
            enterprise_administrator__enterprise_id=enterprise_id
        )
        return works_here & Q(is_superuser=False)

    def practice_q(self, practice_ids: frozenset[Any]) -> Q:
        enterprise_ids = Practice.objects.filter(pk__in=practice_ids).values("enterprise_id")
        return Q(memberships__practice__enterprise_id__in=enterprise_ids, is_superuser=False)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        enterprise_id = admin_role(request).enterprise_id
        if obj is None or enterprise_id is None:
            return True
        # Someone who also works for another enterprise is changed by a platform superuser.
        return (
            not Membership.objects.filter(user_id=obj.pk)
            .exclude(practice__enterprise_id=enterprise_id)
            .exists()
            and not EnterpriseAdministrator.objects.filter(user_id=obj.pk)
            .exclude(enterprise_id=enterprise_id)
            .exists()
        )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if not admin_role(request).is_scoped:
            return fieldsets
        hidden = {"is_superuser", "groups", "user_permissions"}
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f not in hidden]})
            for name, options in fieldsets
        ]

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = super().get_list_filter(request)
        if admin_role(request).is_scoped:
            return [f for f in filters if f not in {"is_superuser", "groups"}]
        return filters


# --- Canned text ----------------------------------------------------------------------------


@admin.register(QuickResponse)
class QuickResponseAdmin(ScopedAdminMixin, admin.ModelAdmin):
    enterprise_path = "practice__enterprise_id"
    practice_path = "practice_id"
    manager_can = ALL_ACTIONS
    list_display = ("topic", "preview", "practice", "language", "position", "is_unsecured")
    list_filter = ("practice", "language", "topic")
    list_select_related = ("practice",)
    search_fields = ("text", "topic")
    autocomplete_fields = ("practice",)
    fields = ("practice", "topic", "text", "language", "position")

    @admin.display(description="text")
    def preview(self, obj: QuickResponse) -> str:
        return text_preview(obj.text)

    @admin.display(description="unsecured (!!)", boolean=True)
    def is_unsecured(self, obj: QuickResponse) -> bool:
        return obj.is_unsecured


class SmartPhraseKindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("general", "General"), ("owned", "A staff member's own")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[SmartPhrase]
    ) -> QuerySet[SmartPhrase]:
        if self.value() == "general":
            return queryset.filter(owner__isnull=True)
        if self.value() == "owned":
            return queryset.filter(owner__isnull=False)
        return queryset


@admin.register(SmartPhrase)
class SmartPhraseAdmin(ScopedAdminMixin, admin.ModelAdmin):
    enterprise_path = "enterprise_id"
    list_display = ("token", "enterprise", "owner", "preview", "updated_at")
    list_filter = (SmartPhraseKindFilter, "enterprise")
    list_select_related = ("enterprise", "owner")
    search_fields = ("name", "text")
    autocomplete_fields = ("enterprise", "owner")
    fields = ("enterprise", "owner", "name", "text")

    @admin.display(description="phrase", ordering="name")
    def token(self, obj: SmartPhrase) -> str:
        return str(obj)

    @admin.display(description="text")
    def preview(self, obj: SmartPhrase) -> str:
        return text_preview(obj.text)
