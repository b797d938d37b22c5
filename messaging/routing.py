"""Which conversation a patient's text belongs to, and the shared-phone prompt (MPSP).

Several patients may share one phone (a family phone). The prompt asks only when the text is
truly ambiguous. Inside the line's practice, a text from a number goes to:

1. **the answered conversation**, when one stands: the conversation of the number's latest
   shared-phone choice or of the latest staff reply at that number, whichever is newer, unless
   the line has since sent a text that expects an answer to another patient's conversation at
   that number;
2. **nobody yet**, when the line's texts that expect an answer (since that choice or staff
   reply, which counts, or ever when there is none) went to two or more patients at that
   number. The text is held, and the patient gets the prompt "Acme Clinic: Please respond with
   the name or number: (1) John, (2) Mary, (3) (818) 888-2222" (first names in a stable order;
   the last option, the number itself, is the unverified channel);
3. the one patient's conversation such a text went to; otherwise the number's most recently
   active channel on the line, or a new unverified channel (which names a known patient when
   the enterprise allows it: `channel_get_or_create`).

"Expects an answer" is `Message.expects_reply`: what people write (staff, the EMR,
call-to-text). Automated notices (security codes, keyword confirmations, after-hours and
automation auto-replies) never make a text ambiguous and never end a standing answer.

Everything here runs inside the inbound transaction, under `inbound_lock` for the line and
number, so two texts from one phone are routed one after the other.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from django.db.models import OuterRef, Subquery

from artera.locks import transaction_lock
from artera.phones import format_us_phone
from channels_app.models import PatientChannel
from channels_app.services import channel_find_for_inbound, channel_get_or_create
from practices.models import Line

from .models import EXPECTS_REPLY_KINDS, Message, MpspPrompt
from .send import Automation, ToChannel, automated_send

PROMPT = "{practice}: Please respond with the name or number: {options}"


def inbound_lock(*, line: Line, phone: str) -> None:
    """Serialize inbound work for one line and number until the transaction ends."""
    transaction_lock(f"inbound:{line.pk}:{phone}")


def mpsp_pending(*, line: Line, phone: str) -> MpspPrompt | None:
    return (
        MpspPrompt.objects.select_related("holding_channel", "held_message")
        .filter(line=line, phone=phone, status=MpspPrompt.Status.PENDING)
        .first()
    )


def number_conversations(*, line: Line, phone: str) -> list[PatientChannel]:
    """The line's conversations at `phone`, each with `asked_at` (when the line last sent it a
    text that expects an answer) and `staff_at` (when staff last wrote in it). One query: a
    number has a handful of conversations, and each annotation is a probe of the
    `message_thread` index."""
    outbound = Message.objects.filter(
        channel=OuterRef("pk"), direction=Message.Direction.OUTBOUND
    ).order_by("-created_at")
    return list(
        PatientChannel.objects.filter(line=line, phone=phone)
        .select_related("patient")
        .annotate(
            asked_at=Subquery(
                outbound.filter(kind__in=EXPECTS_REPLY_KINDS).values("created_at")[:1]
            ),
            staff_at=Subquery(
                outbound.filter(sender_kind=Message.SenderKind.STAFF).values("created_at")[:1]
            ),
        )
    )


@dataclass(frozen=True)
class Answered:
    """A conversation the number has been talking in: chosen at the prompt, or replied in by
    staff, at `at`."""

    channel: PatientChannel
    at: datetime.datetime


def conversation_answered(
    *, line: Line, phone: str, conversations: list[PatientChannel]
) -> Answered | None:
    """Rule 1's candidate: the newer of the number's latest resolved shared-phone choice and
    the latest staff reply in one of `conversations` (from `number_conversations`)."""
    by_id = {channel.pk: channel for channel in conversations}
    found = [
        Answered(channel, channel.staff_at)  # type: ignore[attr-defined]
        for channel in conversations
        if channel.staff_at is not None  # type: ignore[attr-defined]
    ]
    choice = (
        MpspPrompt.objects.filter(line=line, phone=phone, chosen_channel__isnull=False)
        .exclude(status=MpspPrompt.Status.PENDING)
        .order_by("-resolved_at")
        .values_list("chosen_channel_id", "resolved_at")
        .first()
    )
    # A choice of a conversation that has since moved to another number is no longer this
    # number's.
    if choice is not None and choice[0] in by_id and choice[1] is not None:
        found.append(Answered(by_id[choice[0]], choice[1]))
    return max(found, key=lambda answered: answered.at, default=None)


def shared_phone_candidates(
    *, conversations: list[PatientChannel], since: datetime.datetime | None
) -> list[PatientChannel]:
    """The patients' conversations among `conversations` that the line sent a text expecting
    an answer after `since` (ever, when None), in prompt order (first name, last name, then the
    oldest patient first)."""
    asked = [
        channel
        for channel in conversations
        if channel.patient_id is not None
        and channel.asked_at is not None  # type: ignore[attr-defined]
        and (since is None or channel.asked_at > since)  # type: ignore[attr-defined]
    ]
    return sorted(asked, key=_prompt_order)


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
    conversations = number_conversations(line=line, phone=phone)
    answered = conversation_answered(line=line, phone=phone, conversations=conversations)
    candidates = shared_phone_candidates(
        conversations=conversations, since=answered.at if answered is not None else None
    )
    if answered is not None:
        if all(channel.pk == answered.channel.pk for channel in candidates):
            return Route(answered.channel)
        # Someone else was asked since: the answered conversation is one of the candidates.
        if answered.channel.patient_id is not None:
            candidates = sorted({*candidates, answered.channel}, key=_prompt_order)
    if prompt:
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


def mpsp_prompt_text(*, practice_name: str, options: list[dict[str, str]]) -> str:
    """The prompt: the practice's name (who is asking), then the numbered options."""
    return PROMPT.format(
        practice=practice_name,
        options=", ".join(f"({i}) {option['label']}" for i, option in enumerate(options, 1)),
    )


def mpsp_options(
    *, candidates: tuple[PatientChannel, ...], holding: PatientChannel
) -> list[dict[str, str]]:
    """The prompt's options: each patient by first name, then the number itself, as people
    write it ("(818) 888-2222")."""
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
    options.append(
        {
            "label": format_us_phone(holding.phone.as_e164),
            "full_name": "",
            "channel_id": str(holding.pk),
        }
    )
    return options


def mpsp_prompt_send(*, prompt: MpspPrompt) -> Message | None:
    """Text the prompt to the number (from the holding channel); None when the line cannot
    (the number opted out, the line is off)."""

    holding = prompt.holding_channel
    assert holding is not None
    message = automated_send(
        to=ToChannel(holding),
        sender=Automation(Message.Kind.SHARED_PHONE_PROMPT),
        body=mpsp_prompt_text(practice_name=holding.practice.name, options=prompt.options),
        why="shared-phone prompt",
    )
    if message is None:
        return None
    prompt.messages.add(message)
    return message


_PUNCTUATION = re.compile(r"[^\w\s]")
_NOT_ASCII_DIGIT = re.compile(r"[^0-9]")


def mpsp_option_for_answer(options: list[dict[str, str]], answer: str) -> dict[str, str] | None:
    """The option an answer names: its number ("2", "(2)", "2."), a patient's first or full
    name in any case, or the bare number itself; None when unclear (or ambiguous).

    Only ASCII digits are numbers here: "²", "①" or "٢" are digits to Python (`str.isdigit`,
    even `int()` for some) but not an answer anyone means, so they are unclear answers."""
    text = " ".join(_PUNCTUATION.sub(" ", answer).casefold().split())
    if not text:
        return None
    digits = text.replace(" ", "")
    if digits.isascii() and digits.isdigit():
        if len(digits) <= 2:
            index = int(digits)
            return options[index - 1] if 1 <= index <= len(options) else None
        # The last option is the number itself (older prompts stored it as bare digits).
        bare = _NOT_ASCII_DIGIT.sub("", options[-1]["label"])
        return options[-1] if digits in (bare, "1" + bare) else None
    named = [
        option
        for option in options[:-1]
        if text in (option["label"].casefold(), option["full_name"].casefold())
    ]
    return named[0] if len(named) == 1 else None
