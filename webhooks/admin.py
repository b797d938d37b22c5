"""Admin for integrator credentials: API clients, SMAPI keys and call-to-text workflows.

Each of these is made by a service that generates a secret, stores only its hash (or, for the
OAuth client secret, DOT's salted hash) and hands the secret back once. The add pages call those
services and show the secret in a message on the next page; nothing can show it again.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import AdminTextareaWidget
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Model, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from oauth2_provider.models import Application

from artera.phones import format_us_phone
from practices.admin_scope import VIEW_ONLY, ScopedAdminMixin
from practices.models import Line

from .delivery import (
    WebhookTestRefused,
    api_client_webhook_secret_rotate,
    webhook_delivery_redeliver,
    webhook_endpoint_disable,
    webhook_endpoint_enable,
    webhook_test_send,
)
from .models import (
    API_SCOPES,
    CALL_TO_TEXT_MESSAGE_MAX_LENGTH,
    ApiClient,
    CallToTextWorkflow,
    IdempotencyKey,
    SmapiKey,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from .services import (
    api_client_create,
    api_client_secret_rotate,
    call_to_text_token_regenerate,
    call_to_text_url,
    call_to_text_workflow_create,
    smapi_key_create,
)
from .ssrf import UnsafeWebhookUrl, webhook_url_check

# The workflow's change page lists its latest calls (all of them are in the database).
RECENT_CALLS_SHOWN = 20

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


_URL_REASONS_THAT_MAY_PASS = frozenset(
    {UnsafeWebhookUrl.DNS_UNAVAILABLE, UnsafeWebhookUrl.UNRESOLVABLE}
)


class ObjectActionsMixin:
    """Buttons on an object's change page that run one of the admin's actions on that object
    alone: a POST (CSRF-checked) to `<id>/run/<action>/`, with the action's own permissions.
    The object is looked up through the admin's (scoped) queryset, so another tenant's object
    is a 404, as an unknown one is."""

    # action name -> the button's label
    object_actions: dict[str, str] = {}
    change_form_template: ClassVar[Any] = "admin/webhooks/object_actions_change_form.html"

    def get_urls(self) -> list[Any]:
        opts = self.model._meta  # type: ignore[attr-defined]
        run = path(
            "<path:object_id>/run/<str:action>/",
            self.admin_site.admin_view(self.object_action_view),  # type: ignore[attr-defined]
            name=f"{opts.app_label}_{opts.model_name}_object_action",
        )
        return [run, *super().get_urls()]  # type: ignore[misc]

    def _allowed(self, request: HttpRequest, action: str, obj: Model | None) -> Any:
        found = self.get_action(action) if action in self.object_actions else None  # type: ignore[attr-defined]
        if found is None:
            return None
        func = found[0]
        for permission in getattr(func, "allowed_permissions", ("view",)):
            if not getattr(self, f"has_{permission}_permission")(request, obj):
                return None
        return found

    def object_action_view(self, request: HttpRequest, object_id: str, action: str) -> Any:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        if obj is None or action not in self.object_actions:
            raise Http404
        found = self._allowed(request, action, obj)
        if found is None:
            raise PermissionDenied
        func = found[0]
        func(self, request, self.get_queryset(request).filter(pk=obj.pk))  # type: ignore[attr-defined]
        opts = self.model._meta  # type: ignore[attr-defined]
        return HttpResponseRedirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        opts = self.model._meta  # type: ignore[attr-defined]
        buttons = []
        for action in self.object_actions:
            found = self._allowed(request, action, None)
            if found is not None:
                url = reverse(
                    f"admin:{opts.app_label}_{opts.model_name}_object_action",
                    args=[object_id, action],
                )
                buttons.append((url, self.object_actions[action]))
        extra_context = {**(extra_context or {}), "object_actions": buttons}
        return super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]


class ApiClientFormBase(forms.ModelForm):
    scopes = ScopesField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "scopes" in self.fields and not self.is_bound:
            self.initial["scopes"] = self.instance.scope_list

    def clean_webhook_url(self) -> str:
        # Refused here, when it is given, as well as before every delivery (webhooks/ssrf.py).
        # A name that does not resolve yet is let through: the sender checks again each time.
        url: str = self.cleaned_data.get("webhook_url") or ""
        if url:
            try:
                webhook_url_check(url)
            except UnsafeWebhookUrl as exc:
                if exc.reason not in _URL_REASONS_THAT_MAY_PASS:
                    raise forms.ValidationError(exc.message, code=exc.reason) from exc
        return url


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
        fields = ("name", "scopes", "allowed_ips", "webhook_url", "is_active", "quiet_hours")
        widgets = {"allowed_ips": AdminTextareaWidget(attrs={"rows": 3})}
        formfield_callback = _https_by_default


@admin.register(ApiClient)
class ApiClientAdmin(ObjectActionsMixin, ScopedAdminMixin, admin.ModelAdmin):
    enterprise_path = "enterprise_id"
    list_display = ("name", "enterprise", "client_id", "scopes", "is_active", "created_at")
    list_filter = ("is_active", "enterprise")
    list_select_related = ("enterprise", "application")
    search_fields = ("name", "application__client_id", "enterprise__name")
    autocomplete_fields = ("enterprise",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ["rotate_client_secret", "rotate_webhook_secret", "send_test_webhook"]
    object_actions = {
        "send_test_webhook": "Send a test webhook",
        "rotate_client_secret": "Rotate the client secret",
        "rotate_webhook_secret": "Rotate the signing secret",
    }
    add_fieldsets = ((None, {"fields": ApiClientAddForm.Meta.fields}),)
    fieldsets = (
        (None, {"fields": ("enterprise", "name", "client_id", "scopes", "is_active")}),
        ("Network and webhooks", {"fields": ("allowed_ips", "webhook_url")}),
        ("Quiet hours", {"fields": ("quiet_hours",)}),
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

    @admin.action(
        description="Rotate the client secret (shows the new one once; the old one and its "
        "tokens stop working)",
        permissions=["change"],
    )
    def rotate_client_secret(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        for api_client in queryset.select_related("application"):
            secret = api_client_secret_rotate(api_client=api_client)
            self.log_change(request, api_client, "Rotated the client secret.")
            messages.success(
                request,
                format_html(
                    "{}: copy the new client secret now, it cannot be shown again. The old "
                    "secret and the access tokens issued with it no longer work.<br>"
                    "Client ID: <code>{}</code><br>Client secret: <code>{}</code>",
                    api_client.name,
                    api_client.application.client_id,
                    secret,
                ),
            )

    @admin.action(
        description="Send a test webhook to the default webhook URL", permissions=["change"]
    )
    def send_test_webhook(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        for api_client in queryset:
            try:
                delivery = webhook_test_send(api_client=api_client)
            except WebhookTestRefused as exc:
                messages.error(request, f"{api_client.name}: {exc.message}")
                continue
            self.log_change(request, api_client, "Sent a test webhook.")
            url = reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])
            messages.success(
                request,
                format_html(
                    '{}: test webhook queued. <a href="{}">See its attempts</a>.',
                    api_client.name,
                    url,
                ),
            )

    @admin.action(
        description="Rotate the webhook signing secret (shows the new one once)",
        permissions=["change"],
    )
    def rotate_webhook_secret(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        for api_client in queryset:
            secret = api_client_webhook_secret_rotate(api_client=api_client)
            self.log_change(request, api_client, "Rotated the webhook signing secret.")
            expires = api_client.previous_webhook_secret_expires_at
            messages.success(
                request,
                format_html(
                    "{}: copy the new webhook signing secret now, it cannot be shown again: "
                    "<code>{}</code><br>Until {} webhooks are signed with both the old and the "
                    "new secret.",
                    api_client.name,
                    secret,
                    f"{expires:%Y-%m-%d %H:%M} UTC" if expires else "now",
                ),
            )

    def delete_model(self, request: HttpRequest, obj: ApiClient) -> None:
        # The OAuth application is what authenticates: deleting it (which deletes the client
        # through the cascade) makes sure the credentials stop working.
        obj.application.delete()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        Application.objects.filter(api_client__in=queryset).delete()


@admin.register(SmapiKey)
class SmapiKeyAdmin(ScopedAdminMixin, admin.ModelAdmin):
    enterprise_path = "enterprise_id"
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


class CharCounterTextarea(AdminTextareaWidget):
    """A textarea with a live "n / max characters" counter under it (static/webhooks/
    char_counter.js; no inline script, the CSP forbids them). The server's validation stays the
    rule; the counter only warns while typing."""

    def __init__(self, *, max_length: int, rows: int = 3) -> None:
        super().__init__(attrs={"rows": rows, "data-char-counter": str(max_length)})

    class Media:
        js = ("webhooks/char_counter.js",)
        css = {"all": ("webhooks/char_counter.css",)}


def _message_widget() -> CharCounterTextarea:
    return CharCounterTextarea(max_length=CALL_TO_TEXT_MESSAGE_MAX_LENGTH)


class LineByPracticeSelect(forms.Select):
    """The "Line" select of a workflow's add page: each option names its practice, and
    static/webhooks/line_by_practice.js shows only the lines of the practice picked in
    `practice_field`. The choices themselves are the user's scoped lines (the server refuses a
    line of another practice on save, with or without the script)."""

    def __init__(self, *, practice_field: str = "practice") -> None:
        super().__init__(attrs={"data-practice-field": practice_field})

    def create_option(
        self,
        name: str,
        value: Any,
        label: Any,
        selected: Any,
        index: int,
        subindex: int | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        option: dict[str, Any] = super().create_option(
            name, value, label, selected, index, subindex=subindex, attrs=attrs
        )
        instance = getattr(value, "instance", None)
        if isinstance(instance, Line):
            option["attrs"]["data-practice"] = str(instance.practice_id)
        return option

    class Media:
        js = ("webhooks/line_by_practice.js",)


class CallToTextWorkflowFormBase(forms.ModelForm):
    def _text(self, name: str) -> str:
        # Browsers send line breaks as CRLF; count (and store) them as one character, as the
        # counter does.
        return str(self.cleaned_data.get(name) or "").replace("\r\n", "\n")

    def clean_message(self) -> str:
        return self._text("message")

    def clean_after_hours_message(self) -> str:
        return self._text("after_hours_message")


class CallToTextWorkflowAddForm(CallToTextWorkflowFormBase):
    class Meta:
        model = CallToTextWorkflow
        fields = (
            "practice",
            "line",
            "kind",
            "language",
            "message",
            "after_hours_message",
            "name",
            "allowed_ips",
        )
        help_texts = {
            "line": "The line the text comes from. Blank: the practice's default line.",
            "name": "Optional, to tell workflows apart.",
            "language": "The language of the message. One workflow (and URL) per language: "
            "the phone system picks the URL after the caller picks a language.",
        }
        widgets = {
            "line": LineByPracticeSelect(),
            "message": _message_widget(),
            "after_hours_message": _message_widget(),
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


class CallToTextWorkflowChangeForm(CallToTextWorkflowFormBase):
    class Meta:
        model = CallToTextWorkflow
        fields = (
            "name",
            "kind",
            "line",
            "language",
            "message",
            "after_hours_message",
            "allowed_ips",
            "is_active",
        )
        help_texts = CallToTextWorkflowAddForm.Meta.help_texts
        widgets = {
            name: widget
            for name, widget in CallToTextWorkflowAddForm.Meta.widgets.items()
            if name != "line"
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        line_field = self.fields.get("line")
        if isinstance(line_field, forms.ModelChoiceField) and self.instance.practice_id:
            line_field.queryset = Line.objects.filter(practice_id=self.instance.practice_id)


def _show_url_once(request: HttpRequest, workflow: CallToTextWorkflow, token: str) -> None:
    url = settings.PUBLIC_BASE_URL + call_to_text_url(token)
    messages.success(
        request,
        format_html(
            "Copy this URL now: it holds a secret token and cannot be shown again.<br>"
            "Give it to the phone system ({}): <code>{}</code>",
            workflow,
            url,
        ),
    )


@admin.register(CallToTextWorkflow)
class CallToTextWorkflowAdmin(ScopedAdminMixin, admin.ModelAdmin):
    enterprise_path = "practice__enterprise_id"
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
    # "line" is a plain select: on the add page it shows only the picked practice's lines
    # (LineByPracticeSelect), on the change page only the workflow's practice's.
    autocomplete_fields = ("practice",)
    actions = ["regenerate_token"]

    def get_fields(self, request: HttpRequest, obj: CallToTextWorkflow | None = None) -> Any:
        if obj is None:
            return CallToTextWorkflowAddForm.Meta.fields
        return (
            "practice",
            "token_prefix",
            *CallToTextWorkflowChangeForm.Meta.fields,
            "created_at",
            "recent_calls",
        )

    def get_readonly_fields(
        self, request: HttpRequest, obj: CallToTextWorkflow | None = None
    ) -> Any:
        return () if obj is None else ("practice", "token_prefix", "created_at", "recent_calls")

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
            after_hours_message=data["after_hours_message"],
            name=data["name"],
            allowed_ips=data["allowed_ips"],
        )
        _adopt(obj, workflow)
        _show_url_once(request, workflow, token)

    @admin.action(
        description="Regenerate the token (shows the new URL once; the old URL stops working)",
        permissions=["change"],
    )
    def regenerate_token(
        self, request: HttpRequest, queryset: QuerySet[CallToTextWorkflow]
    ) -> None:
        for workflow in queryset.select_related("practice"):
            token = call_to_text_token_regenerate(workflow=workflow)
            self.log_change(request, workflow, "Regenerated the token.")
            _show_url_once(request, workflow, token)

    @admin.display(description="recent calls (practice's local time)")
    def recent_calls(self, obj: CallToTextWorkflow) -> str:
        calls = list(obj.calls.order_by("-created_at")[:RECENT_CALLS_SHOWN])
        if not calls:
            return "None yet."
        tz = obj.practice.tz
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    call.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),
                    format_us_phone(call.caller),
                    call.get_outcome_display(),
                    call.error_code or ("after hours" if call.after_hours else ""),
                    call.client_ip or "",
                )
                for call in calls
            ),
        )
        return format_html(
            "<table><thead><tr><th>at</th><th>caller</th><th>outcome</th><th>detail</th>"
            "<th>from address</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Read-only: what a client's retries were answered with (support can see whether a retry
    was a replay). Rows are made by the API and purged after a day."""

    internal = True

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


# --- Outbound webhooks ----------------------------------------------------------------------------


class _DeliveryHealthFilter(admin.SimpleListFilter):
    title = "health"
    parameter_name = "health"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("failing", "Failing (retrying or gave up)"),
            ("disabled", "Endpoint disabled"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "failing":
            return queryset.filter(
                Q(status=WebhookDelivery.Status.FAILED)
                | Q(status=WebhookDelivery.Status.PENDING, attempt_count__gt=0)
            )
        if self.value() == "disabled":
            return queryset.filter(
                Q(status=WebhookDelivery.Status.DISABLED) | Q(endpoint__is_enabled=False)
            )
        return queryset


class WebhookAttemptInline(ScopedAdminMixin, admin.TabularInline):
    model = WebhookAttempt
    enterprise_path = "delivery__api_client__enterprise_id"
    enterprise_admin_can = VIEW_ONLY
    extra = 0
    can_delete = False
    fields = (
        "number",
        "started_at",
        "duration_ms",
        "status_code",
        "succeeded",
        "error",
        "response_excerpt",
    )
    readonly_fields = fields
    ordering = ("number",)

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ObjectActionsMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Every webhook sent to integrators, with each attempt: what the receiver answered and
    when the next try is due. "Redeliver" sends one again, with the same webhook-id."""

    list_display = (
        "created_at",
        "event_type",
        "api_client",
        "endpoint_state",
        "status",
        "attempt_count",
        "last_status_code",
        "next_attempt_at",
    )
    list_filter = (_DeliveryHealthFilter, "status", "event_type", "api_client")
    enterprise_path = "api_client__enterprise_id"
    enterprise_admin_can = VIEW_ONLY
    list_select_related = ("api_client", "endpoint")
    search_fields = ("=id", "=message__id")
    date_hierarchy = "created_at"
    actions = ["redeliver"]
    object_actions = {"redeliver": "Redeliver"}
    inlines = [WebhookAttemptInline]
    fields = (
        "webhook_id",
        "event_type",
        "api_client",
        "endpoint",
        "url",
        "message",
        "message_status",
        "error_code",
        "sequence",
        "occurred_at",
        "status",
        "attempt_count",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
        "created_at",
        "body",
    )
    readonly_fields = fields

    @admin.display(description="webhook-id")
    def webhook_id(self, obj: WebhookDelivery) -> str:
        return obj.webhook_id

    @admin.display(description="endpoint")
    def endpoint_state(self, obj: WebhookDelivery) -> str:
        if obj.endpoint is None:
            return "—"
        return "enabled" if obj.endpoint.is_enabled else "DISABLED"

    @admin.action(description="Redeliver (same webhook-id, fresh retry schedule)")
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        queued = busy = 0
        for delivery in queryset:
            if webhook_delivery_redeliver(delivery=delivery):
                self.log_change(request, delivery, "Queued for redelivery.")
                queued += 1
            else:
                busy += 1
        messages.success(request, f"{queued} delivery(ies) queued for redelivery.")
        if busy:
            messages.warning(
                request, f"{busy} delivery(ies) are being attempted right now: not queued again."
            )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Where each client's webhooks go. A disabled endpoint gets nothing until enabled here."""

    list_display = (
        "url",
        "api_client",
        "is_enabled",
        "disabled_reason",
        "disabled_at",
        "failing_since",
        "last_success_at",
    )
    list_filter = ("is_enabled", "disabled_reason", "api_client")
    list_select_related = ("api_client",)
    search_fields = ("url", "api_client__name")
    enterprise_path = "api_client__enterprise_id"
    enterprise_admin_can = VIEW_ONLY
    actions = ["enable", "disable"]
    fields = (*list_display, "created_at")
    readonly_fields = fields

    @admin.action(description="Enable the selected endpoints")
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            webhook_endpoint_enable(endpoint=endpoint)
        messages.success(
            request,
            "Enabled. Deliveries that were not sent meanwhile can be redelivered from the "
            "deliveries list (filter: endpoint disabled).",
        )

    @admin.action(description="Disable the selected endpoints")
    def disable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            webhook_endpoint_disable(endpoint=endpoint, reason=WebhookEndpoint.DisabledReason.ADMIN)
        messages.success(request, "Disabled.")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


# --- The OAuth library's tables ---------------------------------------------------------------


def _internal_oauth_admins() -> None:
    """django-oauth-toolkit's applications, tokens and grants are bookkeeping behind the API
    clients above (which make and delete them): platform superusers only."""
    for model in [m for m in admin.site._registry if m._meta.app_label == "oauth2_provider"]:
        registered = admin.site._registry.get(model)
        if registered is None or isinstance(registered, ScopedAdminMixin):
            continue
        admin.site.unregister(model)
        internal = type(
            f"Internal{type(registered).__name__}",
            (ScopedAdminMixin, type(registered)),
            {"internal": True},
        )
        admin.site.register(model, internal)


_internal_oauth_admins()
