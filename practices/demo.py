"""Demo data: one command gives a person trying the product a whole enterprise to click through.

`demo_enterprise_seed` is idempotent for one name: a second run finds every object and creates
nothing. Credentials are derived from SECRET_KEY and the enterprise name, so a re-run can print the
same logins and secrets although only their hashes are stored (and a production SECRET_KEY makes
them unguessable). Another name makes an independent enterprise with its own numbers and users.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from artera.phones import format_us_phone
from artera.secrets import demo_secret, token_hash
from channels_app.models import Patient, PatientChannel, PatientPhone
from messaging.models import InboundAutomation, Message, MessageStatus, MessageStatusChange
from webhooks.models import ApiClient, CallToTextWorkflow, SmapiKey
from webhooks.services import (
    api_client_create,
    call_to_text_url,
    call_to_text_workflow_create,
    smapi_key_create,
)

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
)

DEFAULT_NAME = "Acme Health"
CLINIC_NAME = "Primary Care Clinic"
CALL_CENTER_NAME = "Patient Access Call Center"
ONE_WAY_NAME = "Appointment Reminders"
API_CLIENT_NAME = "Demo EMR"
SMAPI_KEY_NAME = "Demo legacy integration"

CLINIC_AFTER_HOURS = (
    "Thanks for texting {practiceName}. We're closed right now and will reply when we open "
    "(Mon-Fri 8am-5pm). If this is an emergency, call 911."
)
CLINIC_AFTER_HOURS_ES = (
    "Gracias por escribir a {practiceName}. Estamos cerrados y responderemos cuando abramos "
    "(lun-vie 8am-5pm). Si es una emergencia, llame al 911."
)
CALL_TO_TEXT_MESSAGE = (
    "Hi! This is {practiceName}. You asked to continue by text instead of waiting on hold: "
    "reply here and our team will answer shortly."
)
ABANDONED_CALL_MESSAGE = (
    "Sorry we missed your call to {practiceName}. Reply to this text and our team will help "
    "you here, or call us back at {linePhone}."
)
ONE_WAY_REPLY = (
    "This number sends reminders only and is not monitored. To reach {enterpriseName}, call or "
    "text {clinic} at {phone}."
)
# The call center's quick responses: the "Common Quick Responses" of the Call-to-Text setup
# article, each in English and Spanish (unverified callers have no language preference, so both
# are offered). `!!` sends them unsecured; `{enterpriseName}` stands for "[Health System Name]".
CALL_CENTER_QUICK_RESPONSES: list[tuple[str, str, str]] = [
    ("DOB Request", "en", "!!May I have the date of birth please?"),
    ("DOB Request", "es", "!!Me permite la fecha de nacimiento por favor?"),
    ("Est Patient or New Patient?", "en", "!!Have you been seen at {enterpriseName} before?"),
    ("Est Patient or New Patient?", "es", "!!¿Ha sido visto en {enterpriseName} antes?"),
    ("Insurance Request", "en", "!!What type of Insurance do you have?"),
    ("Insurance Request", "es", "!!Qué tipo de seguro tiene?"),
]
# The clinic's own.
CLINIC_QUICK_RESPONSES: list[tuple[str, str, str]] = [
    ("Scheduling", "en", "We can help you schedule. What days and times work best for you?"),
    ("Scheduling", "es", "Podemos ayudarle a programar una cita. ¿Qué días y horas le convienen?"),
    ("Billing", "en", "!!For billing questions, please call our billing office at {linePhone}."),
    ("Billing", "es", "!!Para preguntas de facturación, llame a nuestra oficina al {linePhone}."),
    ("Directions", "en", "!!We are at 100 Main Street, 2nd floor. Parking is free."),
    (
        "Directions",
        "es",
        "!!Estamos en 100 Main Street, segundo piso. El estacionamiento es gratis.",
    ),
    ("Lab results", "en", "Your results are ready. Would you like a call from your care team?"),
    ("Lab results", "es", "Sus resultados están listos. ¿Desea una llamada de su equipo médico?"),
]
# (first, last, date of birth, phone slot, language). Slot 0 is a family phone shared by two.
PATIENTS: list[tuple[str, str, datetime.date, int, str]] = [
    ("John", "Smith", datetime.date(1979, 4, 12), 0, "en"),
    ("Mary", "Smith", datetime.date(1982, 9, 30), 0, "en"),
    ("Carlos", "Rivera", datetime.date(1968, 2, 3), 1, "es"),
    ("Linda", "Chen", datetime.date(1991, 11, 21), 2, "en"),
]


@dataclass(frozen=True)
class _Numbers:
    """The phone numbers an enterprise's demo uses: the clinic's and the call center's lines,
    the patients' phones, and the one-way line."""

    lines: list[str]
    patients: list[str]
    one_way: str


# The platform superuser every demo enterprise's seed prints (the same one for all of them).
PLATFORM_SUPERUSER = "platform-admin"


def _numbers_for(name: str) -> _Numbers:
    """Numbers that differ per enterprise name and are free of other lines.

    Each name gets a block of ten numbers in the fictional 555-01xx.. range of area code 617,
    chosen by hashing the name and moving on while a block's line numbers are taken.
    """
    start = int(hashlib.sha256(name.encode()).hexdigest(), 16) % 900
    for step in range(900):
        block = (start + step) % 900 + 100  # 100..999
        numbers = [f"+1617{block:03d}{i:04d}" for i in range(10)]
        if not Line.objects.filter(phone_number__in=numbers[:2]).exists():
            return _Numbers(lines=numbers[:2], patients=numbers[2:5], one_way=numbers[5])
    raise RuntimeError("No free demo numbers left.")


def _secret(name: str, what: str, length: int = 32) -> str:
    return demo_secret(purpose=f"seed_demo:{name}:{what}", length=length)


@transaction.atomic
def demo_enterprise_seed(*, name: str = DEFAULT_NAME) -> dict[str, Any]:
    """Create (or find) the demo enterprise called `name`; return DESIGN.md's JSON shape."""
    name = name.strip() or DEFAULT_NAME
    enterprise = Enterprise.objects.filter(name=name).first()
    if enterprise is None:
        enterprise = Enterprise.objects.create(
            name=name,
            allow_enterprise_patient_access=True,
            url_shortening=Enterprise.UrlShortening.OFF,
        )
        numbers = _numbers_for(name)
    else:
        numbers = _existing_numbers(enterprise) or _numbers_for(name)
    slug = slugify(name) or "demo"

    clinic = _seed_clinic(enterprise, slug, numbers.lines[0])
    call_center = _seed_call_center(enterprise, numbers.lines[1])
    _seed_quick_responses(clinic, CLINIC_QUICK_RESPONSES)
    _seed_quick_responses(call_center, CALL_CENTER_QUICK_RESPONSES)
    one_way = _seed_one_way(enterprise, numbers.one_way, clinic)
    users = _seed_users(name, slug, clinic, call_center, one_way)
    patients = _seed_patients(enterprise, numbers.patients)
    _seed_conversations(clinic, call_center, patients, numbers.patients)
    api_client = _seed_api_client(name, enterprise)
    smapi_key = _seed_smapi_key(name, enterprise)
    workflows = _seed_call_to_text(name, call_center)

    return {
        "enterprise": {"id": str(enterprise.id), "name": enterprise.name},
        "practices": [_practice_json(p) for p in (clinic, call_center, one_way)],
        "users": users,
        "patients": [_patient_json(p) for p in patients],
        "api_client": api_client,
        "smapi_key": smapi_key,
        "call_to_text": workflows,
    }


def _existing_numbers(enterprise: Enterprise) -> _Numbers | None:
    """The numbers a previous run gave this enterprise (patients' phones share the block)."""
    lines = dict(
        Line.objects.filter(
            practice__enterprise=enterprise,
            practice__name__in=[CLINIC_NAME, CALL_CENTER_NAME],
            is_default=True,
        ).values_list("practice__name", "phone_number")
    )
    if CLINIC_NAME not in lines or CALL_CENTER_NAME not in lines:
        return None
    block = str(lines[CLINIC_NAME])[:-4]
    return _Numbers(
        lines=[str(lines[CLINIC_NAME]), str(lines[CALL_CENTER_NAME])],
        patients=[f"{block}{i:04d}" for i in range(2, 5)],
        one_way=f"{block}0005",
    )


def _seed_clinic(enterprise: Enterprise, slug: str, line_number: str) -> Practice:
    clinic, created = Practice.objects.get_or_create(
        enterprise=enterprise,
        name=CLINIC_NAME,
        defaults={
            "kind": Practice.Kind.CLINIC,
            "timezone": "America/New_York",
            "after_hours_enabled": True,
            "after_hours_message": CLINIC_AFTER_HOURS,
        },
    )
    if not created:
        return clinic
    PracticeLocation.objects.create(practice=clinic, location_id=f"{slug.upper()}-PC-100")
    Line.objects.create(
        practice=clinic, name="Clinic main line", phone_number=line_number, is_default=True
    )
    PracticeHours.objects.bulk_create(
        PracticeHours(
            practice=clinic,
            weekday=day,
            opens_at=datetime.time(8, 0),
            closes_at=datetime.time(17, 0),
        )
        for day in range(5)
    )
    AfterHoursTranslation.objects.create(
        practice=clinic, language="es", message=CLINIC_AFTER_HOURS_ES
    )
    Holiday.objects.create(
        enterprise=enterprise,
        date=datetime.date(timezone.now().year, 12, 25),
        name="Christmas Day",
        repeats_yearly=True,
        message="{practiceName} is closed for the holiday. We'll reply on the next business day.",
    )
    return clinic


def _seed_call_center(enterprise: Enterprise, line_number: str) -> Practice:
    call_center, created = Practice.objects.get_or_create(
        enterprise=enterprise,
        name=CALL_CENTER_NAME,
        defaults={"kind": Practice.Kind.CALL_CENTER, "timezone": "America/New_York"},
    )
    if not created:
        return call_center
    Line.objects.create(
        practice=call_center,
        name="Call center line",
        phone_number=line_number,
        is_default=True,
    )
    PracticeHours.objects.bulk_create(
        PracticeHours(
            practice=call_center,
            weekday=day,
            opens_at=datetime.time(7, 0),
            closes_at=datetime.time(22, 0),
        )
        for day in range(7)
    )
    return call_center


def _seed_quick_responses(practice: Practice, items: list[tuple[str, str, str]]) -> None:
    """Each (topic, language) once: a re-run adds what an older seed lacked, changes nothing."""
    for position, (topic, language, text) in enumerate(items):
        QuickResponse.objects.get_or_create(
            practice=practice,
            topic=topic,
            language=language,
            defaults={"text": text, "position": position},
        )


def _seed_one_way(enterprise: Enterprise, line_number: str, clinic: Practice) -> Practice:
    """A one-way practice: it sends reminders, and an inbound automation answers any reply with
    "not monitored" and closes the conversation, so nobody has to."""
    one_way, created = Practice.objects.get_or_create(
        enterprise=enterprise,
        name=ONE_WAY_NAME,
        defaults={"kind": Practice.Kind.CLINIC, "timezone": "America/New_York", "is_one_way": True},
    )
    if not created:
        return one_way
    Line.objects.create(
        practice=one_way,
        name="Reminders line (not monitored)",
        phone_number=line_number,
        is_default=True,
    )
    clinic_line = clinic.lines.get(is_default=True)
    InboundAutomation.objects.create(
        practice=one_way,
        name="Line not monitored: reply and close",
        condition=InboundAutomation.Condition.ONE_WAY,
        reply=ONE_WAY_REPLY.format(
            enterpriseName="{enterpriseName}",
            clinic=clinic.name,
            phone=format_us_phone(clinic_line.phone_number),
        ),
        close_channel=True,
    )
    return one_way


def _seed_users(
    name: str, slug: str, clinic: Practice, call_center: Practice, one_way: Practice
) -> list[dict[str, Any]]:
    """The enterprise's people, its enterprise administrator, and the platform's superuser
    (one for the whole platform, whichever enterprise's seed made it)."""
    people: list[tuple[str, str, str, str, str, list[Practice]]] = [
        (f"{slug}-manager", "Morgan", "Reyes", "manager", name, [clinic, one_way]),
        (f"{slug}-staff1", "Dana", "Whitfield", "staff", name, [clinic]),
        (f"{slug}-staff2", "Sam", "Okafor", "staff", name, [clinic]),
        (f"{slug}-callcenter", "Priya", "Natarajan", "staff", name, [call_center]),
        (f"{slug}-admin", "Ada", "Admin", "enterprise_admin", name, []),
        (PLATFORM_SUPERUSER, "Root", "Platform", "superuser", "platform", []),
    ]
    user_model = get_user_model()
    result = []
    for username, first, last, role, secret_scope, practices in people:
        password = _secret(secret_scope, f"password:{username.removeprefix(slug + '-')}", 16)
        # Managers and enterprise administrators configure their part in Django admin.
        flags = {
            "is_staff": role in {"superuser", "enterprise_admin", "manager"},
            "is_superuser": role == "superuser",
        }
        user, created = user_model.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@example.org",
                **flags,
            },
        )
        changed = [field for field, value in flags.items() if getattr(user, field) != value]
        if created or not user.check_password(password):
            user.set_password(password)
            changed.append("password")
        for field in changed:
            if field in flags:
                setattr(user, field, flags[field])
        if changed:
            user.save(update_fields=changed)
        for practice in practices:
            Membership.objects.get_or_create(user=user, practice=practice, defaults={"role": role})
        if role == "enterprise_admin":
            EnterpriseAdministrator.objects.update_or_create(
                user=user, defaults={"enterprise": clinic.enterprise}
            )
        result.append(
            {
                "username": username,
                "password": password,
                "role": role,
                "practice_ids": [str(p.id) for p in practices],
            }
        )
    return result


def _seed_patients(enterprise: Enterprise, phones: list[str]) -> list[Patient]:
    patients = []
    for index, (first, last, dob, slot, language) in enumerate(PATIENTS):
        patient, created = Patient.objects.get_or_create(
            enterprise=enterprise,
            mrn=f"MRN{1001 + index}",
            defaults={
                "first_name": first,
                "last_name": last,
                "date_of_birth": dob,
                "preferred_language": language,
                "is_verified": True,
            },
        )
        if created:
            PatientPhone.objects.create(patient=patient, number=phones[slot])
        patients.append(patient)
    return patients


def _seed_conversations(
    clinic: Practice, call_center: Practice, patients: list[Patient], phones: list[str]
) -> None:
    """A few past conversations, so the inbox has something to show on first sign-in.

    These are history, written as the send and inbound paths leave them (delivered outbound,
    received inbound), not new texts: seeding must not text anybody.
    """
    if PatientChannel.objects.filter(practice__in=[clinic, call_center]).exists():
        return
    clinic_line = clinic.lines.get(is_default=True)
    center_line = call_center.lines.get(is_default=True)
    now = timezone.now()
    john, mary, carlos, linda = patients
    # The EMR texted both Smiths on their shared phone (John first, then Mary), and nobody has
    # answered Mary's: the phone's next text is ambiguous, so it gets the shared-phone prompt.
    conversations: list[tuple[Practice, Line, Patient | None, str, list[tuple[str, str]]]] = [
        (
            clinic,
            clinic_line,
            john,
            phones[0],
            [
                ("out", "Hi John, this is Primary Care Clinic. Your visit is Tuesday at 9:30am."),
                ("in", "Thanks! Can I bring my daughter's forms too?"),
            ],
        ),
        (
            clinic,
            clinic_line,
            mary,
            phones[0],
            [
                (
                    "out",
                    "Hi Mary, this is Primary Care Clinic. You're due for your annual physical: "
                    "reply to book a time.",
                )
            ],
        ),
        (
            clinic,
            clinic_line,
            linda,
            phones[2],
            [("out", "Hi Linda, your lab results are ready. Please call us to review them.")],
        ),
        (
            call_center,
            center_line,
            carlos,
            phones[1],
            [
                ("out", "Hola Carlos, le escribe el centro de llamadas. ¿En qué podemos ayudarle?"),
                ("in", "Necesito cambiar mi cita del jueves."),
            ],
        ),
        (
            call_center,
            center_line,
            None,
            "+12125550147",
            [
                (
                    "out",
                    "Sorry we missed your call to Patient Access Call Center. Reply to this "
                    "text and our team will help you here.",
                ),
                ("in", "Hi, I was calling about a prescription refill."),
            ],
        ),
    ]
    for age, (practice, line, patient, phone, texts) in enumerate(conversations):
        started = now - datetime.timedelta(hours=6 * (len(conversations) - age))
        channel = PatientChannel.objects.create(
            practice=practice,
            line=line,
            patient=patient,
            phone=phone,
            needs_action=texts[-1][0] == "in",
            last_activity_at=started + datetime.timedelta(minutes=5 * len(texts)),
            waiting_since=(
                started + datetime.timedelta(minutes=5 * (len(texts) - 1))
                if texts[-1][0] == "in"
                else None
            ),
        )
        # Reminders came from the EMR (MAPI); the call center's first text from its
        # abandoned-call workflow.
        sender = Message.SenderKind.CALL_TO_TEXT if patient is None else Message.SenderKind.API
        for i, (direction, body) in enumerate(texts):
            at = started + datetime.timedelta(minutes=5 * i)
            _seed_message(channel, direction, body, at, sender=sender)


def _seed_message(
    channel: PatientChannel,
    direction: str,
    body: str,
    at: datetime.datetime,
    *,
    sender: Message.SenderKind,
) -> None:
    line_number = channel.line.phone_number.as_e164
    outbound = direction == "out"
    message = Message.objects.create(
        channel=channel,
        practice=channel.practice,
        line=channel.line,
        patient=channel.patient,
        direction=Message.Direction.OUTBOUND if outbound else Message.Direction.INBOUND,
        from_number=line_number if outbound else channel.phone.as_e164,
        to_number=channel.phone.as_e164 if outbound else line_number,
        body=body,
        status=MessageStatus.DELIVERED if outbound else MessageStatus.RECEIVED,
        status_changed_at=at,
        sender_kind=sender if outbound else Message.SenderKind.PATIENT,
    )
    # auto_now_add ignores a value given at creation; history needs its real time.
    Message.objects.filter(pk=message.pk).update(created_at=at)
    if outbound:
        MessageStatusChange.objects.bulk_create(
            MessageStatusChange(
                message=message, status=status, at=at + datetime.timedelta(seconds=s)
            )
            for s, status in enumerate(
                [MessageStatus.RECEIVED, MessageStatus.SENT, MessageStatus.DELIVERED]
            )
        )


def _seed_api_client(name: str, enterprise: Enterprise) -> dict[str, Any]:
    secret = _secret(name, "client_secret", 40)
    api_client = (
        ApiClient.objects.select_related("application")
        .filter(enterprise=enterprise, name=API_CLIENT_NAME)
        .first()
    )
    if api_client is None:
        credentials = api_client_create(
            enterprise=enterprise, name=API_CLIENT_NAME, client_secret=secret
        )
        api_client = credentials.api_client
    application = api_client.application
    if not check_password(secret, application.client_secret):
        # SECRET_KEY changed since the first run: make the printed secret true again.
        application.client_secret = secret
        application.save(update_fields=["client_secret"])
    return {
        "id": str(api_client.id),
        "client_id": application.client_id,
        "client_secret": secret,
        "webhook_secret": api_client.webhook_secret,
        "scopes": api_client.scope_list,
    }


def _seed_smapi_key(name: str, enterprise: Enterprise) -> str:
    key = "smapi_" + _secret(name, "smapi_key", 40)
    row = SmapiKey.objects.filter(enterprise=enterprise, name=SMAPI_KEY_NAME).first()
    if row is None:
        smapi_key_create(enterprise=enterprise, name=SMAPI_KEY_NAME, key=key)
    elif row.key_hash != token_hash(key):
        row.key_hash = token_hash(key)
        row.key_prefix = key[:12]
        row.save(update_fields=["key_hash", "key_prefix"])
    return key


def _seed_call_to_text(name: str, call_center: Practice) -> list[dict[str, Any]]:
    result = []
    for kind, message in (
        (CallToTextWorkflow.Kind.CALL_TO_TEXT, CALL_TO_TEXT_MESSAGE),
        (CallToTextWorkflow.Kind.ABANDONED_CALL, ABANDONED_CALL_MESSAGE),
    ):
        token = _secret(name, f"call_to_text:{kind}", 64)
        workflow = CallToTextWorkflow.objects.filter(
            practice=call_center, kind=kind, language="en"
        ).first()
        if workflow is None:
            workflow, _ = call_to_text_workflow_create(
                practice=call_center, kind=kind, message=message, token=token
            )
        elif workflow.token_hash != token_hash(token):
            workflow.token_hash = token_hash(token)
            workflow.token_prefix = token[:8]
            workflow.save(update_fields=["token_hash", "token_prefix"])
        result.append(
            {
                "id": str(workflow.id),
                "kind": kind.value,
                "practice_id": str(call_center.id),
                "url": call_to_text_url(token),
            }
        )
    return result


def _practice_json(practice: Practice) -> dict[str, Any]:
    return {
        "id": str(practice.id),
        "name": practice.name,
        "kind": practice.kind,
        "location_ids": list(practice.locations.values_list("location_id", flat=True)),
        "timezone": practice.timezone,
        "lines": [
            {"id": str(line.id), "phone": line.phone_number.as_e164}
            for line in practice.lines.order_by("-is_default", "created_at")
        ],
    }


def _patient_json(patient: Patient) -> dict[str, Any]:
    phone = patient.phones.order_by("-is_primary", "id").first()
    return {
        "id": str(patient.id),
        "mrn": patient.mrn,
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "date_of_birth": patient.date_of_birth.isoformat() if patient.date_of_birth else None,
        "phone": phone.number.as_e164 if phone else None,
    }
