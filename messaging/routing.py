"""Which conversation a patient's text belongs to, and the shared-phone prompt (MPSP).

Inside the line's practice, a text from a number goes to:

1. the channel a standing MPSP choice names (see `MpspPrompt`): the patient said who they are,
   and the line has not texted anyone else on that number since;
2. when the line has texted two or more patients at that number: nobody yet. The text is held,
   and the patient gets the prompt "Please respond with the name or number: (1) John,
   (2) Mary, (3) 8188882222" (first names in a stable order; the last option, the bare number,
   is the unverified channel);
3. otherwise the number's most recently active channel on the line, or a new unverified channel
   (which names a known patient when the enterprise allows it: `channel_get_or_create`).

Everything here runs inside the inbound transaction, under `inbound_lock` for the line and
number, so two texts from one phone are routed one after the other.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Exists, OuterRef

from artera.errors import ApplicationError
from artera.locks import transaction_lock
from channels_app.models import PatientChannel
from channels_app.services import channel_find_for_inbound, channel_get_or_create
from practices.models import Line

from .models import Message, MpspPrompt

PROMPT = "Please respond with the name or number: {options}"


def inbound_lock(*, line: Line, phone: str) -> None:
    """Serialize inbound work for one line and number until the transaction ends."""
    transaction_lock(f"inbound:{line.pk}:{phone}")


def mpsp_pending(*, line: Line, phone: str) -> MpspPrompt | None:
    return (
        MpspPrompt.objects.select_related("holding_channel", "held_message")
        .filter(line=line, phone=phone, status=MpspPrompt.Status.PENDING)
        .first()
    )


def channel_standing_choice(*, line: Line, phone: str) -> PatientChannel | None:
    """The channel the number's last MPSP answer chose, while it still stands: until the line
    texts that number in another conversation."""
    choice = (
        MpspPrompt.objects.filter(line=line, phone=phone, chosen_channel__isnull=False)
        .exclude(status=MpspPrompt.Status.PENDING)
        .select_related("chosen_channel__patient")
        .order_by("-resolved_at")
        .first()
    )
    if choice is None or choice.chosen_channel is None or choice.resolved_at is None:
        return None
    texted_someone_else = (
        Message.objects.filter(
            line=line,
            to_number=phone,
            direction=Message.Direction.OUTBOUND,
            created_at__gt=choice.resolved_at,
        )
        .exclude(channel_id=choice.chosen_channel_id)
        .exists()
    )
    return None if texted_someone_else else choice.chosen_channel


def shared_phone_candidates(*, line: Line, phone: str) -> list[PatientChannel]:
    """The patients' channels on `line` at `phone` that the line has texted, in prompt order
    (first name, last name, then the oldest patient first)."""
    texted = Message.objects.filter(channel=OuterRef("pk"), direction=Message.Direction.OUTBOUND)
    channels = list(
        PatientChannel.objects.filter(line=line, phone=phone, patient__isnull=False)
        .filter(Exists(texted))
        .select_related("patient")
    )
    return sorted(channels, key=_prompt_order)


def _prompt_order(channel: PatientChannel) -> tuple[str, str, datetime.datetime, str]:
    patient = channel.patient
    assert patient is not None
    return (
        patient.first_name.casefold(),
        patient.last_name.casefold(),
        patient.created_at,
        str(patient.pk),
    )


@dataclass(frozen=True)
class Route:
    """Where a text goes: a `channel`, or, when `candidates` has two or more, nowhere until the
    patient answers the prompt."""

    channel: PatientChannel | None
    candidates: tuple[PatientChannel, ...] = ()


def inbound_route(*, line: Line, phone: str, prompt: bool = True) -> Route:
    """Rules 1 to 3 of the module docstring (with `prompt=False`, rule 2 picks the most recently
    active channel instead, as keywords need)."""
    chosen = channel_standing_choice(line=line, phone=phone)
    if chosen is not None:
        return Route(chosen)
    if prompt:
        candidates = shared_phone_candidates(line=line, phone=phone)
        if len(candidates) >= 2:
            return Route(None, tuple(candidates))
        if len(candidates) == 1:
            return Route(candidates[0])
    channel = channel_find_for_inbound(line=line, phone=phone)
    if channel is None:
        channel = channel_get_or_create(
            practice=line.practice, line=line, phone=phone, patient=None
        )
    return Route(channel)


def unverified_channel(*, line: Line, phone: str) -> PatientChannel:
    return channel_get_or_create(practice=line.practice, line=line, phone=phone, patient=None)


def mpsp_prompt_text(options: list[dict[str, str]]) -> str:
    return PROMPT.format(
        options=", ".join(f"({i}) {option['label']}" for i, option in enumerate(options, 1))
    )


def mpsp_options(
    *, candidates: tuple[PatientChannel, ...], holding: PatientChannel
) -> list[dict[str, str]]:
    """The prompt's options: each patient by first name, then the bare number."""
    options = []
    for channel in candidates:
        patient = channel.patient
        assert patient is not None
        options.append(
            {
                "label": patient.first_name or patient.full_name or "Patient",
                "full_name": patient.full_name,
                "channel_id": str(channel.pk),
            }
        )
    national = holding.phone.as_e164.removeprefix("+1")
    options.append({"label": national, "full_name": "", "channel_id": str(holding.pk)})
    return options


def mpsp_prompt_send(*, prompt: MpspPrompt) -> Message | None:
    """Text the prompt to the number (from the holding channel); None when the line cannot
    (the number opted out, the line is off)."""
    from .services import message_send

    assert prompt.holding_channel is not None
    try:
        with transaction.atomic():
            message = message_send(
                channel=prompt.holding_channel,
                body=mpsp_prompt_text(prompt.options),
                sender_kind=Message.SenderKind.AUTOMATION,
            )
    except ApplicationError:
        return None
    prompt.messages.add(message)
    return message


_PUNCTUATION = re.compile(r"[^\w\s]")


def mpsp_option_for_answer(options: list[dict[str, str]], answer: str) -> dict[str, str] | None:
    """The option an answer names: its number ("2", "(2)", "2."), a patient's first or full
    name in any case, or the bare number itself; None when unclear (or ambiguous)."""
    text = " ".join(_PUNCTUATION.sub(" ", answer).casefold().split())
    if not text:
        return None
    digits = re.sub(r"\D", "", answer)
    if text.replace(" ", "").isdigit():
        if len(digits) <= 2:
            index = int(digits)
            return options[index - 1] if 1 <= index <= len(options) else None
        bare = options[-1]["label"]
        return options[-1] if digits in (bare, "1" + bare) else None
    named = [
        option
        for option in options[:-1]
        if text in (option["label"].casefold(), option["full_name"].casefold())
    ]
    return named[0] if len(named) == 1 else None
