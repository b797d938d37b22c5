"""The shared-phone prompt asks only when a text is truly ambiguous: a choice stands, a staff
reply answers the next text, and automated texts that expect no answer (security codes,
keyword confirmations, after-hours and automation auto-replies) never make a text ambiguous."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest

from channels_app.models import Patient
from messaging.models import InboundAutomation, Message, MpspPrompt
from messaging.services import (
    Api,
    Automation,
    CallToText,
    Smapi,
    Staff,
    ToChannel,
    ToNumber,
    message_receive_inbound,
    message_send,
)
from practices.models import Line
from tests.factories import PracticeFactory, PracticeHoursFactory

from .test_mpsp import PHONE, Family

pytestmark = pytest.mark.django_db

AUTOMATED_KINDS = ["security_code", "keyword_reply", "after_hours", "auto_reply"]


def automated_text(family: Family, patient: Patient, kind: str) -> Message:
    """An automated text of `kind` in the patient's conversation at the shared phone."""
    return message_send(
        to=ToNumber(family.line.practice, PHONE, patient=patient),
        sender=Automation(kind),
        body="An automated notice.",
    )


def staff_reply(family: Family, patient: Patient, body: str = "See you then.") -> Message:
    return message_send(to=ToChannel(family.channel(patient)), sender=Staff(), body=body)


@pytest.fixture
def family(line: Line) -> Family:
    family = Family(line)
    family.text_patient(family.john)
    family.text_patient(family.mary)
    return family


@pytest.mark.parametrize("kind", AUTOMATED_KINDS)
def test_an_automated_text_does_not_make_a_text_ambiguous(line: Line, kind: str) -> None:
    family = Family(line)
    family.text_patient(family.john)
    automated_text(family, family.mary, kind)

    assert family.texts("Thanks").channel == family.channel(family.john)
    assert family.prompts() == []


@pytest.mark.parametrize("kind", AUTOMATED_KINDS)
def test_an_automated_text_to_another_patient_does_not_end_a_choice(
    family: Family, kind: str
) -> None:
    family.texts("Hi")
    family.texts("Mary")
    automated_text(family, family.john, kind)

    assert family.texts("See you at 10").channel == family.channel(family.mary)
    assert family.prompts() == [family.prompt], "asked once"


def test_a_staff_reply_answers_the_next_text(family: Family) -> None:
    staff_reply(family, family.john, "John, can you come in at 10?")

    assert family.texts("Yes").channel == family.channel(family.john)
    assert family.texts("See you").channel == family.channel(family.john)
    assert family.prompts() == []

    # The line asks Mary something: who is texting is a question again.
    family.text_patient(family.mary, "Mary, your prescription is ready.")
    held = family.texts("ok")
    assert family.prompts() == [family.prompt]
    assert held.channel.patient is None


def test_a_staff_reply_in_another_conversation_replaces_a_choice(family: Family) -> None:
    family.texts("Hi")
    family.texts("Mary")
    staff_reply(family, family.john, "John, your lab results are in.")

    assert family.texts("Great, thanks").channel == family.channel(family.john)
    assert family.prompts() == [family.prompt]


def test_a_staff_reply_in_the_chosen_conversation_keeps_the_choice(family: Family) -> None:
    family.texts("Hi")
    family.texts("Mary")
    staff_reply(family, family.mary)
    family.text_patient(family.mary, "Reminder: tomorrow 10am.")

    assert family.texts("Thanks").channel == family.channel(family.mary)
    assert family.prompts() == [family.prompt]


def test_without_a_choice_or_reply_two_patients_asked_is_ambiguous(family: Family) -> None:
    # Two reminders, no answer yet: the prompt, as before.
    assert family.texts("Is this about me?").channel.patient is None
    assert family.prompts() == [family.prompt]
    assert MpspPrompt.objects.get().status == "pending"


def test_the_prompt_names_the_practice_and_formats_the_number(
    make_line: Callable[..., Line],
) -> None:
    family = Family(make_line(practice=PracticeFactory(name="Acme Clinic")))
    family.text_patient(family.john)
    family.text_patient(family.mary)

    family.texts("Hi")

    assert family.prompts() == [
        "Acme Clinic: Please respond with the name or number: "
        "(1) John, (2) Mary, (3) (818) 888-2222"
    ]


@pytest.mark.parametrize("answer", ["3", "(818) 888-2222", "8188882222", "+1 818 888 2222"])
def test_the_formatted_number_is_still_answered_by_digits(family: Family, answer: str) -> None:
    held = family.texts("Hi")
    family.texts(answer)
    held.refresh_from_db()
    assert held.channel.patient is None
    assert MpspPrompt.objects.get().status == "chosen"


def test_a_clear_answer_after_a_non_ascii_one_still_routes(family: Family) -> None:
    held = family.texts("Hi")
    odd = family.texts("²")
    family.texts("2")

    held.refresh_from_db()
    odd.refresh_from_db()
    mary = family.channel(family.mary)
    assert held.channel == mary
    assert odd.channel == mary, "the unclear answer is kept with the exchange"
    assert MpspPrompt.objects.get().status == "chosen"


def test_two_non_answers_fall_back_and_keep_every_text(family: Family) -> None:
    held = family.texts("Hi")
    family.texts("①")
    family.texts("²")

    prompt = MpspPrompt.objects.get()
    assert prompt.status == "fallback"
    bodies = list(
        Message.objects.filter(direction="inbound", channel=prompt.chosen_channel)
        .order_by("created_at")
        .values_list("body", flat=True)
    )
    assert bodies == ["Hi", "①", "²"]
    assert held.pk == prompt.held_message_id


# --- Each automated text says what it is ----------------------------------------------------------


def test_keyword_confirmations_are_marked(line: Line) -> None:
    message_receive_inbound(
        to=line.phone_number.as_e164, from_=PHONE, body="HELP", provider_message_id="SMh"
    )
    reply = Message.objects.get(direction="outbound")
    assert (reply.kind, reply.expects_reply) == ("keyword_reply", False)


def test_after_hours_and_automation_replies_are_marked(make_line: Callable[..., Line]) -> None:
    line = make_line(
        practice=PracticeFactory(after_hours_enabled=True, after_hours_message="We're closed.")
    )
    PracticeHoursFactory(practice=line.practice, weekday=0)
    InboundAutomation.objects.create(
        practice=line.practice,
        name="Thanks",
        condition=InboundAutomation.Condition.ANY_TEXT,
        reply="Thanks for your text.",
    )
    sunday = datetime.datetime(2030, 1, 6, 12, tzinfo=ZoneInfo("America/New_York"))
    message_receive_inbound(
        to=line.phone_number.as_e164,
        from_=PHONE,
        body="Hello",
        provider_message_id="SMa",
        received_at=sunday,
    )
    kinds = dict(Message.objects.filter(direction="outbound").values_list("body", "kind"))
    assert kinds == {"We're closed.": "after_hours", "Thanks for your text.": "auto_reply"}


def test_what_people_write_expects_a_reply(family: Family) -> None:
    reminder = family.text_patient(family.john)
    reply = staff_reply(family, family.john)
    assert (reminder.kind, reminder.expects_reply) == ("conversation", True)
    assert (reply.kind, reply.expects_reply) == ("conversation", True)


def test_only_automations_send_automated_kinds(line: Line) -> None:
    # Only an automation names a kind: the others cannot be written with one.
    for sender in (Staff, Api, CallToText, Smapi):
        with pytest.raises(TypeError):
            sender(kind="security_code")  # type: ignore[call-arg]
    code = message_send(
        to=ToNumber(line.practice, PHONE), sender=Automation("security_code"), body="x"
    )
    assert (code.sender_kind, code.kind) == ("automation", "security_code")
    with pytest.raises(ValueError, match="kind"):
        message_send(to=ToNumber(line.practice, PHONE), sender=Automation("nope"), body="x")
