"""Admin for integrator credentials: API clients, SMAPI keys and call-to-text workflows.

Each of these is made by a service that generates a secret, stores only its hash (or, for the
OAuth client secret, DOT's salted hash) and hands the secret back once. The add pages call those
services and show the secret in a message on the next page; nothing can show it again.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminTextareaWidget
from django.db import models
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from oauth2_provider.models import Application

from practices.models import Line

from .models import API_SCOPES, ApiClient, CallToTextWorkflow, IdempotencyKey, SmapiKey
from .services import (
    api_client_create,
    call_to_text_url,
    call_to_text_workflow_create,
    smapi_key_create,
)

# DOT's Application.name, which api_client_create fills with "<enterprise>: <name>".
_APPLICATION_NAME_MAX_LENGTH = Application._meta.get_field("name").max_length or 255


def _adopt(target: Model, created: Model) -> None:
    """Make the admin's own (unsaved) form instance stand for the row a service created, so the
    admin's history entry and redirect point at that row."""
    for field in created._meta.concrete_fields:
        setattr(target, field.attname, getattr(created, field.attname))
    target._state.adding = False
    target._state.db = created._state.db


def _https_by_default(db_field: Any, **kwargs: Any) -> Any:
    # A webhook URL typed without a scheme is meant as https (Django 6's default too).
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


class ScopesField(forms.MultipleChoiceField):
    """The space-separated `ApiClient.scopes` as one checkbox per known scope."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("choices", [(s, f"{s} — {d}") for s, d in API_SCOPES.items()])
        kwargs.setdefault("help_text", "The scopes this client may request.")
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        chosen = super().clean(value)
        return " ".join(scope for scope in API_SCOPES if scope in chosen)


class ApiClientFormBase(forms.ModelForm):
    scopes = ScopesField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "scopes" in self.fields and not self.is_bound:
            self.initial["scopes"] = self.instance.scope_list


class ApiClientAddForm(ApiClientFormBase):
    class Meta:
        model = ApiClient
        fields = ("enterprise", "name", "scopes", "allowed_ips", "webhook_url")
        widgets = {"allowed_ips": AdminTextareaWidget(attrs={"rows": 3})}
        formfield_callback = _https_by_default

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        enterprise, name = cleaned.get("enterprise"), cleaned.get("name")
        if enterprise is not None and name:
            room = _APPLICATION_NAME_MAX_LENGTH - len(f"{enterprise.name}: ")
            if len(name) > room:
                self.add_error(
                    "name", f"With this enterprise's name, the name can be at most {room} long."
                )
        return cleaned


class ApiClientChangeForm(ApiClientFormBase):
    class Meta:
        model = ApiClient
        fields = ("name", "scopes", "allowed_ips", "webhook_url", "is_active")
        widgets = {"allowed_ips": AdminTextareaWidget(attrs={"rows": 3})}
        formfield_callback = _https_by_default


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ("name", "enterprise", "client_id", "scopes", "is_active", "created_at")
    list_filter = ("is_active", "enterprise")
    list_select_related = ("enterprise", "application")
    search_fields = ("name", "application__client_id", "enterprise__name")
    autocomplete_fields = ("enterprise",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    add_fieldsets = ((None, {"fields": ApiClientAddForm.Meta.fields}),)
    fieldsets = (
        (None, {"fields": ("enterprise", "name", "client_id", "scopes", "is_active")}),
        ("Network and webhooks", {"fields": ("allowed_ips", "webhook_url")}),
        (None, {"fields": ("created_at",)}),
    )

    def get_fieldsets(self, request: HttpRequest, obj: ApiClient | None = None) -> Any:
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: ApiClient | None = None) -> Any:
        return () if obj is None else ("enterprise", "client_id", "created_at")

    def get_form(
        self,
        request: HttpRequest,
        obj: ApiClient | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> Any:
        kwargs["form"] = ApiClientAddForm if obj is None else ApiClientChangeForm
        return super().get_form(request, obj, change=change, **kwargs)

    @admin.display(description="client id", ordering="application__client_id")
    def client_id(self, obj: ApiClient) -> str:
        return obj.application.client_id if obj.application_id else "—"

    def save_model(self, request: HttpRequest, obj: ApiClient, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        credentials = api_client_create(
            enterprise=data["enterprise"],
            name=data["name"],
            scopes=data["scopes"].split(),
            webhook_url=data["webhook_url"],
            allowed_ips=data["allowed_ips"],
        )
        api_client = credentials.api_client
        _adopt(obj, api_client)
        messages.success(
            request,
            format_html(
                "Copy these credentials now: the client secret and the webhook signing secret "
                "cannot be shown again.<br>Client ID: <code>{}</code><br>Client secret: "
                "<code>{}</code><br>Webhook signing secret: <code>{}</code>",
                credentials.client_id,
                credentials.client_secret,
                credentials.webhook_secret,
            ),
        )

    def delete_model(self, request: HttpRequest, obj: ApiClient) -> None:
        # The OAuth application is what authenticates: deleting it (which deletes the client
        # through the cascade) makes sure the credentials stop working.
        obj.application.delete()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        Application.objects.filter(api_client__in=queryset).delete()


@admin.register(SmapiKey)
class SmapiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "key_prefix", "enterprise", "is_active", "last_used_at", "created_at")
    list_filter = ("is_active", "enterprise")
    list_select_related = ("enterprise",)
    search_fields = ("name", "key_prefix", "enterprise__name")
    autocomplete_fields = ("enterprise",)

    def get_fields(self, request: HttpRequest, obj: SmapiKey | None = None) -> Any:
        if obj is None:
            return ("enterprise", "name")
        return ("enterprise", "name", "key_prefix", "is_active", "last_used_at", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: SmapiKey | None = None) -> Any:
        if obj is None:
            return ()
        return ("enterprise", "key_prefix", "last_used_at", "created_at")

    def save_model(self, request: HttpRequest, obj: SmapiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        row, key = smapi_key_create(
            enterprise=form.cleaned_data["enterprise"], name=form.cleaned_data["name"]
        )
        _adopt(obj, row)
        messages.success(
            request,
            format_html(
                "Copy this key now: it cannot be shown again.<br>SMAPI key: <code>{}</code>", key
            ),
        )


class CallToTextWorkflowAddForm(forms.ModelForm):
    class Meta:
        model = CallToTextWorkflow
        fields = ("practice", "line", "kind", "language", "message", "name", "allowed_ips")
        help_texts = {
            "line": "The line the text comes from. Blank: the practice's default line.",
            "message": "What the caller is texted (at most 255 characters).",
            "name": "Optional, to tell workflows apart.",
        }
        widgets = {
            "message": AdminTextareaWidget(attrs={"rows": 3}),
            "allowed_ips": AdminTextareaWidget(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["line"].required = False

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        practice = cleaned.get("practice")
        if practice is not None and cleaned.get("line") is None and "line" not in self.errors:
            line = practice.lines.filter(is_default=True).first() or practice.lines.first()
            if line is None:
                self.add_error("line", "This practice has no line to text from; add one first.")
            else:
                cleaned["line"] = line
        return cleaned


class CallToTextWorkflowChangeForm(forms.ModelForm):
    class Meta:
        model = CallToTextWorkflow
        fields = ("name", "kind", "line", "language", "message", "allowed_ips", "is_active")
        widgets = CallToTextWorkflowAddForm.Meta.widgets

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        line_field = self.fields.get("line")
        if isinstance(line_field, forms.ModelChoiceField) and self.instance.practice_id:
            line_field.queryset = Line.objects.filter(practice_id=self.instance.practice_id)


@admin.register(CallToTextWorkflow)
class CallToTextWorkflowAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "practice",
        "kind",
        "language",
        "line",
        "is_active",
        "token_prefix",
    )
    list_filter = ("kind", "language", "is_active", "practice")
    list_select_related = ("practice", "line")
    search_fields = ("name", "practice__name", "token_prefix")
    autocomplete_fields = ("practice", "line")

    def get_fields(self, request: HttpRequest, obj: CallToTextWorkflow | None = None) -> Any:
        if obj is None:
            return CallToTextWorkflowAddForm.Meta.fields
        return ("practice", "token_prefix", *CallToTextWorkflowChangeForm.Meta.fields, "created_at")

    def get_readonly_fields(
        self, request: HttpRequest, obj: CallToTextWorkflow | None = None
    ) -> Any:
        return () if obj is None else ("practice", "token_prefix", "created_at")

    def get_form(
        self,
        request: HttpRequest,
        obj: CallToTextWorkflow | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> Any:
        kwargs["form"] = CallToTextWorkflowAddForm if obj is None else CallToTextWorkflowChangeForm
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(
        self, request: HttpRequest, obj: CallToTextWorkflow, form: Any, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        workflow, token = call_to_text_workflow_create(
            practice=data["practice"],
            line=data["line"],
            kind=data["kind"],
            language=data["language"],
            message=data["message"],
            name=data["name"],
            allowed_ips=data["allowed_ips"],
        )
        _adopt(obj, workflow)
        url = settings.PUBLIC_BASE_URL + call_to_text_url(token)
        messages.success(
            request,
            format_html(
                "Copy this URL now: it holds a secret token and cannot be shown again.<br>"
                "Give it to the phone system: <code>{}</code>",
                url,
            ),
        )


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    """Read-only: what a client's retries were answered with (support can see whether a retry
    was a replay). Rows are made by the API and purged after a day."""

    list_display = ("key", "api_client", "response_status", "message_id", "created_at")
    list_filter = ("response_status", "api_client__enterprise")
    list_select_related = ("api_client",)
    search_fields = ("key", "api_client__name", "api_client__application__client_id")
    date_hierarchy = "created_at"
    fields = (
        "api_client",
        "key",
        "request_fingerprint",
        "response_status",
        "response_body",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description="message")
    def message_id(self, obj: IdempotencyKey) -> str:
        body = obj.response_body if isinstance(obj.response_body, dict) else {}
        return str(body.get("id") or "—")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
