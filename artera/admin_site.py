"""The admin site: its home (and side bar) grouped the way the product is, not by Django app.

Sections: Organisation, Lines and hours, Messaging, Integrations, Audit, in the order someone
setting up an enterprise works through them; inside a section, the models in the order they are
usually needed. What a section lists still depends on the user's role (each admin class's
`has_module_permission`, `practices/admin_scope.py`): a section with nothing the user may see
is not shown. The platform's internal tables, and any model not placed in a section, go in a
last "Platform internals" section, which only platform superusers ever see (the internal
admins answer no to everyone else).

The per-app pages (`/admin/<app>/`) keep Django's own list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest


@dataclass(frozen=True)
class Section:
    key: str
    name: str
    description: str
    models: tuple[str, ...]  # model labels, in the order shown


SECTIONS = (
    Section(
        "organisation",
        "Organisation",
        "The enterprise, its practices and the people who work in them.",
        (
            "practices.Enterprise",
            "practices.Practice",
            "auth.User",
            "practices.Membership",
            "auth.Group",
        ),
    ),
    Section(
        "lines-and-hours",
        "Lines and hours",
        "The phone numbers patients text, and when each practice is open (weekly hours and "
        "the after-hours message are on the practice's page).",
        ("practices.Line", "practices.Holiday"),
    ),
    Section(
        "messaging",
        "Messaging",
        "What staff send and what happens to patients' texts: quick responses, smart "
        "phrases, automations and opt-outs; then the records of conversations and messages.",
        (
            "practices.QuickResponse",
            "practices.SmartPhrase",
            "messaging.InboundAutomation",
            "messaging.OptOut",
            "channels_app.Patient",
            "channels_app.PatientChannel",
            "messaging.Message",
            "channels_app.InternalNote",
            "messaging.SecureLink",
            "messaging.SecureAccessAttempt",
            "messaging.ShortLink",
            "messaging.MpspPrompt",
            "messaging.AfterHoursReply",
        ),
    ),
    Section(
        "integrations",
        "Integrations",
        "EMR and phone-system connections: API clients (rotate secrets, send a test "
        "webhook), SMAPI keys, call-to-text workflows and the webhooks sent.",
        (
            "webhooks.ApiClient",
            "webhooks.SmapiKey",
            "webhooks.CallToTextWorkflow",
            "webhooks.WebhookDelivery",
            "webhooks.WebhookEndpoint",
        ),
    ),
    Section(
        "audit",
        "Audit",
        "Who opened which conversation and who sent what, and from where (filter, export CSV).",
        (
            "channels_app.AuditLog",
            "axes.AccessAttempt",
            "axes.AccessFailureLog",
            "axes.AccessLog",
        ),
    ),
)
INTERNALS = Section(
    "platform",
    "Platform internals",
    "The platform's own bookkeeping (platform superusers only).",
    (),
)


class ArteraAdminSite(admin.AdminSite):
    site_header = "Artera administration"
    site_title = "Artera admin"
    index_title = "Configuration"

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[Any]:
        if app_label is not None:
            return super().get_app_list(request, app_label)
        entries = {
            entry["model"]._meta.label: entry
            for app in self._build_app_dict(request).values()
            for entry in app["models"]
        }
        sections = []
        for section in SECTIONS:
            models = [
                entries.pop(label)
                for label in section.models
                if label in entries and not self._is_internal(entries[label]["model"])
            ]
            if models:
                sections.append(_section_entry(section, models))
        rest = sorted(entries.values(), key=lambda entry: str(entry["name"]).lower())
        if rest:
            sections.append(_section_entry(INTERNALS, rest))
        return sections

    def _is_internal(self, model: Any) -> bool:
        return bool(getattr(self._registry.get(model), "internal", False))


def _section_entry(section: Section, models: list[dict[str, Any]]) -> dict[str, Any]:
    """A section in the shape Django's templates expect of an app (plus a description)."""
    return {
        "name": section.name,
        "app_label": section.key,
        "app_url": "",
        "has_module_perms": True,
        "models": models,
        "description": section.description,
        "is_section": True,
    }


class ArteraAdminConfig(AdminConfig):
    """`django.contrib.admin` with `ArteraAdminSite` as `admin.site` (in INSTALLED_APPS)."""

    default_site = "artera.admin_site.ArteraAdminSite"
