"""The shared-phone prompt (MPSP): a number several patients share, when the line has texted more
than one of them, is asked who is texting; the answer routes the held text and the rest of the
conversation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from channels_app.models import Patient, PatientChannel
from messaging import events
from messaging.models import Message, MpspPrompt, OptOut
from messaging.services import (
    Api,
    Staff,
    ToChannel,
    ToNumber,
    message_receive_inbound,
    message_send,
)
from practices.models import Line
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

PHONE = "+18188882222"
# After the practice's name: "Acme Clinic: Please respond …" (`Family.prompt`).
PROMPT = "Please respond with the name or number: (1) John, (2) Mary, (3) (818) 888-2222"


class Family:
    def __init__(self, line: Line):
        enterprise = line.practice.enterprise
        self.line = line
        self.prompt = f"{line.practice.name}: {PROMPT}"
        # Mary first: the prompt's order is by name, not by who was added first.
        self.mary = PatientFactory(enterprise=enterprise, first_name="Mary", last_name="Smith")
        self.john = PatientFactory(enterprise=enterprise, first_name="John", last_name="Smith")
        self.sid = 0

    def text_patient(self, patient: Patient, body: str = "Your visit is tomorrow.") -> Message:
        return message_send(
            to=ToNumber(self.line.practice, PHONE, patient=patient), sender=Api(), body=body
        )

    def channel(self, patient: Patient) -> PatientChannel:
        return PatientChannel.objects.get(line=self.line, patient=patient)

    def texts(self, body: str) -> Message:
        self.sid += 1
        return message_receive_inbound(
            to=self.line.phone_number.as_e164,
            from_=PHONE,
            body=body,
            provider_message_id=f"SM{self.sid}",
        )

    def prompts(self) -> list[str]:
        return list(
            Message.objects.filter(to_number=PHONE, sender_kind="automation", kind="mpsp_prompt")
            .order_by("created_at")
            .values_list("body", flat=True)
        )


@pytest.fixture
def family(line: Line) -> Family:
    family = Family(line)
    family.text_patient(family.john)
    family.text_patient(family.mary)
    return family


@pytest.fixture
def published() -> Iterator[list[events.InboundMessageReceived]]:
    seen: list[events.InboundMessageReceived] = []
    events.on_inbound_message(seen.append)
    yield seen
    events.off_inbound_message(seen.append)


def test_the_prompt_lists_first_names_in_order_then_the_number(family: Family) -> None:
    held = family.texts("Is my appointment still on?")

    assert family.prompts() == [family.prompt]
    prompt = MpspPrompt.objects.get()
    assert prompt.status == "pending"
    assert [o["label"] for o in prompt.options] == ["John", "Mary", "(818) 888-2222"]
    assert held.channel not in (family.channel(family.john), family.channel(family.mary))
    assert held.channel.patient is None
    held.channel.refresh_from_db()
    assert not held.channel.needs_action, "nothing to act on until the patient answers"


@pytest.mark.parametrize(
    ("answer", "who"),
    [("2", "mary"), (" (2) ", "mary"), ("2.", "mary"), ("mary", "mary"), ("MARY SMITH", "mary"),
     ("1", "john"), ("John", "john"), ("john!", "john")],
)  # fmt: skip
def test_the_answer_routes_the_held_text(
    family: Family, answer: str, who: str, published: list[events.InboundMessageReceived]
) -> None:
    held = family.texts("Is my appointment still on?")
    reply = family.texts(answer)

    chosen = family.channel(getattr(family, who))
    held.refresh_from_db()
    reply.refresh_from_db()
    assert held.channel == chosen
    assert held.patient == chosen.patient
    assert reply.channel == chosen, "staff see the prompt and the answer too"
    chosen.refresh_from_db()
    assert chosen.needs_action
    prompt = MpspPrompt.objects.get()
    assert (prompt.status, prompt.chosen_channel, prompt.answer) == (
        "chosen",
        chosen,
        answer.strip(),
    )
    assert prompt.resolved_at is not None
    prompt_text = Message.objects.get(body=family.prompt)
    assert prompt_text.channel == chosen
    # The channel made only to hold the text is gone; nobody else's conversation got anything.
    assert not PatientChannel.objects.filter(line=family.line, patient__isnull=True).exists()
    other = family.channel(family.mary if who == "john" else family.john)
    assert not other.messages.filter(direction="inbound").exists()
    # Published once, for the held text, with the channel it was routed to.
    assert [(e.message.pk, e.channel.pk) for e in published] == [(held.pk, chosen.pk)]


def test_the_rest_of_the_conversation_follows_the_choice(family: Family) -> None:
    family.texts("Hi")
    family.texts("Mary")
    mary = family.channel(family.mary)

    assert family.texts("Can I come at 10?").channel == mary
    message_send(to=ToChannel(mary), sender=Staff(), body="10 works.")
    assert family.texts("Thanks!").channel == mary
    assert family.prompts() == [family.prompt]

    # The line texts John on that number again: who is texting is a question again.
    family.text_patient(family.john, "John, your lab results are ready.")
    family.texts("ok")
    assert family.prompts() == [family.prompt] * 2


def test_an_unclear_answer_reprompts_once_then_falls_back(family: Family) -> None:
    held = family.texts("Is my appointment still on?")
    family.texts("who is this?")
    assert family.prompts() == [family.prompt] * 2
    assert MpspPrompt.objects.get().status == "pending"

    family.texts("Peter")

    assert family.prompts() == [family.prompt] * 2, "only one re-prompt"
    prompt = MpspPrompt.objects.get()
    held.refresh_from_db()
    unverified = PatientChannel.objects.get(line=family.line, phone=PHONE, patient__isnull=True)
    assert (prompt.status, prompt.chosen_channel) == ("fallback", unverified)
    assert held.channel == unverified
    unverified.refresh_from_db()
    assert unverified.needs_action
    assert family.texts("hello?").channel == unverified
    for patient in (family.john, family.mary):
        assert not family.channel(patient).messages.filter(direction="inbound").exists()


def test_a_clear_answer_after_a_reprompt_still_routes(family: Family) -> None:
    held = family.texts("Hi")
    family.texts("huh")
    family.texts("1")
    held.refresh_from_db()
    assert held.channel == family.channel(family.john)


@pytest.mark.parametrize("answer", ["3", "8188882222", "(818) 888-2222"])
def test_choosing_the_number_means_the_unverified_channel(family: Family, answer: str) -> None:
    held = family.texts("Hi")
    family.texts(answer)
    held.refresh_from_db()
    assert held.channel.patient is None
    assert MpspPrompt.objects.get().status == "chosen"


def test_no_prompt_when_only_one_patient_was_texted(line: Line) -> None:
    family = Family(line)
    family.text_patient(family.mary)
    assert family.texts("Hi").channel == family.channel(family.mary)
    assert family.prompts() == []


def test_a_keyword_while_waiting_is_a_keyword(family: Family) -> None:
    family.texts("Hi")
    stop = family.texts("STOP")
    assert OptOut.objects.filter(line=family.line, phone=PHONE).exists()
    assert stop.channel.patient is None
    assert MpspPrompt.objects.get().status == "pending"


def test_an_opted_out_number_is_not_prompted(family: Family) -> None:
    OptOut.objects.create(line=family.line, phone=PHONE, keyword="STOP")
    held = family.texts("Is this still the clinic?")
    assert family.prompts() == []
    assert held.channel.patient is None
    assert MpspPrompt.objects.get().status == "fallback"


def test_a_retried_webhook_is_not_an_answer(family: Family) -> None:
    family.texts("Hi")
    again = message_receive_inbound(
        to=family.line.phone_number.as_e164, from_=PHONE, body="Hi", provider_message_id="SM1"
    )
    assert family.prompts() == [family.prompt]
    assert MpspPrompt.objects.get().status == "pending"
    assert Message.objects.filter(direction="inbound").count() == 1
    assert again.body == "Hi"


@pytest.mark.parametrize("answer", ["²", "①", "\u0662", "(²)", "\uff12"])  # ٢, full-width 2
def test_an_answer_in_other_digits_is_an_unclear_answer(family: Family, answer: str) -> None:
    """Only ASCII digits pick an option: a superscript, circled, Arabic-Indic or full-width digit
    is an unclear answer (one re-prompt), and the text is stored, never lost."""
    held = family.texts("Is my appointment still on?")

    reply = family.texts(answer)

    reply.refresh_from_db()
    assert reply.body == answer
    assert reply.channel == held.channel
    prompt = MpspPrompt.objects.get()
    assert (prompt.status, prompt.answer) == ("pending", answer)
    assert len(family.prompts()) == 2, "an unclear answer gets the prompt once more"
