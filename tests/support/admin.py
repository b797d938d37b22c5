"""Helpers of the admin tests: one row of every registered model (`make_world`), admin URLs,
and a reader of an admin form's current values (`form_data`)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from channels_app.models import (
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
from messaging.models import (
    AfterHoursReply,
    InboundAutomation,
    Message,
    MpspPrompt,
    OptOut,
    SecureAccessAttempt,
    SecureLink,
    ShortLink,
    SimulatorNumber,
    SimulatorText,
)
from messaging.secure_links import secure_link_prepare, secure_link_save
from practices.models import (
    AfterHoursTranslation,
    Enterprise,
    Holiday,
    Line,
    Membership,
    Practice,
    PracticeHours,
    PracticeLocation,
    QuickResponse,
    SmartPhrase,
)
from tests.factories import (
    AfterHoursTranslationFactory,
    HolidayFactory,
    LineFactory,
    MembershipFactory,
    MessageFactory,
    MessageStatusChangeFactory,
    OptOutFactory,
    PatientChannelFactory,
    PatientFactory,
    PatientPhoneFactory,
    PracticeFactory,
    PracticeHoursFactory,
    PracticeLocationFactory,
    QuickResponseFactory,
    SmartPhraseFactory,
    UserFactory,
)
from webhooks.models import (
    ApiClient,
    CallToTextWorkflow,
    IdempotencyKey,
    SmapiKey,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from webhooks.services import api_client_create, call_to_text_workflow_create, smapi_key_create

OUR_APPS = {"practices", "channels_app", "messaging", "webhooks"}
REGISTERED = sorted(admin.site._registry, key=lambda m: m._meta.label)
OURS = [m for m in REGISTERED if m._meta.app_label in OUR_APPS]


def label(model: type[Model]) -> str:
    return model._meta.label


# --- Helpers --------------------------------------------------------------------------------


def make_world() -> dict[type[Model], Model]:
    """One object of each of our models, all related the way production data is."""
    practice = PracticeFactory()
    enterprise = practice.enterprise
    line = LineFactory(practice=practice)
    user = UserFactory()
    patient = PatientFactory(enterprise=enterprise)
    phone = PatientPhoneFactory(patient=patient)
    channel = PatientChannelFactory(line=line, patient=patient, phone=phone.number, assignee=user)
    channel.starred_by.add(user)
    message = MessageFactory(channel=channel)
    MessageStatusChangeFactory(message=message)
    HolidayFactory(enterprise=enterprise)
    HolidayFactory(enterprise=enterprise, practice=practice, name="Staff day")
    line_holiday = HolidayFactory(enterprise=enterprise, practice=practice, line=line, name="Move")
    SmartPhraseFactory(enterprise=enterprise)
    return {
        Enterprise: enterprise,
        Practice: practice,
        PracticeLocation: PracticeLocationFactory(practice=practice),
        PracticeHours: PracticeHoursFactory(practice=practice),
        AfterHoursTranslation: AfterHoursTranslationFactory(practice=practice),
        Line: line,
        Holiday: line_holiday,
        Membership: MembershipFactory(user=user, practice=practice),
        QuickResponse: QuickResponseFactory(practice=practice),
        SmartPhrase: SmartPhraseFactory(enterprise=enterprise, owner=user),
        Patient: patient,
        PatientPhone: phone,
        PatientChannel: channel,
        Message: message,
        OptOut: OptOutFactory(line=line),
        ApiClient: (api_client := api_client_create(enterprise=enterprise, name="Epic").api_client),
        IdempotencyKey: IdempotencyKey.objects.create(
            api_client=api_client,
            key=f"order-{message.pk}",
            request_fingerprint="0" * 64,
            response_status=202,
            response_body={"id": str(message.pk), "status": "received"},
        ),
        SmapiKey: smapi_key_create(enterprise=enterprise, name="Legacy")[0],
        **_webhook_records(api_client=api_client, message=message),
        CallToTextWorkflow: call_to_text_workflow_create(
            practice=practice, line=line, kind="call_to_text", message="Text us here."
        )[0],
        ShortLink: ShortLink.objects.create(
            code=f"c{message.pk.hex[:10]}",  # type: ignore[attr-defined]
            target_url="https://portal.example.org/visit",
            enterprise=enterprise,
            message=message,
        ),
        SimulatorNumber: SimulatorNumber.objects.get_or_create(
            number="+18185550999", defaults={"kind": SimulatorNumber.Kind.LANDLINE}
        )[0],
        InboundAutomation: InboundAutomation.objects.create(
            practice=practice,
            name="Not monitored",
            condition=InboundAutomation.Condition.ONE_WAY,
            reply="This number is not monitored.",
            close_channel=True,
            assign_to=user,
        ),
        MpspPrompt: _mpsp_prompt(line=line, channel=channel, message=message),
        AfterHoursReply: AfterHoursReply.objects.create(
            channel=channel,
            message=message,
            sent_at=message.created_at,  # type: ignore[attr-defined]
        ),
        **_inbox_records(channel=channel, user=user, message=message),
        **_secure_records(message=message),
        SimulatorText: SimulatorText.objects.create(
            direction=SimulatorText.Direction.TO_PATIENT,
            from_number=message.from_number,  # type: ignore[attr-defined]
            to_number=message.to_number,  # type: ignore[attr-defined]
            body=message.body,  # type: ignore[attr-defined]
            client_reference=str(message.pk),
        ),
    }


def _webhook_records(*, api_client: ApiClient, message: Any) -> dict[type[Model], Model]:
    endpoint = WebhookEndpoint.objects.create(
        api_client=api_client, url="https://emr.example.org/hooks"
    )
    delivery = WebhookDelivery.objects.create(
        api_client=api_client,
        endpoint=endpoint,
        url=endpoint.url,
        event_type=WebhookDelivery.EventType.MESSAGE_STATUS,
        message=message,
        message_status="sent",
        sequence=1,
        occurred_at=message.created_at,
        body='{"type":"message.status"}',
        attempt_count=1,
    )
    WebhookAttempt.objects.create(
        delivery=delivery, number=1, started_at=message.created_at, status_code=500
    )
    return {WebhookEndpoint: endpoint, WebhookDelivery: delivery}


def _inbox_records(*, channel: PatientChannel, user: Any, message: Any) -> dict[type[Model], Model]:
    note = InternalNote.objects.create(channel=channel, author=user, body="Call back @root")
    return {
        ChannelEvent: ChannelEvent.objects.create(
            channel=channel, practice=channel.practice, kind="assigned", actor=user, subject=user
        ),
        InternalNote: note,
        Notification: Notification.objects.create(user=user, channel=channel, note=note),
        AuditLog: AuditLog.objects.create(
            user=user, action="message_sent", channel_id=channel.pk, message_id=message.pk
        ),
        ChannelPresence: ChannelPresence.objects.create(channel=channel, user=user),
        ChannelRead: ChannelRead.objects.create(channel=channel, user=user),
    }


def _secure_records(*, message: Any) -> dict[type[Model], Model]:
    link = secure_link_save(link=secure_link_prepare(), message=message)
    attempt = SecureAccessAttempt.objects.create(
        link=link, kind="dob", outcome="wrong", ip_address="203.0.113.9", user_agent="Phone"
    )
    return {SecureLink: link, SecureAccessAttempt: attempt}


def _mpsp_prompt(*, line: Line, channel: PatientChannel, message: Any) -> MpspPrompt:
    prompt = MpspPrompt.objects.create(
        line=line,
        phone=channel.phone.as_e164,
        options=[{"label": "John", "full_name": "John Smith", "channel_id": str(channel.pk)}],
        holding_channel=channel,
        held_message=message,
    )
    prompt.messages.add(message)
    return prompt


def admin_url(model: type[Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


class _FormReader(HTMLParser):
    """Reads the fields of the admin's change form the way a browser would submit them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.data: dict[str, list[str]] = {}
        self._in_form = False
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._textarea: str | None = None
        self._text = ""

    def _add(self, name: str, value: str) -> None:
        if "__prefix__" not in name:
            self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id", "").endswith("_form"):
            self._in_form = True
        if not self._in_form or "disabled" in a:
            return
        name = a.get("name", "")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in {"checkbox", "radio"}:
                if "checked" in a:
                    self._add(name, a.get("value") or "on")
            elif kind not in {"submit", "button", "file", "image", "reset"}:
                self._add(name, a.get("value", ""))
        elif tag == "select" and name:
            self._select, self._select_first, self._select_chosen = name, None, False
            self._multiple = "multiple" in a
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in a:
                self._add(self._select, value)
                self._select_chosen = True
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "select" and self._select:
            if not self._select_chosen and not self._multiple and self._select_first is not None:
                self._add(self._select, self._select_first)
            self._select = None
        elif tag == "textarea" and self._textarea:
            self._add(self._textarea, self._text.removeprefix("\r\n").removeprefix("\n"))
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self._text += data


def form_data(client: Client, url: str) -> dict[str, Any]:
    """GET an admin add/change page and return what submitting it unchanged would POST."""
    response = client.get(url)
    assert response.status_code == 200
    reader = _FormReader()
    reader.feed(response.content.decode())
    return {k: v if len(v) > 1 else v[0] for k, v in reader.data.items()}


def add_inline_row(data: dict[str, Any], prefix: str, **fields: Any) -> None:
    index = int(data[f"{prefix}-TOTAL_FORMS"])
    for name, value in fields.items():
        data[f"{prefix}-{index}-{name}"] = value
    data[f"{prefix}-TOTAL_FORMS"] = str(index + 1)


def errors_of(response: Any) -> str:
    """The page's error text, whitespace collapsed, for readable assertions."""
    assert response.status_code == 200, response.status_code
    return " ".join(response.content.decode().split())


def only_secret_shown(response: Any) -> list[str]:
    return re.findall(r"<code>([^<]+)</code>", response.content.decode())
