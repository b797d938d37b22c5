"""Scenario (g): the inbox at scale.

`inbox_seed` fills the current (PostgreSQL) database with one practice's worth of history, by
COPY: 100,000 conversations and 1,000,000 messages by default, spread over six months, as the
product's own write paths would have left them (see `inbox_seed` for what "as" covers). The
staff member it creates then opens `/inbox/` and a busy thread like anyone else.

`inbox_query_counts` is how many SQL queries each inbox page costs that staff member: it must
not grow with the data, so the same numbers come out of a tiny seed and of the full one.

    DJANGO_SETTINGS_MODULE=artera.settings DATABASE_URL=postgres://… \\
        python -m bench.inbox --channels 100000 --messages 1000000

prints one JSON object: `inbox_seed`'s result plus `query_counts`. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

ENTERPRISE_NAME = "Inbox Bench Health"
PRACTICE_NAME = "Inbox Bench Clinic"
LINE_NUMBER = "+13125550199"
STAFF_USERNAME = "bench-inbox-staff"
DEFAULT_PASSWORD = "bench-inbox-password"  # noqa: S105 - a benchmark login, not a secret
COLLEAGUES = [
    ("bench-inbox-dana", "Dana", "Reyes"),
    ("bench-inbox-sam", "Sam", "Okafor"),
    ("bench-inbox-lee", "Lee", "Nguyen"),
    ("bench-inbox-ari", "Ari", "Cohen"),
]
HORIZON = datetime.timedelta(days=180)
# The thread page of this channel opens on its latest 50 messages; older ones load on demand.
BUSY_CHANNEL_MESSAGES = 300
# A few much longer conversations (a shared phone, a chronic patient) once the seed is large.
HEAVY_CHANNEL_MESSAGES = (3000, 1200)

_FIRST_NAMES = """
James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara
Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy
Matthew Betty Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Andrew Emily Paul
Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy
Stephanie Ronald Rebecca Jason Laura Edward Sharon Jeffrey Cynthia Ryan Kathleen Jacob Amy
Gary Angela Nicholas Shirley Eric Anna Jonathan Brenda Stephen Pamela Larry Emma Justin
Nicole Scott Helen Brandon Samantha Benjamin Katherine Samuel Christine Gregory Debra
Alexander Rachel Frank Carolyn Patrick Janet Raymond Catherine Jack Maria Dennis Heather
Jerry Diane Tyler Ruth Aaron Julie Jose Olivia Adam Joyce Nathan Virginia Henry Victoria
Douglas Kelly Zachary Lauren Peter Christina Kyle Joan Ethan Evelyn Walter Judith Noah
Megan Jeremy Andrea Christian Cheryl Keith Hannah Roger Jacqueline Terry Martha Gerald
Gloria Harold Teresa Sean Ann Austin Sara Carl Madison Arthur Frances Lawrence Kathryn
Dylan Janice Jesse Jean Jordan Abigail Bryan Alice Billy Judy Joe Sophia Bruce Grace
Gabriel Denise Logan Amber Albert Doris Willie Marilyn Alan Danielle Juan Beverly Wayne
Isabella Elijah Theresa Randy Diana Roy Natalie Vincent Brittany Ralph Charlotte Eugene
Marie Russell Kayla Bobby Alexis Mason Lori Philip Ana Luis Camila Mateo Lucia Ngoc Minh
Wei Jin Priya Arjun Fatima Omar Yusuf Aisha Hiroshi Yuki Soo-ah Min-jun Dmitri Olga
"""
FIRST_NAMES = _FIRST_NAMES.split()
_LAST_NAMES = """
Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White
Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres
Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts
Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales
Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos
Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes
Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry
Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales Fisher Vasquez Simmons
Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West
Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro
Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry
Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez
Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd
Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols
Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce
Vazquez Hansen Peters Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong
Hudson Carroll Lane Riley Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston
Matthews Pena Richards Contreras Willis Carpenter Lawrence Sandoval Guerrero George
Chapman Rios Estrada Ortega Watkins Greene Nunez Wheeler Valdez Harper Burke Larson
Santiago Maldonado Morrison Franklin Carlson Austin Dominguez Carr Lawson Jacobs O'Brien
Lynch Singh Vega Bishop Montgomery Oliver Jensen Harvey Williamson Gilbert Dean Sims
Espinoza Howell Li Wong Reid Hanson Le McCoy Garrett Burton Fuller Wang Weber Welch Rojas
Lucas Marquez Fields Park Yang Little Banks Padilla Day Walsh Bowman Schultz Luna Fowler
"""
LAST_NAMES = _LAST_NAMES.split()
# Area codes and exchanges of the patients' numbers (10,000 numbers each).
PHONE_BLOCKS = [
    (area, exchange)
    for exchange in ("234", "347", "482", "629", "730", "864", "975", "268", "391", "457")
    for area in ("213", "310", "404", "415", "503", "646", "702", "713", "818", "917")
]

STAFF_TEXTS = (
    "Hi {first}, this is the front desk at {practice}. Your results are ready; please call us "
    "when you can.",
    "Thanks {first}! We moved your appointment to Tuesday at 10:30 AM.",
    "You're welcome. Let us know if anything changes.",
    "Dr. Patel reviewed your message and recommends keeping your current dose. Call us if the "
    "symptoms get worse.",
    "We received your form, thank you.",
    "Please bring your insurance card and a photo ID to your visit.",
    "Can you confirm your date of birth so we can pull up your chart?",
    "Your prescription was sent to the pharmacy on file.",
    "We have an opening tomorrow at 2:15 PM with Dr. Kim. Would that work for you?",
    "Hi {first}, the referral to cardiology was approved. They will call you within a week to "
    "schedule. If you don't hear from them, text us here and we'll follow up for you.",
)
API_TEXTS = (
    "Reminder: you have an appointment at {practice} on {day} at 9:40 AM. Reply C to confirm "
    "or call us to reschedule.",
    "Your lab results are available in the patient portal.",
    "{practice}: it's time to schedule your annual physical. Reply to this text or call us.",
    "Hi {first}, please complete your pre-visit questionnaire before {day}.",
)
AUTOMATION_TEXTS = (
    "Thanks for your message. Our office is closed right now; we'll reply on the next business "
    "day. For emergencies call 911.",
    "Thanks! We got your message and will get back to you shortly.",
)
CALL_TO_TEXT_TEXT = "Hi, this is {practice}. We saw you called: text us here instead of waiting."
CALL_TO_TEXT_MESSAGE = "Hi, this is Inbox Bench Clinic. Text us here instead of waiting on hold."
INBOUND_TEXTS = (
    "Yes",
    "C",
    "Thank you!",
    "Can I reschedule to next week?",
    "What time is my appointment?",
    "I need a refill on my blood pressure medication",
    "Ok 👍",
    "Running 10 minutes late, sorry",
    "Who is this?",
    "Is the clinic open on Saturday?",
    "I still have a fever since yesterday, should I come in?",
    "Got it, thanks",
    "My insurance changed, do you need the new card?",
    "Can you send the results to my other doctor too? Her fax is 555-0142.",
    "Thanks so much, see you then 🙏",
)
NOTE_TEXTS = (
    "Called the patient back, left a voicemail.",
    "@{mention} can you take this one? Insurance question.",
    "Patient prefers texts after 5 PM.",
    "@{mention} FYI the pharmacy confirmed the refill.",
)
SECURE_NOTICE = (
    "Inbox Bench Clinic sent you a secure message. Read it at "
    "https://messaging.example.org/secure/0123456789abcdefghijklmnopqrstuvwxyzABCDEFG/"
)


def log(text: str) -> None:
    print(f"[bench.inbox] {text}", file=sys.stderr, flush=True)


# --- The plan: who talks to whom, when --------------------------------------------------------


@dataclass
class _Org:
    enterprise: Any
    practice: Any
    line: Any
    staff: Any
    members: list[Any]  # the staff member first, then the colleagues
    api_client: Any
    workflow: Any


@dataclass
class _Channel:
    id: uuid.UUID
    kind: str  # "verified" | "patient" (a named, unverified patient) | "bare" | "known"
    phone: str
    patient: int | None  # index into the patients
    known_patient: int | None
    patient_id: uuid.UUID | None
    known_patient_id: uuid.UUID | None
    count: int
    end: float  # epoch seconds of the last message
    # Filled in while its messages are written:
    first_at: float = 0.0
    last_at: float = 0.0
    last_inbound: bool = False
    staff_sent_at: float | None = None  # the seeded staff member's latest reply
    times: list[float] = field(default_factory=list)


@dataclass
class _Patient:
    id: uuid.UUID
    verified: bool
    first: str
    last: str
    phone: str
    mrn: str | None


class _Ids:
    """Reproducible UUIDs (the same plan gives the same rows, run after run)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def __call__(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)


def _counts(rng: random.Random, channels: int, messages: int) -> list[int]:
    """Messages per channel: every channel has one; most have a handful, a few have hundreds
    (a lognormal spread), the first one `BUSY_CHANNEL_MESSAGES` and, in a large seed, two more
    heavy ones."""
    fixed = [min(BUSY_CHANNEL_MESSAGES, messages - (channels - 1))]
    if messages >= 50 * sum(HEAVY_CHANNEL_MESSAGES) and channels > 1 + len(HEAVY_CHANNEL_MESSAGES):
        fixed += list(HEAVY_CHANNEL_MESSAGES)
    rest_channels = channels - len(fixed)
    rest_messages = messages - sum(fixed)
    weights = [rng.lognormvariate(0.0, 1.1) for _ in range(rest_channels)]
    extra = rest_messages - rest_channels  # beyond each channel's first message
    total = sum(weights) or 1.0
    counts = [1 + int(extra * w / total) for w in weights]
    missing = rest_messages - sum(counts)
    for i in rng.sample(range(rest_channels), k=min(missing, rest_channels)) if missing else []:
        counts[i] += 1
    counts[0] += rest_messages - sum(counts)  # whatever rounding left over (rarely any)
    return fixed + counts


def _plan(
    rng: random.Random, ids: _Ids, *, channels: int, messages: int, now: float
) -> tuple[list[_Channel], list[_Patient]]:
    surname_weights = list(
        itertools.accumulate(1.0 / (rank + 12) for rank in range(len(LAST_NAMES)))
    )
    counts = _counts(rng, channels, messages)
    horizon = HORIZON.total_seconds()
    patients: list[_Patient] = []
    plan: list[_Channel] = []
    phone_index = 0

    def phone_next() -> str:
        nonlocal phone_index
        area, exchange = PHONE_BLOCKS[phone_index // 10_000 % len(PHONE_BLOCKS)]
        number = f"+1{area}{exchange}{phone_index % 10_000:04d}"
        phone_index += 1
        return number

    def patient_new(*, verified: bool) -> int:
        n = len(patients)
        patients.append(
            _Patient(
                id=ids(),
                verified=verified,
                first=rng.choice(FIRST_NAMES),
                last=rng.choices(LAST_NAMES, cum_weights=surname_weights)[0],
                phone=phone_next(),
                mrn=f"IB{n:08d}" if verified else None,
            )
        )
        return n

    for i, count in enumerate(counts):
        roll = rng.random()
        kind = "verified" if i < 3 or roll < 0.73 else "patient" if roll < 0.78 else "bare"
        if kind == "bare" and rng.random() < 0.1:
            kind = "known"  # a number the enterprise knows, texting from it unverified
        patient = known = None
        if kind in ("verified", "patient"):
            patient = patient_new(verified=kind == "verified")
            phone = patients[patient].phone
        elif kind == "known":
            known = patient_new(verified=True)  # a patient without a conversation of their own
            phone = patients[known].phone
        else:
            phone = phone_next()
        # Recent conversations are more common than old ones.
        age = horizon * rng.random() ** 1.6
        end = now - max(age, 30.0 + i % 600)
        if i == 0:
            end = now - 90.0  # the busy thread: the patient just wrote
        plan.append(
            _Channel(
                id=ids(),
                kind=kind,
                phone=phone,
                patient=patient,
                known_patient=known,
                patient_id=None if patient is None else patients[patient].id,
                known_patient_id=None if known is None else patients[known].id,
                count=count,
                end=end,
            )
        )
    return plan, patients


# --- Seeding ------------------------------------------------------------------------------------


def inbox_seed(
    *,
    channels: int = 100_000,
    messages: int = 1_000_000,
    password: str,
    random_seed: int = 20_260_101,
) -> dict[str, Any]:
    """Seed one practice's inbox at scale into the current PostgreSQL database (fresh and
    migrated); returns the staff login and the pages to load.

    One enterprise (allowing enterprise-wide patient search), one practice with an active
    default line, the staff member `bench-inbox-staff` (role staff, `password`) and four
    colleagues, an API client and a call-to-text workflow, then `channels` conversations and
    `messages` messages over the last six months. The rows are what the product's write paths
    leave behind: verified patients (MRN, names, a primary phone), named unverified patients,
    bare numbers and known numbers (`known_patient`); each channel's `last_activity_at` is its
    last message's time, its status and `needs_action` follow from its last message (a patient's
    text opens it and asks for action, a reply clears that, staff close it), assignments and
    closings have their `ChannelEvent`s; outbound messages carry their delivery history
    (`MessageStatusChange`), provider ids, segments and, when secure, their `SecureLink`;
    inbound ones come from the patient. The staff member has read some threads (`ChannelRead`,
    always after their own replies), starred a few and has some unread @mentions.
    """
    from django.db import connection, transaction
    from django.utils import timezone

    if connection.vendor != "postgresql":
        raise RuntimeError("inbox_seed needs PostgreSQL (COPY): set DATABASE_URL=postgres://…")
    if messages < channels or channels < 3:
        raise ValueError("Give at least 3 channels and at least one message per channel.")
    started = time.perf_counter()
    rng = random.Random(random_seed)
    ids = _Ids(rng)
    now = timezone.now()
    plan, patients = _plan(rng, ids, channels=channels, messages=messages, now=now.timestamp())
    log(f"planned {channels} channels, {len(patients)} patients ({_since(started)})")
    with transaction.atomic():
        org = _org_create(password=password)
        log(f"organisation and people created ({_since(started)})")
        with connection.cursor() as cursor, _bulk_load(cursor, BULK_TABLES):
            pg = cursor.connection
            # The foreign keys are checked when `_bulk_load` restores them, so the messages can
            # go first: they decide when everything else began.
            secure_links = _messages_copy(pg, org, plan, patients, rng, ids)
            log(f"messages copied ({_since(started)})")
            _patients_copy(pg, org, patients, plan, now=now.timestamp())
            log(f"patients copied ({_since(started)})")
            _history_insert(cursor, org)
            _secure_links_copy(pg, secure_links)
            log(f"status history and secure links ({_since(started)})")
            state = _channels_copy(pg, org, plan, rng, now=now.timestamp())
            log(f"channels, events, reads and stars copied ({_since(started)})")
        log(f"indexes and foreign keys restored ({_since(started)})")
        _notes_create(org, plan, rng, now=now.timestamp())
    log(f"committed ({_since(started)})")
    _analyze()
    log(f"analyzed ({_since(started)})")
    busy = plan[0]
    return {
        "username": STAFF_USERNAME,
        "password": password,
        "enterprise_id": str(org.enterprise.pk),
        "practice_id": str(org.practice.pk),
        "channel_count": channels,
        "message_count": messages,
        "open_count": state["open"],
        "patient_count": len(patients),
        "inbox_path": "/inbox/",
        "thread_path": f"/inbox/channels/{busy.id}/",
        "thread_messages": busy.count,
        "search_q": LAST_NAMES[0],
        "seconds": round(time.perf_counter() - started, 1),
    }


# The tables COPY fills. While it does, their foreign keys and secondary indexes are dropped and
# then made again: checking 1M rows' keys row by row at commit, and growing ten B-trees a row at a
# time, is most of the load otherwise; a re-added constraint validates in one join, an index is
# built sorted. Primary keys and unique constraints stay.
BULK_TABLES = (
    "messaging_message",
    "messaging_messagestatuschange",
    "messaging_securelink",
    "channels_app_patient",
    "channels_app_patientphone",
    "channels_app_patientchannel",
    "channels_app_channelevent",
    "channels_app_channelread",
)


@contextmanager
def _bulk_load(cursor: Any, tables: tuple[str, ...]) -> Iterator[None]:
    """Drop the tables' foreign keys and secondary indexes, and restore them exactly (from
    the catalog's own definitions) when the block ends. Inside the caller's transaction: if
    anything fails, the rollback restores them too."""
    cursor.execute(
        """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
          FROM pg_constraint
         WHERE contype = 'f' AND conrelid = ANY(%s::regclass[])
        """,
        [list(tables)],
    )
    foreign_keys = cursor.fetchall()
    cursor.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
          FROM pg_index i
         WHERE i.indrelid = ANY(%s::regclass[])
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        """,
        [list(tables)],
    )
    indexes = cursor.fetchall()
    # A table with deferred checks still pending cannot be altered: run them now.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    for table, name, _definition in foreign_keys:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
    yield
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
    restores = [definition for _name, definition in indexes] + [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        for table, name, definition in foreign_keys
    ]
    for statement in restores:
        started = time.perf_counter()
        cursor.execute(statement)
        if time.perf_counter() - started > 1.0:
            log(f"  {time.perf_counter() - started:.1f} s: {statement[:90]}")
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's constraints are initially deferred


@contextmanager
def _copy(
    pg: Any, table: str, columns: str, *, queued: bool = False
) -> Iterator[Callable[[Sequence[Any]], None]]:
    """A binary COPY into `table`; `columns` is "name type, …". Yields `write_row`. Binary
    rows cost the client a third of text ones; `queued` sends from a thread, so that the client
    makes the next rows while the server stores the last ones."""
    from psycopg.copy import QueuedLibpqWriter

    pairs = [column.split() for column in columns.split(",")]
    cursor = pg.cursor()
    statement = f"COPY {table} ({', '.join(name for name, _ in pairs)}) FROM STDIN (FORMAT BINARY)"
    with cursor.copy(statement, writer=QueuedLibpqWriter(cursor) if queued else None) as copy:
        copy.set_types([kind for _, kind in pairs])
        yield copy.write_row


def _since(started: float) -> str:
    return f"{time.perf_counter() - started:.1f} s"


def _org_create(*, password: str) -> _Org:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from practices.models import Enterprise, Line, Membership, Practice, QuickResponse
    from webhooks.services import api_client_create, call_to_text_workflow_create

    if Enterprise.objects.filter(name=ENTERPRISE_NAME).exists():
        raise RuntimeError(f"{ENTERPRISE_NAME!r} is already seeded: seed into a fresh database.")
    enterprise = Enterprise.objects.create(
        name=ENTERPRISE_NAME, allow_enterprise_patient_access=True
    )
    practice = Practice.objects.create(
        enterprise=enterprise, name=PRACTICE_NAME, timezone="America/Chicago"
    )
    line = Line.objects.create(
        practice=practice, name="Clinic main line", phone_number=LINE_NUMBER, is_default=True
    )
    User = get_user_model()
    staff = User.objects.create(
        username=STAFF_USERNAME,
        first_name="Morgan",
        last_name="Blake",
        email=f"{STAFF_USERNAME}@example.org",
        password=make_password(password),
    )
    members = [staff]
    for i, (username, first, last) in enumerate(COLLEAGUES):
        colleague = User(
            username=username, first_name=first, last_name=last, email=f"{username}@example.org"
        )
        colleague.set_unusable_password()
        colleague.save()
        Membership.objects.create(
            user=colleague,
            practice=practice,
            role=Membership.Role.MANAGER if i == 0 else Membership.Role.STAFF,
        )
        members.append(colleague)
    Membership.objects.create(user=staff, practice=practice, role=Membership.Role.STAFF)
    QuickResponse.objects.bulk_create(
        QuickResponse(practice=practice, topic=topic, text=text, position=i)
        for i, (topic, text) in enumerate(
            [
                ("Scheduling", "Please call us at your convenience to reschedule."),
                ("Scheduling", "We have openings this week; reply with a day that works."),
                ("Results", "Your results are normal. No follow-up is needed."),
                ("Billing", "!!For billing questions, call 312-555-0100."),
            ]
        )
    )
    api_client = api_client_create(enterprise=enterprise, name="EMR").api_client
    workflow, _token = call_to_text_workflow_create(
        practice=practice, kind="call_to_text", message=CALL_TO_TEXT_MESSAGE, line=line
    )
    return _Org(enterprise, practice, line, staff, members, api_client, workflow)


def _patients_copy(
    pg: Any, org: _Org, patients: list[_Patient], plan: list[_Channel], *, now: float
) -> None:
    # A patient was known a little before their first conversation started.
    first_seen: dict[int, float] = {}
    for channel in plan:
        start = channel.first_at - 60.0
        for index in (channel.patient, channel.known_patient):
            if index is not None:
                first_seen[index] = min(first_seen.get(index, now), start)
    enterprise_id = org.enterprise.pk
    languages = ["en"] * 17 + ["es", "es", "vi"]
    rng = random.Random(len(patients))
    with _copy(
        pg,
        "channels_app_patient",
        "id uuid, created_at timestamptz, updated_at timestamptz, enterprise_id uuid,"
        " mrn varchar, first_name varchar, last_name varchar, date_of_birth date,"
        " preferred_language varchar, is_verified bool, time_zone varchar",
    ) as write:
        for n, patient in enumerate(patients):
            created = _at(first_seen.get(n, now - 86400) - 86400 * rng.random() * 30)
            birth = datetime.date(1930, 1, 1) + datetime.timedelta(days=rng.randrange(32_000))
            write(
                (
                    patient.id,
                    created,
                    created,
                    enterprise_id,
                    patient.mrn,
                    patient.first,
                    patient.last,
                    birth if patient.verified or n % 2 else None,
                    rng.choice(languages),
                    patient.verified,
                    "",  # from the number's area code
                )
            )
    with _copy(
        pg,
        "channels_app_patientphone",
        "patient_id uuid, enterprise_id uuid, number varchar, kind varchar, is_primary bool",
    ) as write:
        for patient in patients:
            write((patient.id, enterprise_id, patient.phone, "mobile", True))


def _messages_copy(
    pg: Any,
    org: _Org,
    plan: list[_Channel],
    patients: list[_Patient],
    rng: random.Random,
    ids: _Ids,
) -> list[list[Any]]:
    """Every channel's messages, oldest first; returns the secure links to store."""
    from psycopg.types.json import Jsonb

    from messaging.secure_links import secure_link_token
    from messaging.segments import segments_count

    segments: dict[str, tuple[int, str]] = {}

    def counted(text: str) -> tuple[int, str]:
        found = segments.get(text)
        if found is None:
            count = segments_count(text)
            found = segments[text] = (count.segments, count.encoding)
        return found

    secure_count = counted(SECURE_NOTICE)
    practice_id, line_id = org.practice.pk, org.line.pk
    line_number = LINE_NUMBER
    staff_id = org.staff.pk
    member_ids = [m.pk for m in org.members]
    api_client_id, workflow_id = org.api_client.pk, org.workflow.pk
    practice_name = org.practice.name
    secure_links: list[list[Any]] = []
    metadata_none = Jsonb({}, dumps=_empty_json)
    columns = (
        "id uuid, created_at timestamptz, channel_id uuid, practice_id uuid, line_id uuid,"
        " patient_id uuid, direction varchar, from_number varchar, to_number varchar, body text,"
        " is_secure bool, segments int2, encoding varchar, status varchar, error_code varchar,"
        " status_changed_at timestamptz, sender_kind varchar, sender_user_id int4,"
        " sender_api_client_id uuid, sender_workflow_id uuid, callback_url varchar,"
        " provider_message_id varchar, metadata jsonb, outbox_due_at timestamptz,"
        " claimed_at timestamptz, send_attempts int2"
    )
    random_ = rng.random
    with _copy(pg, "messaging_message", columns, queued=True) as write:
        for c_index, channel in enumerate(plan):
            patient = patients[channel.patient] if channel.patient is not None else None
            first = patient.first if patient else ""
            secure_ok = patient is not None and patient.verified
            span = min(
                HORIZON.total_seconds() * 0.9,
                60.0 + channel.count * rng.expovariate(1 / 14_400),
            )
            start = channel.end - span
            times = sorted(start + span * random_() for _ in range(channel.count - 1))
            times.append(channel.end)
            for j in range(1, len(times)):  # distinct times: the thread's order is by time
                if times[j] <= times[j - 1] + 0.001:
                    times[j] = times[j - 1] + 0.001
            if times[-1] != channel.end:
                channel.end = times[-1]
            channel.times = times
            inbound = random_() < 0.4
            last_secure_link: list[Any] | None = None
            for j, at in enumerate(times):
                if j:
                    inbound = (not inbound) if random_() < 0.6 else inbound
                if c_index < 3 and j == len(times) - 1:
                    inbound = True  # the heavy threads end with a patient waiting
                created = _at(at)
                if inbound:
                    text = INBOUND_TEXTS[int(random_() * len(INBOUND_TEXTS))]
                    count, encoding = counted(text)
                    write(
                        (
                            ids(),
                            created,
                            channel.id,
                            practice_id,
                            line_id,
                            patient.id if patient else None,
                            "inbound",
                            channel.phone,
                            line_number,
                            text,
                            False,
                            count,
                            encoding,
                            "received",
                            "",
                            created,
                            "patient",
                            None,
                            None,
                            None,
                            "",
                            f"SM{rng.getrandbits(128):032x}",
                            metadata_none,
                            None,
                            None,
                            0,
                        )
                    )
                    channel.last_inbound = True
                    continue
                channel.last_inbound = False
                roll = random_()
                user_id = api_id = workflow = None
                metadata = metadata_none
                if j == 0 and roll < 0.5:
                    kind, template = "api", API_TEXTS[int(random_() * len(API_TEXTS))]
                elif j == 0 and roll < 0.6:
                    kind, template = "call_to_text", CALL_TO_TEXT_TEXT
                elif roll < 0.8:
                    kind, template = "staff", STAFF_TEXTS[int(random_() * len(STAFF_TEXTS))]
                elif roll < 0.9:
                    kind = "automation"
                    template = AUTOMATION_TEXTS[int(random_() * len(AUTOMATION_TEXTS))]
                else:
                    kind, template = "api", API_TEXTS[int(random_() * len(API_TEXTS))]
                if kind == "staff":
                    user_id = member_ids[int(random_() * len(member_ids))]
                    if user_id == staff_id:
                        channel.staff_sent_at = at
                elif kind == "api":
                    api_id = api_client_id
                    metadata = Jsonb({"appointment_id": f"A{c_index:06d}{j:04d}"})
                elif kind == "call_to_text":
                    workflow = workflow_id
                text = template.format(first=first, practice=practice_name, day="Monday")
                secure = secure_ok and kind in ("staff", "api") and random_() < 0.15
                count, encoding = secure_count if secure else counted(text)
                outcome = random_()
                if outcome < 0.93:
                    status, error, sent = "delivered", "", True
                elif outcome < 0.95:
                    status, error, sent = "sent", "", True
                elif outcome < 0.97:
                    status, error, sent = "undelivered", "unreachable", True
                elif outcome < 0.985:
                    status, error, sent = "failed", "carrier_rejected", True
                else:
                    status, error, sent = "failed", "landline", False
                changed = _at(at + 1.0 if status == "sent" else at + 2.0 + 20 * random_())
                claimed = _at(at + 0.05)
                message_id = ids()
                write(
                    (
                        message_id,
                        created,
                        channel.id,
                        practice_id,
                        line_id,
                        patient.id if patient else None,
                        "outbound",
                        line_number,
                        channel.phone,
                        text,
                        secure,
                        count,
                        encoding,
                        status,
                        error,
                        changed,
                        kind,
                        user_id,
                        api_id,
                        workflow,
                        "",
                        f"SM{rng.getrandbits(128):032x}" if sent else None,
                        metadata,
                        _at(at + 120.05),
                        claimed,
                        1,
                    )
                )
                if secure and patient is not None:
                    link = _SecureLinkSeed(nonce=f"{rng.getrandbits(256):064x}")
                    row = [
                        ids(),
                        created,
                        message_id,
                        channel.id,
                        patient.id,
                        _token_hash(secure_link_token(link)),  # type: ignore[arg-type]  # duck-typed link
                        link.nonce,
                        created + datetime.timedelta(days=7),
                        None,
                        _at(at + 600) if random_() < 0.5 and at + 600 < channel.end else None,
                    ]
                    if last_secure_link is not None:
                        last_secure_link[8] = created  # a newer link supersedes the older one
                    secure_links.append(row)
                    last_secure_link = row
            channel.first_at, channel.last_at = times[0], times[-1]
            if c_index and c_index % 20_000 == 0:
                log(f"  {c_index} channels' messages written")
    return secure_links


def _empty_json(_obj: object) -> str:
    return "{}"


@dataclass
class _SecureLinkSeed:
    """What `messaging.secure_links.secure_link_token` reads of a link."""

    nonce: str


def _token_hash(token: str) -> str:
    from artera.secrets import token_hash

    return token_hash(token)


def _history_insert(cursor: Any, org: _Org) -> None:
    """Each outbound message's status history, as `message_status_apply` writes it: stored
    (`received`), handed to the provider (`sent`, when it has a provider id), then the final
    status at `status_changed_at`."""
    cursor.execute(
        """
        INSERT INTO messaging_messagestatuschange (message_id, status, error_code, at)
        SELECT id, 'received', '', created_at FROM messaging_message
         WHERE practice_id = %(practice)s AND direction = 'outbound'
        UNION ALL
        SELECT id, 'sent', '',
               CASE WHEN status = 'sent' THEN status_changed_at
                    ELSE created_at + interval '1 second' END
          FROM messaging_message
         WHERE practice_id = %(practice)s AND direction = 'outbound'
           AND provider_message_id IS NOT NULL
        UNION ALL
        SELECT id, status, error_code, status_changed_at FROM messaging_message
         WHERE practice_id = %(practice)s AND direction = 'outbound'
           AND status IN ('delivered', 'undelivered', 'failed')
        """,
        {"practice": org.practice.pk},
    )


def _secure_links_copy(pg: Any, rows: list[list[Any]]) -> None:
    with _copy(
        pg,
        "messaging_securelink",
        "id uuid, created_at timestamptz, message_id uuid, channel_id uuid, patient_id uuid,"
        " token_hash varchar, nonce varchar, expires_at timestamptz, superseded_at timestamptz,"
        " last_opened_at timestamptz, failed_attempts int2, lockouts int2, code_hash varchar",
    ) as write:
        for row in rows:
            write((*row, 0, 0, ""))


def _channels_copy(
    pg: Any, org: _Org, plan: list[_Channel], rng: random.Random, *, now: float
) -> dict[str, int]:
    """The channels, their staff events, the staff member's reads and stars."""
    practice_id, line_id = org.practice.pk, org.line.pk
    staff_id = org.staff.pk
    member_ids = [m.pk for m in org.members]
    events: list[tuple[Any, ...]] = []
    reads: list[tuple[Any, ...]] = []
    stars: list[tuple[Any, ...]] = []
    open_count = 0
    with _copy(
        pg,
        "channels_app_patientchannel",
        "id uuid, created_at timestamptz, practice_id uuid, line_id uuid, patient_id uuid,"
        " known_patient_id uuid, phone varchar, status varchar, needs_action bool,"
        " assignee_id int4, last_activity_at timestamptz, waiting_since timestamptz",
    ) as write:
        for i, channel in enumerate(plan):
            recent = now - channel.last_at < 7 * 86400
            if channel.last_inbound:
                is_open = rng.random() < (0.85 if recent else 0.25)
            else:
                is_open = rng.random() < (0.2 if recent else 0.04)
            if i < 3:
                is_open = True
            open_count += is_open
            assignee = None
            if i == 0 or rng.random() < 0.15:
                assignee = staff_id if i == 0 or rng.random() < 0.35 else rng.choice(member_ids)
                taken = channel.first_at + (channel.last_at - channel.first_at) * rng.random()
                actor = assignee if rng.random() < 0.6 else rng.choice(member_ids)
                events.append(("assigned", _at(taken), channel.id, actor, assignee))
            if not is_open:
                closed = min(now - 1.0, channel.last_at + rng.uniform(60, 4 * 3600))
                events.append(("closed", _at(closed), channel.id, rng.choice(member_ids), None))
            write(
                (
                    channel.id,
                    _at(channel.first_at - 1.0),
                    practice_id,
                    line_id,
                    channel.patient_id,
                    channel.known_patient_id,
                    channel.phone,
                    "open" if is_open else "closed",
                    is_open and channel.last_inbound,
                    assignee,
                    _at(channel.last_at),
                    # Waiting since the last text when it needs action (the triage sort).
                    _at(channel.last_at) if is_open and channel.last_inbound else None,
                )
            )
            read_at = _read_at(channel, rng, now=now)
            if read_at is not None:
                reads.append((channel.id, staff_id, _at(read_at)))
            if i == 0 or rng.random() < 0.01:
                stars.append((channel.id, staff_id))
    with _copy(
        pg,
        "channels_app_channelevent",
        "kind varchar, created_at timestamptz, channel_id uuid, actor_id int4, subject_id int4,"
        " practice_id uuid",
    ) as write:
        for event in sorted(events, key=lambda e: e[1]):  # ids in time order, as in production
            write((*event, practice_id))
    with _copy(
        pg, "channels_app_channelread", "channel_id uuid, user_id int4, read_at timestamptz"
    ) as write:
        for read in reads:
            write(read)
    with _copy(
        pg, "channels_app_patientchannel_starred_by", "patientchannel_id uuid, user_id int4"
    ) as write:
        for star in stars:
            write(star)
    return {"open": open_count}


def _read_at(channel: _Channel, rng: random.Random, *, now: float) -> float | None:
    """When the staff member last read the thread: never (half the threads), or some time
    after one of its messages, and always after their own latest reply (replying reads it)."""
    if channel.staff_sent_at is None and rng.random() < 0.5:
        return None
    earliest = 0
    if channel.staff_sent_at is not None:
        earliest = channel.times.index(channel.staff_sent_at)
    j = rng.randrange(earliest, len(channel.times))
    if rng.random() < 0.6:
        j = len(channel.times) - 1  # read it all
    return min(now, channel.times[j] + rng.uniform(0.5, 120))


def _notes_create(org: _Org, plan: list[_Channel], rng: random.Random, *, now: float) -> None:
    """Internal notes in a few threads (the busy one too); those that @mention the staff member
    notify them, the latest ten still unread."""
    from channels_app.models import InternalNote, Notification

    colleagues = org.members[1:]
    notes: list[Any] = []
    chosen = [plan[0], *rng.sample(plan[1:], k=max(1, len(plan) // 100))]
    for channel in chosen:
        for _ in range(rng.randint(1, 3)):
            at = channel.first_at + (channel.last_at - channel.first_at) * rng.random()
            template = rng.choice(NOTE_TEXTS)
            notes.append(
                InternalNote(
                    channel_id=channel.id,
                    author=rng.choice(colleagues),
                    body=template.format(mention=STAFF_USERNAME),
                    created_at=_at(at),
                )
            )
    notes.sort(key=lambda note: note.created_at)
    created = InternalNote.objects.bulk_create(notes)
    mentions = [note for note in created if f"@{STAFF_USERNAME}" in note.body]
    Notification.objects.bulk_create(
        Notification(
            user=org.staff,
            kind=Notification.Kind.MENTION,
            channel_id=note.channel_id,
            note=note,
            created_at=note.created_at,
            read_at=None
            if n >= len(mentions) - 10
            else min(_at(now), note.created_at + datetime.timedelta(hours=1)),
        )
        for n, note in enumerate(mentions)
    )


def _analyze() -> None:
    """Fresh statistics (and, outside a transaction, the visibility map that index-only scans
    need), as autovacuum would leave a database that has been running for a while."""
    from django.db import connection

    tables = [
        "channels_app_patient",
        "channels_app_patientphone",
        "channels_app_patientchannel",
        "channels_app_patientchannel_starred_by",
        "channels_app_channelevent",
        "channels_app_channelread",
        "channels_app_internalnote",
        "channels_app_notification",
        "messaging_message",
        "messaging_messagestatuschange",
        "messaging_securelink",
    ]
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"{command} {table}")


def _at(epoch: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC)


# --- Query counts -------------------------------------------------------------------------------


def inbox_query_counts(seed: dict[str, Any]) -> dict[str, int]:
    """The SQL queries each inbox page costs the seeded staff member (`seed` as returned by
    `inbox_seed`: `username`, `thread_path`, `search_q`), counted on a second visit: the first
    one creates the per-user rows (read marks, presence) that later visits only update.

    Keys: `inbox`, `inbox?status=all`, `inbox?q=…`, `inbox_live_unchanged` (the poll's 204),
    `inbox_live_changed` (the poll re-rendering the list), `thread`, `thread_live_unchanged`,
    `thread_live_changed`.
    """
    import re

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    user = get_user_model().objects.get(username=seed["username"])
    client = Client()
    counts: dict[str, int] = {}

    def measure(name: str, path: str, expect: int = 200) -> str:
        client.get(path)  # warm-up
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        if response.status_code != expect:
            raise RuntimeError(f"GET {path}: {response.status_code}, expected {expect}")
        counts[name] = len(queries.captured_queries)
        return response.content.decode()

    def stamp(html: str, element: str) -> str:
        found = re.search(rf'id="{element}"[^>]*since=([0-9a-f]+)', html)
        if found is None:
            raise RuntimeError(f"No poll stamp in #{element}")
        return found.group(1)

    with override_settings(ALLOWED_HOSTS=["testserver"]):
        client.force_login(user)
        page = measure("inbox", "/inbox/")
        measure("inbox?status=all", "/inbox/?status=all")
        measure(f"inbox?q={seed['search_q']}", f"/inbox/?q={seed['search_q']}")
        since = stamp(page, "channel-list")
        measure("inbox_live_unchanged", f"/inbox/live/?status=open&since={since}", expect=204)
        measure("inbox_live_changed", "/inbox/live/?status=open&since=0")
        thread = measure("thread", seed["thread_path"])
        since = stamp(thread, "timeline")
        live = f"{seed['thread_path']}live/"
        measure("thread_live_unchanged", f"{live}?since={since}", expect=204)
        measure("thread_live_changed", f"{live}?since=0")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description="Seed the inbox at scale (scenario g).")
    parser.add_argument("--channels", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "artera.settings")
    import django

    django.setup()
    result = inbox_seed(channels=args.channels, messages=args.messages, password=args.password)
    result["query_counts"] = inbox_query_counts(result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
