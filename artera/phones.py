"""US phone numbers: the one place that decides what a valid patient or line number is."""

from __future__ import annotations

import functools

import phonenumbers
from django.core.exceptions import ValidationError
from phonenumber_field.phonenumber import PhoneNumber

INVALID_US_NUMBER = (
    "Enter a valid US phone number, e.g. +18185551234, 8185551234 or (818) 555-1234."
)


def normalize_us_phone(raw: str | PhoneNumber | None) -> str:
    """Return the E.164 form of a US number, or raise ValidationError.

    Accepts the forms people and EMRs actually send: `+18185551234`, `18185551234`,
    `8185551234`, `(818) 555-1234`, `818.555.1234`. Rejects other countries (Canada shares +1, so
    the region is checked, not the country code), impossible area codes and letters.
    """
    if isinstance(raw, PhoneNumber):
        raw = raw.as_e164
    return _normalize_text((raw or "").strip())


# Parsing is the costly part of a send's validation (a number is checked by the API's
# serializer and again by the send path), and numbers repeat: remember the recent valid ones.
@functools.lru_cache(maxsize=16384)
def _normalize_text(text: str) -> str:
    if not text or any(ch.isalpha() for ch in text):
        raise ValidationError(INVALID_US_NUMBER, code="invalid_phone")
    try:
        parsed = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(INVALID_US_NUMBER, code="invalid_phone") from exc
    if (
        not phonenumbers.is_valid_number(parsed)
        or phonenumbers.region_code_for_number(parsed) != "US"
    ):
        raise ValidationError(INVALID_US_NUMBER, code="invalid_phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate_us_phone(value: str | PhoneNumber | None) -> None:
    """Model/form field validator form of `normalize_us_phone`."""
    if value in (None, ""):
        return
    normalize_us_phone(value)


def format_us_phone(e164: str | PhoneNumber | None) -> str:
    """`+18185551234` -> `(818) 555-1234`, for people to read."""
    if not e164:
        return ""
    text = e164.as_e164 if isinstance(e164, PhoneNumber) else str(e164)
    try:
        parsed = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        return text
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
