"""STOP / START / HELP: handled before routing, in any case with spaces around, per line, for
every patient on the number, with exactly one confirmation per keyword text."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from artera.errors import Refused
from channels_app.models import PatientChannel
from messaging.keywords import KEYWORDS, Keyword
from messaging.models import Message, OptOut
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
from tests.factories import MessageFactory, PatientChannelFactory, PatientFactory

pytestmark = pytest.mark.django_db

PHONE = "+18185550101"
OPT_OUT_WORDS = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]


def text(line: Line, body: str, *, sid: str = "SM1", from_: str = PHONE) -> Message:
    return message_receive_inbound(
        to=line.phone_number.as_e164, from_=from_, body=body, provider_message_id=sid
    )


def replies(line: Line, phone: str = PHONE) -> list[Message]:
    return list(
        Message.objects.filter(
            line=line, to_number=phone, direction="outbound", sender_kind="automation"
        ).order_by("created_at")
    )


def variants(word: str) -> list[str]:
    return [word, word.lower(), word.capitalize(), f"  {word.lower()} ", f"\t{word}\n"]


def test_the_keyword_lists_are_the_issues() -> None:
    assert sorted(w for w, k in KEYWORDS.items() if k is Keyword.OPT_OUT) == sorted(OPT_OUT_WORDS)
    assert sorted(w for w, k in KEYWORDS.items() if k is Keyword.OPT_IN) == ["START", "UNSTOP"]
    assert sorted(w for w, k in KEYWORDS.items() if k is Keyword.HELP) == ["HELP", "INFO"]


@pytest.mark.parametrize("word", OPT_OUT_WORDS)
def test_every_opt_out_word_in_any_case_and_spacing(line: Line, word: str) -> None:
    for i, body in enumerate(variants(word)):
        OptOut.objects.all().delete()
        message = text(line, body, sid=f"SM-{word}-{i}")
        opt_out = OptOut.objects.get(line=line, phone=PHONE)
        assert opt_out.keyword == word
        assert message.body == body, "the keyword text is stored as the patient typed it"
        assert message.channel.messages.filter(pk=message.pk).exists()
    # One confirmation per keyword text, although the number was opted out from the second on.
    confirmations = replies(line)
    assert len(confirmations) == len(variants(word))
    for confirmation in confirmations:
        assert line.practice.name in confirmation.body
        assert "Reply START" in confirmation.body
        assert "Msg & data rates may apply" in confirmation.body
        assert confirmation.sender_kind == "automation"


@pytest.mark.parametrize("word", ["START", "UNSTOP"])
def test_opt_in_words_undo_the_opt_out(line: Line, word: str) -> None:
    for i, body in enumerate(variants(word)):
        OptOut.objects.create(line=line, phone=PHONE, keyword="STOP")
        text(line, body, sid=f"SM-{word}-{i}")
        assert not OptOut.objects.exists()
    assert len(replies(line)) == len(variants(word))
    assert all("Msg & data rates may apply" in m.body for m in replies(line))
    message_send(to=ToNumber(line.practice, PHONE), sender=Staff(), body="Welcome back")


@pytest.mark.parametrize("word", ["HELP", "INFO"])
def test_help_words_answer_with_help(line: Line, word: str) -> None:
    for i, body in enumerate(variants(word)):
        text(line, body, sid=f"SM-{word}-{i}")
    assert not OptOut.objects.exists()
    answers = replies(line)
    assert len(answers) == len(variants(word))
    for answer in answers:
        assert line.practice.name in answer.body
        assert "STOP" in answer.body
        assert "START" in answer.body
        assert "Msg & data rates may apply" in answer.body


def test_help_reaches_an_opted_out_number(line: Line) -> None:
    OptOut.objects.create(line=line, phone=PHONE, keyword="STOP")
    text(line, "help")
    assert len(replies(line)) == 1
    assert OptOut.objects.filter(line=line, phone=PHONE).exists()


@pytest.mark.parametrize("body", ["stop it", "Please STOP", "STOP.", "stopp", "START NOW", ""])
def test_other_texts_are_not_keywords(line: Line, body: str) -> None:
    text(line, body)
    assert not OptOut.objects.exists()
    assert replies(line) == []


def test_opt_out_is_per_line(make_line: Callable[..., Line]) -> None:
    line = make_line()
    other = make_line(practice=line.practice, is_default=False)
    text(line, "STOP")

    with pytest.raises(Refused) as caught:
        message_send(to=ToNumber(line.practice, PHONE, line=line), sender=Api(), body="Hi")
    assert caught.value.code == "recipient_opted_out"
    message_send(to=ToNumber(line.practice, PHONE, line=other), sender=Api(), body="Hi")


def test_opt_out_covers_every_patient_on_the_number(line: Line) -> None:
    enterprise = line.practice.enterprise
    john = PatientChannelFactory(
        line=line, phone=PHONE, patient=PatientFactory(enterprise=enterprise)
    )
    mary = PatientChannelFactory(
        line=line, phone=PHONE, patient=PatientFactory(enterprise=enterprise)
    )
    MessageFactory(channel=john)
    MessageFactory(channel=mary)

    stop = text(line, "Stop")

    assert stop.channel in (john, mary)
    assert len(replies(line)) == 1, "one confirmation, not one per patient"
    for channel in (john, mary):
        with pytest.raises(Refused):
            message_send(to=ToChannel(channel), sender=Staff(), body="Reminder")
        with pytest.raises(Refused):
            message_send(
                to=ToNumber(line.practice, PHONE, patient=channel.patient), sender=Api(), body="x"
            )


def test_ordinary_sends_stay_refused_only_keyword_replies_pass(line: Line) -> None:
    text(line, "STOP")
    for sender in (Automation(), Staff(), Api(), CallToText(), Smapi()):
        with pytest.raises(Refused):
            message_send(to=ToNumber(line.practice, PHONE), body="x", sender=sender)
    # Only an automation names a kind: a staff "keyword reply" cannot be written.
    with pytest.raises(TypeError):
        Staff(kind="keyword_reply")  # type: ignore[call-arg]
    assert Automation(Message.Kind.KEYWORD_REPLY).confirms_opt_out
    assert not Automation(Message.Kind.AUTO_REPLY).confirms_opt_out


def test_a_retried_keyword_webhook_confirms_once(line: Line) -> None:
    first = text(line, "STOP", sid="SMsame")
    again = text(line, "STOP", sid="SMsame")
    assert first.pk == again.pk
    assert len(replies(line)) == 1
    assert Message.objects.filter(direction="inbound").count() == 1


def test_the_keyword_text_is_in_the_conversation_for_staff(line: Line) -> None:
    channel = PatientChannelFactory(line=line, phone=PHONE, status="closed")
    MessageFactory(channel=channel)

    stop = text(line, "stop")

    channel.refresh_from_db()
    assert stop.channel == channel
    assert (channel.status, channel.needs_action) == (PatientChannel.Status.OPEN, True)
    bodies = [m.body for m in channel.messages.order_by("created_at")]
    assert bodies[-2] == "stop"
    assert "unsubscribed" in bodies[-1]
