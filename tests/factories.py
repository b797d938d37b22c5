"""factory-boy factories for the domain. Numbers come from a sequence of valid US numbers."""

from __future__ import annotations

import datetime
import secrets
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from oauth2_provider.models import AccessToken

from channels_app.models import Patient, PatientChannel, PatientPhone
from messaging.models import Message
from practices.models import Enterprise, Line, Membership, Practice, QuickResponse

TEST_PASSWORD = "correct-horse-battery-staple"


def us_number(n: int) -> str:
    """A valid US number that differs per `n` (818 area code, 555 exchange)."""
    return f"+1818555{n % 10000:04d}"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password(TEST_PASSWORD)


class EnterpriseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enterprise

    name = factory.Sequence(lambda n: f"Health System {n}")


class PracticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Practice

    enterprise = factory.SubFactory(EnterpriseFactory)
    name = factory.Sequence(lambda n: f"Clinic {n}")
    kind = Practice.Kind.CLINIC
    timezone = "America/New_York"


class LineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Line

    practice = factory.SubFactory(PracticeFactory)
    name = factory.Sequence(lambda n: f"Line {n}")
    phone_number = factory.Sequence(lambda n: f"+1213555{n % 10000:04d}")
    is_default = True


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    practice = factory.SubFactory(PracticeFactory)
    role = Membership.Role.STAFF


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    enterprise = factory.SubFactory(EnterpriseFactory)
    mrn = factory.Sequence(lambda n: f"MRN{n:06d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = datetime.date(1980, 1, 1)
    is_verified = True


class PatientPhoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PatientPhone

    patient = factory.SubFactory(PatientFactory)
    number = factory.Sequence(us_number)


class PatientChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PatientChannel

    line = factory.SubFactory(LineFactory)
    practice = factory.SelfAttribute("line.practice")
    patient = None
    phone = factory.Sequence(us_number)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    channel = factory.SubFactory(PatientChannelFactory)
    practice = factory.SelfAttribute("channel.practice")
    line = factory.SelfAttribute("channel.line")
    patient = factory.SelfAttribute("channel.patient")
    direction = Message.Direction.OUTBOUND
    from_number = factory.LazyAttribute(lambda m: m.line.phone_number.as_e164)
    to_number = factory.LazyAttribute(lambda m: m.channel.phone.as_e164)
    body = "Your appointment is tomorrow at 9:00."
    sender_kind = Message.SenderKind.STAFF


class QuickResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QuickResponse

    practice = factory.SubFactory(PracticeFactory)
    topic = "Scheduling"
    text = "Please call us to reschedule."


# --- Added for the admin tests. Models are named by label so the imports above stay as they are.


class PracticeLocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "practices.PracticeLocation"

    practice = factory.SubFactory(PracticeFactory)
    enterprise = factory.SelfAttribute("practice.enterprise")
    location_id = factory.Sequence(lambda n: f"DEP{n:05d}")


class PracticeHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "practices.PracticeHours"

    practice = factory.SubFactory(PracticeFactory)
    weekday = 0
    opens_at = datetime.time(9, 0)
    closes_at = datetime.time(17, 0)


class AfterHoursTranslationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "practices.AfterHoursTranslation"

    practice = factory.SubFactory(PracticeFactory)
    language = "es"
    message = "Estamos cerrados. Le responderemos mañana."


class HolidayFactory(factory.django.DjangoModelFactory):
    """An enterprise-wide holiday unless `practice` (and `line`) are given."""

    class Meta:
        model = "practices.Holiday"

    enterprise = factory.SubFactory(EnterpriseFactory)
    practice = None
    line = None
    date = datetime.date(2030, 12, 25)
    name = "Christmas"


class SmartPhraseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "practices.SmartPhrase"

    enterprise = factory.SubFactory(EnterpriseFactory)
    owner = None
    name = factory.Sequence(lambda n: f"phrase{n}")
    text = "See you soon."


class MessageStatusChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "messaging.MessageStatusChange"

    message = factory.SubFactory(MessageFactory)
    status = "received"
    at = factory.LazyFunction(lambda: datetime.datetime.now(tz=datetime.UTC))


class OptOutFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "messaging.OptOut"

    line = factory.SubFactory(LineFactory)
    phone = factory.Sequence(lambda n: us_number(n + 5000))
    keyword = "STOP"


def access_token_create(
    *,
    application: Any,
    scope: str = "messages:send messages:read",
    expires_in: datetime.timedelta = datetime.timedelta(hours=1),
) -> tuple[AccessToken, str]:
    """A token stored as the token endpoint stores it (hashed); returns it and its bearer value.
    For expired tokens, or tokens of an application without an API client."""
    raw = secrets.token_urlsafe(24)
    token = AccessToken(application=application, scope=scope, expires=timezone.now() + expires_in)
    token._raw_token = raw  # DOT derives token_checksum from it and stores no plaintext
    token.token = ""
    token.save()
    return token, raw
