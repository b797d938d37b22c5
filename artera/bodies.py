"""The rules a text's body follows, written once.

The API's serializers, the inbox's reply form and the send path all ask `body_problem`, so a
body is refused with the same code and words wherever it was typed: `empty_body` for nothing
but whitespace, `body_too_long` past `MAX_BODY_LENGTH` characters (counted as stored, after
the inbox's `!!` prefix is removed, before smart phrases are filled in; the send path checks
the filled-in text again).
"""

from __future__ import annotations

from artera.errors import InvalidInput

MAX_BODY_LENGTH = 1600

# A reply starting with this goes as plain SMS, never as a secure message; it is not sent.
PLAIN_SMS_PREFIX = "!!"
# The composer's `maxlength`: the longest text plus the prefix.
COMPOSER_MAX_LENGTH = MAX_BODY_LENGTH + len(PLAIN_SMS_PREFIX)


def body_problem(body: object, *, field: str = "body") -> InvalidInput | None:
    """What is wrong with `body` as a text to send, or None."""
    if not isinstance(body, str) or not body.strip():
        return InvalidInput("Write the text to send.", code="empty_body", field=field)
    if len(body) > MAX_BODY_LENGTH:
        return InvalidInput(
            f"A text can be at most {MAX_BODY_LENGTH} characters (this one has {len(body)}).",
            code="body_too_long",
            field=field,
        )
    return None


def body_check(body: object, *, field: str = "body") -> None:
    """Raise `body_problem`'s InvalidInput, if there is one."""
    problem = body_problem(body, field=field)
    if problem is not None:
        raise problem


def reply_text(body: str) -> tuple[str, bool]:
    """A staff reply as it will be sent, and whether it asked for plain SMS (`!!`)."""
    text = body.strip()
    if text.startswith(PLAIN_SMS_PREFIX):
        return text[len(PLAIN_SMS_PREFIX) :].lstrip(), True
    return text, False
