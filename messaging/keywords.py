"""STOP / START / HELP: the carrier keywords, handled before a text is routed anywhere else.

A text is a keyword when, ignoring case and surrounding spaces, it is exactly one of the words
below. Opting out is per line and covers every patient on the number (an `OptOut` row is keyed
by line and phone, and the send path refuses that pair). Each keyword text gets exactly one
confirmation, even when the number was already opted out: the confirmation goes through the
send path's door for automated texts as `Automation(Message.Kind.KEYWORD_REPLY)`, the one narrow
way past the opt-out refusal.
"""

from __future__ import annotations

import enum

from channels_app.models import PatientChannel
from practices.models import Line

from .models import Message, OptOut
from .schedule import messages_cancel_for_opt_out
from .send import Automation, ToChannel, automated_send


class Keyword(enum.StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


KEYWORDS: dict[str, Keyword] = {
    **dict.fromkeys(
        ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"),
        Keyword.OPT_OUT,
    ),
    **dict.fromkeys(("START", "UNSTOP"), Keyword.OPT_IN),
    **dict.fromkeys(("HELP", "INFO"), Keyword.HELP),
}

# Smart phrases are filled in by the send path.
CONFIRMATIONS: dict[Keyword, str] = {
    Keyword.OPT_OUT: (
        "{practiceName}: You have been unsubscribed and will get no more texts from this "
        "number. Reply START to opt back in. Msg & data rates may apply."
    ),
    Keyword.OPT_IN: (
        "{practiceName}: You are subscribed to texts from this number again. Reply HELP for "
        "help, STOP to opt out. Msg & data rates may apply."
    ),
    Keyword.HELP: (
        "{practiceName}: For help, call us at {linePhone}. Reply STOP to opt out, START to opt "
        "back in. Msg & data rates may apply."
    ),
}


def keyword_parse(body: str) -> tuple[Keyword, str] | None:
    """The keyword `body` is (and the word as the patient typed it, upper-cased), or None."""
    word = body.strip().upper()
    kind = KEYWORDS.get(word)
    return (kind, word) if kind is not None else None


def keyword_apply(
    *, keyword: Keyword, word: str, line: Line, phone: str, channel: PatientChannel
) -> Message | None:
    """Act on a keyword text from `phone` to `line` and send its one confirmation (returned;
    None when the line cannot send, e.g. it is switched off). Must run inside the inbound
    transaction."""

    if keyword is Keyword.OPT_OUT:
        OptOut.objects.get_or_create(line=line, phone=phone, defaults={"keyword": word})
        # What was scheduled for the number must not go after it said STOP.
        messages_cancel_for_opt_out(line_id=line.pk, phone=phone)
    elif keyword is Keyword.OPT_IN:
        OptOut.objects.filter(line=line, phone=phone).delete()
    # Through the door for automated texts: a refused confirmation (the line is off) must not
    # roll back the opt-out above, nor the keyword text it answers.
    return automated_send(
        to=ToChannel(channel),
        sender=Automation(Message.Kind.KEYWORD_REPLY),
        body=CONFIRMATIONS[keyword],
        why=f"{keyword} confirmation",
    )
